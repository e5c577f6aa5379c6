"""Why the non-saturating generator loss: gradient size against D(G(z)) (Goodfellow et al. 2014).

Per example, with ``l`` the discriminator's logit on G(z) and ``D = sigmoid(l)``:

* saturating, ``L = log(1 - D)``: ``|dL/dl| = D``, which vanishes as D confidently rejects the
  samples (``D -> 0``), i.e. exactly early in training, when G most needs a signal;
* non-saturating, ``L = -log D``: ``|dL/dl| = 1 - D``, close to 1 there.

`make_figure` draws both curves on log axes for D(G(z)) in [`D_MIN`, 1], and over them the
measured per-example ``|dL/dl|`` (``jax.grad`` of `gan.losses.generator_loss`) on one batch of a
freshly initialised GAN, and of the same after discriminator-only updates (`gan.step.d_step`, G
held fixed) on real data, which drive D(G(z)) towards 0 as in the first iterations of real
training.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan import config as config_lib
from gan import data
from gan import images
from gan import latent
from gan import losses
from gan import step as step_lib

FIGURE_NAME = "saturation.png"
NUMBERS_NAME = "saturation.json"
KINDS = ("saturating", "non_saturating")
D_MIN = 1e-4  # The figure's left edge; samples with a smaller D(G(z)) are drawn on it.


def _check_kind(kind: str) -> None:
  if kind not in KINDS:
    raise ValueError(f"Saturation compares the losses {', '.join(KINDS)}; got {kind!r}. (The "
                     "other losses do not act on D = sigmoid(logit).)")


def analytic_logit_grad_magnitude(d: jax.Array, kind: str) -> jax.Array:
  """``|dL/dl|`` of one example's generator loss as a function of ``D = sigmoid(l)``.

  Args:
    d: D(G(z)), probabilities in [0, 1], any shape.
    kind: ``'saturating'`` (``L = log(1 - D)``: ``|dL/dl| = D``) or ``'non_saturating'``
      (``L = -log D``: ``|dL/dl| = 1 - D``).

  Returns:
    The magnitudes, the shape of ``d``.

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets", Sec. 3.
  """
  _check_kind(kind)
  d = jnp.asarray(d)
  return d if kind == "saturating" else 1.0 - d


def per_example_logit_grads(logits: jax.Array, kind: str) -> jax.Array:
  """``dL_i / dl_i`` for each example, by ``jax.grad`` of `gan.losses.generator_loss`.

  The library loss is a batch mean; each example's own loss is that loss on a batch of one.

  Args:
    logits: D's logits on G(z), ``[B]``.
    kind: one of `KINDS`.

  Returns:
    ``[B]`` signed derivatives (negative for both kinds: raising a logit lowers the loss).
  """
  _check_kind(kind)
  return jax.vmap(jax.grad(lambda l: losses.generator_loss(l[None], kind)))(logits)


def _d_only_step(gan: step_lib.GAN, state: step_lib.GANState, real: jax.Array, rng: jax.Array,
                 step: jax.Array) -> tuple[step_lib.GANState, dict]:
  """One `gan.step.d_step` against fresh G(z), G unchanged."""
  keys = step_lib.example_keys(rng, step, real.shape[0])
  z = jax.vmap(lambda k: latent.sample(k, (gan.latent_dim,), gan.latent_distribution))(keys)
  fake = step_lib.generate(gan, state, z, use_ema=False, train=True)
  return step_lib.d_step(gan, state, real, None, fake, None, keys, critic_step=0)


def measure(gan: step_lib.GAN, state: step_lib.GANState, z: jax.Array) -> dict:
  """D(G(z)) and each loss's per-example ``|dL/dl|`` on the batch ``z``. Jittable.

  G runs as in a train step (BatchNorm on this batch's statistics); D runs in inference mode (no
  dropout), so D(G(z)) is the discriminator's own verdict.

  Returns:
    ``d_g_z`` and ``grad_<kind>`` for each of `KINDS`, all ``[B]``.
  """
  fake = step_lib.generate(gan, state, z, use_ema=False, train=True)
  logits = gan.discriminator.apply({"params": state.d_params, "batch_stats": state.d_batch_stats},
                                   fake, None, train=False)
  out = {"d_g_z": jax.nn.sigmoid(logits)}
  for kind in KINDS:
    out[f"grad_{kind}"] = jnp.abs(per_example_logit_grads(logits, kind))
  return out


def run(config: ml_collections.ConfigDict, d_steps: int, batch_size: int,
        data_dir: Optional[str] = None) -> dict:
  """Measures a fresh GAN and the same after ``d_steps`` D-only updates on real data.

  Args:
    config: an unconditional GAN config whose D outputs a logit (e.g.
      ``experiments/configs/dcgan_mnist.py``).
    d_steps: discriminator-only updates, each on a real batch of ``batch_size`` and fresh G(z).
    batch_size: examples per D update and in the measured batch.
    data_dir: the TFDS data dir for ``config.dataset``; None for the default.

  Returns:
    ``{'fresh': ..., 'after_d_steps': ..., 'd_real': mean D(x) on the last real batch}``, the
    first two `measure` of the same z, as NumPy arrays.
  """
  if d_steps < 0 or batch_size < 1:
    raise ValueError(f"d_steps must be >= 0 and batch_size >= 1; got {d_steps} and {batch_size}.")
  config_lib.check_config(config)
  if config.conditional:
    raise ValueError("The saturation measurement is of an unconditional GAN; set "
                     "config.conditional=False.")
  gan = config_lib.build_gan(config)
  state = jax.jit(functools.partial(step_lib.create_state, gan))(jax.random.key(config.seed))
  rng = jax.random.fold_in(jax.random.key(config.seed), 1)
  z = latent.sample(jax.random.fold_in(rng, 2 ** 31 - 1), (batch_size, gan.latent_dim),
                    gan.latent_distribution)
  measure_jit = jax.jit(functools.partial(measure, gan))
  measure_batch = lambda s: jax.tree.map(np.asarray, measure_jit(s, z))
  results = {"fresh": measure_batch(state)}
  source = data.make_source(config.dataset, "train", data_dir=data_dir)
  step_fn = jax.jit(functools.partial(_d_only_step, gan), donate_argnums=(0,))
  step_metrics = {}
  for step in range(d_steps):
    real = source.batch(step, batch_size, config.seed)["image"]
    state, step_metrics = step_fn(state, real, rng, jnp.asarray(step, jnp.int32))
  results["after_d_steps"] = measure_batch(state)
  results["d_real"] = float(step_metrics["d_real"]) if step_metrics else float("nan")
  return results


def summarize(results: dict, d_steps: int, batch_size: int) -> dict:
  """The JSON-able medians of `run`'s results.

  Per batch (``fresh``, ``after_d_steps``): the median and minimum of D(G(z)), how many fall
  below `D_MIN`, the median of each loss's ``|dL/dl|``, and the largest difference between the
  measured and the analytic gradient magnitudes.
  """
  def medians(m):
    out = {"median_d_g_z": float(np.median(m["d_g_z"])), "min_d_g_z": float(np.min(m["d_g_z"])),
           "num_below_axis": int(np.sum(m["d_g_z"] < D_MIN))}
    for kind in KINDS:
      out[f"median_grad_{kind}"] = float(np.median(m[f"grad_{kind}"]))
    out["max_abs_error_vs_analytic"] = float(max(
        np.max(np.abs(m[f"grad_{kind}"] - np.asarray(
            analytic_logit_grad_magnitude(m["d_g_z"], kind)))) for kind in KINDS))
    return out
  return dict(batch_size=batch_size, d_only_steps=d_steps, fresh=medians(results["fresh"]),
              after_d_steps=medians(results["after_d_steps"]),
              after_d_steps_mean_d_real=results["d_real"])


def plot(results: dict, d_steps: int, path: str) -> None:
  """Draws the analytic curves and the measured points into ``path``."""
  plt = images.pyplot()
  colors = {"saturating": "tab:red", "non_saturating": "tab:blue"}
  names = {"saturating": r"saturating $\log(1-D)$: $|\partial L/\partial l| = D$",
           "non_saturating": r"non-saturating $-\log D$: $|\partial L/\partial l| = 1-D$"}
  d = np.logspace(np.log10(D_MIN), 0, 400)
  fig, ax = plt.subplots(figsize=(6.4, 4.6))
  for kind in KINDS:
    ax.plot(d, np.asarray(analytic_logit_grad_magnitude(d, kind)), color=colors[kind], lw=1.6,
            label=names[kind])
  batches = (("fresh", "o", "none", "at initialisation"),
             ("after_d_steps", "o", None, f"after {d_steps} D-only steps on MNIST"))
  for key, marker, face, when in batches:
    m = results[key]
    x = np.clip(m["d_g_z"], D_MIN, 1.0)  # points left of the axis are drawn on its edge
    for kind in KINDS:
      ax.scatter(x, np.maximum(m[f"grad_{kind}"], D_MIN), s=16, marker=marker, lw=0.8,
                 facecolors=face if face else colors[kind], edgecolors=colors[kind], alpha=0.7,
                 zorder=3)
    ax.scatter([], [], s=16, marker=marker, lw=0.8, facecolors=face if face else "0.4",
               edgecolors="0.4", label=f"measured on {len(x)} G(z), {when}")
  after = results["after_d_steps"]
  median = float(np.median(after["d_g_z"]))
  ax.axvline(median, color="0.5", lw=0.8, ls=":")
  ax.text(median * 1.15, 1.5 * D_MIN,
          f"median D(G(z)) = {median:.2g}\nmedian |grad|: sat. "
          f"{np.median(after['grad_saturating']):.2g}, non-sat. "
          f"{np.median(after['grad_non_saturating']):.2g}", fontsize=8, color="0.25")
  below = int(np.sum(after["d_g_z"] < D_MIN))
  if below:
    ax.annotate(f"{below} with D(G(z)) < {D_MIN:g},\ndrawn on the axis", (D_MIN, 1.0),
                xytext=(8, -40), textcoords="offset points", fontsize=7, color="0.25",
                arrowprops=dict(arrowstyle="->", lw=0.5, color="0.5"))
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlim(D_MIN, 1.0)
  ax.set_ylim(D_MIN * 0.7, 2.0)
  ax.set_xlabel("D(G(z))")
  ax.set_ylabel(r"$|\partial L_G / \partial\, \mathrm{logit}|$ per example")
  ax.set_title("Generator loss gradients, dcgan28 on MNIST (Goodfellow et al. 2014, Sec. 3)",
               fontsize=9)
  ax.legend(loc="center left", fontsize=7, frameon=False)
  fig.tight_layout()
  images.save_figure(fig, path, dpi=120)


def make_figure(out_dir: str, config: ml_collections.ConfigDict, d_steps: int = 100,
                batch_size: int = 64, data_dir: Optional[str] = None) -> dict:
  """Measures, draws `FIGURE_NAME` and writes `NUMBERS_NAME` into ``out_dir``.

  Args:
    out_dir: where to write (created if missing).
    config: the GAN to measure (``experiments/configs/dcgan_mnist.py`` for the README figure).
    d_steps: D-only updates before the second measurement.
    batch_size: the batch size of the updates and of the measured batch.
    data_dir: the TFDS data dir; None for ``config.data_dir`` or the default.

  Returns:
    The numbers written to the JSON (`summarize`), with ``figure`` and ``numbers`` paths added.

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets", Sec. 3.
  """
  results = run(config, d_steps, batch_size, data_dir or config.get("data_dir") or None)
  os.makedirs(out_dir, exist_ok=True)
  figure_path = os.path.join(out_dir, FIGURE_NAME)
  numbers_path = os.path.join(out_dir, NUMBERS_NAME)
  plot(results, d_steps, figure_path)
  summary = summarize(results, d_steps, batch_size)
  with open(numbers_path, "w") as f:
    json.dump(summary, f, indent=2)
    f.write("\n")
  return dict(summary, figure=figure_path, numbers=numbers_path)
