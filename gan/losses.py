"""GAN losses and regularizers as pure functions of discriminator logits.

Every loss takes the discriminator's raw *logits* (the sigmoid lives here, not in the model) and
returns the batch mean as a scalar. Probabilities are never formed and then logged: all
log-probabilities go through `jax.nn.log_sigmoid` / `softplus`, which are exact and finite for any
finite logit (``log(sigmoid(x))`` underflows to ``-inf`` for ``x < -88`` in float32).

Names say what each loss is, because libraries disagree on what "minimax" means:

* ``saturating``: Goodfellow et al.'s minimax game as written. D maximises
  ``E[log D(x)] + E[log(1 - D(G(z)))]``; G *minimises* ``E[log(1 - D(G(z)))]``.
* ``non_saturating``: the same D loss; G minimises ``-E[log D(G(z))]`` (same fixed point, strong
  gradients when D confidently rejects the samples, i.e. early in training).
* ``least_squares``: LSGAN (Mao et al. 2017), a-b-c = 0-1-1 coding.
* ``hinge``: Lim & Ye 2017; Miyato et al. 2018.
* ``wasserstein``: WGAN critic loss (Arjovsky et al. 2017); pair with `gradient_penalty`.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

LOSS_KINDS = ("saturating", "non_saturating", "least_squares", "hinge", "wasserstein")


def _check_kind(kind: str) -> None:
  if kind not in LOSS_KINDS:
    raise ValueError(
        f"Unknown GAN loss kind {kind!r}; valid kinds are: {', '.join(LOSS_KINDS)}.")


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array, kind: str) -> jax.Array:
  """Discriminator (critic) loss to *minimise*, averaged over the batch.

  Args:
    real_logits: D's logits on real data, any shape.
    fake_logits: D's logits on generated data, any shape.
    kind: one of `LOSS_KINDS`.

  Returns:
    A scalar. For ``saturating``/``non_saturating`` it is the binary cross-entropy
    ``-E[log D(x)] - E[log(1 - D(G(z)))]`` whose minimiser is
    ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``.

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets" (saturating / non-saturating);
    Mao et al. 2017, "Least Squares Generative Adversarial Networks";
    Lim & Ye 2017, "Geometric GAN" (hinge);
    Arjovsky et al. 2017, "Wasserstein GAN".
  """
  _check_kind(kind)
  if kind in ("saturating", "non_saturating"):
    # -log D(x) = softplus(-l); -log(1 - D(G(z))) = softplus(l).
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))
  if kind == "least_squares":
    return 0.5 * (jnp.mean((real_logits - 1.0) ** 2) + jnp.mean(fake_logits ** 2))
  if kind == "hinge":
    return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))
  # wasserstein: the critic maximises E[f(x)] - E[f(G(z))].
  return jnp.mean(fake_logits) - jnp.mean(real_logits)


def generator_loss(fake_logits: jax.Array, kind: str) -> jax.Array:
  """Generator loss to *minimise*, averaged over the batch.

  Args:
    fake_logits: D's logits on generated data.
    kind: one of `LOSS_KINDS`.

  Returns:
    A scalar: ``E[log(1 - D(G(z)))]`` (``saturating``, negative), ``-E[log D(G(z))]``
    (``non_saturating``), ``0.5 E[(l - 1)^2]`` (``least_squares``), ``-E[l]`` (``hinge`` and
    ``wasserstein``).

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets", Sec. 3 (the saturation argument);
    Mao et al. 2017; Lim & Ye 2017; Arjovsky et al. 2017.
  """
  _check_kind(kind)
  if kind == "saturating":
    # log(1 - sigmoid(l)) = log_sigmoid(-l) = -softplus(l).
    return -jnp.mean(jax.nn.softplus(fake_logits))
  if kind == "non_saturating":
    return jnp.mean(jax.nn.softplus(-fake_logits))
  if kind == "least_squares":
    return 0.5 * jnp.mean((fake_logits - 1.0) ** 2)
  return -jnp.mean(fake_logits)


def _per_example_input_grads(critic: Callable[[jax.Array], jax.Array], x: jax.Array) -> jax.Array:
  """d critic(x_i) / d x_i for each example, with the batch kept as one call of `critic`."""
  # critic maps a batch to one logit per example; examples do not interact (no BatchNorm in D),
  # so the gradient of the sum w.r.t. the batch is the stack of per-example gradients.
  return jax.grad(lambda inputs: jnp.sum(critic(inputs)))(x)


def r1_penalty(critic: Callable[[jax.Array], jax.Array], real: jax.Array) -> jax.Array:
  """R1 regulariser ``E_x ||grad_x D(x)||^2`` on real data (multiply by gamma/2 yourself).

  Args:
    critic: maps a batch of inputs to logits, one per example (a closure over D's params).
    real: a batch of real data.

  Returns:
    The batch mean of the squared L2 norm of the input gradient.

  References:
    Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?".
  """
  grads = _per_example_input_grads(critic, real)
  return jnp.mean(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=-1))


def gradient_penalty(critic: Callable[[jax.Array], jax.Array], real: jax.Array, fake: jax.Array,
                     alpha: jax.Array, target_norm: float = 1.0) -> jax.Array:
  """WGAN-GP penalty ``E[(||grad D(x_hat)|| - 1)^2]`` at ``x_hat = alpha x + (1 - alpha) G(z)``.

  Args:
    critic: maps a batch of inputs to logits, one per example.
    real: a batch of real data.
    fake: a batch of generated data with the same shape.
    alpha: ``[B]`` mixing weights drawn from U(0, 1), one per example (the caller draws them, so
      they can come from per-example keys and not depend on how the batch is sharded).
    target_norm: the norm the gradient is pulled towards (1 in the paper).

  Returns:
    The penalty, a scalar (multiply by lambda = 10 yourself).

  References:
    Gulrajani et al. 2017, "Improved Training of Wasserstein GANs".
  """
  alpha = alpha.reshape((real.shape[0],) + (1,) * (real.ndim - 1)).astype(real.dtype)
  interpolates = alpha * real + (1.0 - alpha) * fake
  grads = _per_example_input_grads(critic, interpolates)
  norms = jnp.sqrt(jnp.sum(grads.reshape(grads.shape[0], -1) ** 2, axis=-1) + 1e-12)
  return jnp.mean((norms - target_norm) ** 2)
