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
* ``wasserstein``: WGAN critic loss (Arjovsky et al. 2017); needs a Lipschitz constraint on D
  (`gradient_penalty`, or weight clipping in the step).
* ``relativistic_average``: RaGAN with the standard GAN loss (Jolicoeur-Martineau 2018): D says
  how much more real a real sample is than the average fake, and G the reverse.

Each named loss is a `Loss` in one registry (`LOSSES`): a pair of pure functions
``discriminator(real_logits, fake_logits, axis_name)`` and
``generator(fake_logits, real_logits, axis_name)``. The generator half sees D's logits on real data
too (for relativistic losses; the step computes them only for a loss that says it uses them), and
``axis_name`` lets a loss that takes a statistic over the batch take it over the *global* batch
under pmap. Adding a loss is one `register` call here and its test.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import jax
import jax.numpy as jnp

from gan.registry import Registry


@dataclasses.dataclass(frozen=True)
class Loss:
  """A named GAN loss: the two halves to *minimise*, and what the step must know about them.

  Attributes:
    discriminator: ``(real_logits, fake_logits, axis_name) -> scalar``, the batch mean.
    generator: ``(fake_logits, real_logits, axis_name) -> scalar``; ``real_logits`` is None
      unless ``generator_uses_real``.
    generator_uses_real: whether the generator half needs D's logits on real data.
    needs_lipschitz: whether D must be kept Lipschitz (a gradient penalty or weight clipping),
      without which the loss is unbounded below.
    reference: the paper.
  """
  discriminator: Callable[..., jax.Array]
  generator: Callable[..., jax.Array]
  generator_uses_real: bool = False
  needs_lipschitz: bool = False
  reference: str = ""


LOSSES = Registry[Loss]("loss")


def register(name: str, loss: Loss) -> Loss:
  """Adds ``loss`` to `LOSSES` under ``name`` (once); returns it."""
  return LOSSES.register(name, loss)


def get(kind: str) -> Loss:
  """The loss registered as ``kind``; an `UnknownNameError` listing the valid kinds otherwise."""
  return LOSSES.get(kind)


def names() -> tuple[str, ...]:
  """Every registered loss name, in registration order."""
  return LOSSES.names()


def batch_mean(x: jax.Array, axis_name: Optional[str] = None) -> jax.Array:
  """The mean over the global batch: over the mapped ``axis_name`` too, when there is one."""
  mean = jnp.mean(x)
  return jax.lax.pmean(mean, axis_name) if axis_name else mean


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array, kind: str,
                       axis_name: Optional[str] = None) -> jax.Array:
  """Discriminator (critic) loss to *minimise*, averaged over the batch.

  Args:
    real_logits: D's logits on real data, any shape.
    fake_logits: D's logits on generated data, any shape.
    kind: a registered loss (`names()`).
    axis_name: the mapped batch axis, for losses that use a statistic of the whole batch.

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
  return get(kind).discriminator(real_logits, fake_logits, axis_name)


def generator_loss(fake_logits: jax.Array, kind: str, real_logits: Optional[jax.Array] = None,
                   axis_name: Optional[str] = None) -> jax.Array:
  """Generator loss to *minimise*, averaged over the batch.

  Args:
    fake_logits: D's logits on generated data.
    kind: a registered loss (`names()`).
    real_logits: D's logits on real data; required by losses with ``generator_uses_real``
      (relativistic ones), ignored by the others.
    axis_name: the mapped batch axis, for losses that use a statistic of the whole batch.

  Returns:
    A scalar: ``E[log(1 - D(G(z)))]`` (``saturating``, negative), ``-E[log D(G(z))]``
    (``non_saturating``), ``0.5 E[(l - 1)^2]`` (``least_squares``), ``-E[l]`` (``hinge`` and
    ``wasserstein``).

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets", Sec. 3 (the saturation argument);
    Mao et al. 2017; Lim & Ye 2017; Arjovsky et al. 2017.
  """
  loss = get(kind)
  if loss.generator_uses_real and real_logits is None:
    raise ValueError(f"The {kind!r} generator loss compares fake with real logits: pass "
                     "real_logits.")
  return loss.generator(fake_logits, real_logits if loss.generator_uses_real else None, axis_name)


# ----------------------------------------------------------------------------------------------
# The named losses. Log-probabilities go through softplus: -log D(x) = softplus(-l) and
# -log(1 - D(x)) = softplus(l), exact and finite for any finite logit.


def _bce_discriminator(real_logits, fake_logits, axis_name=None):
  del axis_name
  return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(jax.nn.softplus(fake_logits))


register("saturating", Loss(
    discriminator=_bce_discriminator,
    # log(1 - sigmoid(l)) = log_sigmoid(-l) = -softplus(l).
    generator=lambda fake, real=None, axis_name=None: -jnp.mean(jax.nn.softplus(fake)),
    reference="Goodfellow et al. 2014, the minimax game as written"))

register("non_saturating", Loss(
    discriminator=_bce_discriminator,
    generator=lambda fake, real=None, axis_name=None: jnp.mean(jax.nn.softplus(-fake)),
    reference="Goodfellow et al. 2014, Sec. 3"))

register("least_squares", Loss(
    discriminator=lambda real, fake, axis_name=None: 0.5 * (jnp.mean((real - 1.0) ** 2) +
                                                            jnp.mean(fake ** 2)),
    generator=lambda fake, real=None, axis_name=None: 0.5 * jnp.mean((fake - 1.0) ** 2),
    reference="Mao et al. 2017, a-b-c = 0-1-1 coding"))

register("hinge", Loss(
    discriminator=lambda real, fake, axis_name=None: (jnp.mean(jax.nn.relu(1.0 - real)) +
                                                      jnp.mean(jax.nn.relu(1.0 + fake))),
    generator=lambda fake, real=None, axis_name=None: -jnp.mean(fake),
    reference="Lim & Ye 2017; Miyato et al. 2018"))

register("wasserstein", Loss(
    # The critic maximises E[f(x)] - E[f(G(z))].
    discriminator=lambda real, fake, axis_name=None: jnp.mean(fake) - jnp.mean(real),
    generator=lambda fake, real=None, axis_name=None: -jnp.mean(fake),
    needs_lipschitz=True,
    reference="Arjovsky et al. 2017"))


def _relativistic_average(first, second, axis_name=None):
  """``E[softplus(-(first - mean second))] + E[softplus(second - mean first)]``.

  With ``first`` the real logits this is RaGAN's D loss, ``-E log sigmoid(C(x_r) - E C(x_f)) -
  E log(1 - sigmoid(C(x_f) - E C(x_r)))``; with the roles swapped, its G loss. The means over the
  other set are taken over the global batch (``axis_name``).
  """
  mean_first = batch_mean(first, axis_name)
  mean_second = batch_mean(second, axis_name)
  return (jnp.mean(jax.nn.softplus(-(first - mean_second))) +
          jnp.mean(jax.nn.softplus(second - mean_first)))


register("relativistic_average", Loss(
    discriminator=_relativistic_average,
    generator=lambda fake, real, axis_name=None: _relativistic_average(fake, real, axis_name),
    generator_uses_real=True,
    reference="Jolicoeur-Martineau 2018, \"The relativistic discriminator\", RaSGAN"))


# ----------------------------------------------------------------------------------------------
# Regularizers.


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
