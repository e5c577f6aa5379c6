r"""Goodfellow et al. 2014, Fig. 1: a 1-D GAN, its discriminator and the optimal discriminator.

  python -m experiments.goodfellow_fig1 [--out docs/figures] [--steps 3000]

Trains the MLP GAN of `experiments/configs/toy_1d.py` on N(4, 0.5^2) with the library's train step
(`gan.step.train_step`, jitted, ``lax.scan`` over chunks of steps; the same trajectory
`experiments.train` follows for that config), and draws it at a few steps as the paper does:

* the data density p_data (black, dotted);
* the generator's density p_g, a Gaussian KDE of `NUM_KDE_SAMPLES` samples G(z) (green, solid);
* the discriminator D(x) = sigmoid(logit) (blue, dashed);
* the optimal discriminator against this G, D*(x) = p_data / (p_data + p_g) (thin, grey);
* below, the map x = G(z): z at equally spaced quantiles of N(0, 1), drawn at u = Phi(z) (uniform
  on the lower line, as the paper's uniform z), each with an arrow to G(z) on the x line.

It writes ``goodfellow_fig1.png`` and ``goodfellow_fig1.json``; the JSON holds, per panel, the
mean over the data's bulk (a uniform grid on mean +- 2 std, 95% of the data's mass) of
``|D - D*|`` (how far D is from optimal), ``|D - 1/2|`` (how undecided D is) and ``|D* - 1/2|``
(how far p_g is from p_data as D* sees it), and the mean and std of G's samples.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Optional, Sequence

import jax
import ml_collections
import numpy as np
from scipy import special

from gan import config as config_lib
from gan import data
from gan.data import toys
from gan import toy_analysis
from gan import step as step_lib

DEFAULT_OUT = "docs/figures"
FIGURE_NAME = "goodfellow_fig1.png"
NUMBERS_NAME = "goodfellow_fig1.json"
# Iterations drawn, besides the last one; steps beyond --steps are dropped. With the toy_1d config
# G travels to the data while D still slopes towards it (25, 50), arrives spread wide around it
# with D already flat (500), then narrows.
PANEL_STEPS = (25, 50, 500)
NUM_KDE_SAMPLES = 20_000
NUM_ARROWS = 15
X_RANGE = (-1.0, 7.0)
GRID_POINTS = 801
BULK_STDS = 2.0
# Training steps per dispatch (one lax.scan); panels fall on chunk boundaries.
CHUNK_STEPS = 100


def default_config() -> ml_collections.ConfigDict:
  """The toy_1d training config (`experiments/configs/toy_1d.py`)."""
  from experiments.configs import toy_1d  # pylint: disable=g-import-not-at-top
  return toy_1d.get_config()


def _scan_steps(gan: step_lib.GAN, state: step_lib.GANState, images: jax.Array, rng: jax.Array):
  """``images.shape[0]`` iterations of `step_lib.train_step`, one real batch each."""
  def body(carry, batch_images):
    return step_lib.train_step(gan, carry, {"image": batch_images}, rng)
  return jax.lax.scan(body, state, images)


def panel_steps_for(num_steps: int, panel_steps: Sequence[int] = PANEL_STEPS) -> list[int]:
  """The iterations to draw: ``panel_steps`` that fall within ``num_steps``, then the last one."""
  if num_steps < 0:
    raise ValueError(f"num_steps must be >= 0, got {num_steps}.")
  return sorted({s for s in panel_steps if 0 <= s < num_steps} | {num_steps})


def _panel_arrays(gan: step_lib.GAN, state: step_lib.GANState, z: jax.Array, z_arrows: jax.Array,
                  grid: jax.Array) -> dict:
  """The jittable part of `snapshot`: samples, densities, D and D* on ``grid``."""
  samples = step_lib.generate(gan, state, z, use_ema=False).reshape(-1)
  logits = gan.discriminator.apply(
      {"params": state.d_params, "batch_stats": state.d_batch_stats}, grid[:, None], train=False)
  p_data = toy_analysis.gaussian_pdf(grid, float(toys.TOY_1D.means[0, 0]), toys.TOY_1D.std)
  bandwidth = toy_analysis.silverman_bandwidth(samples)
  p_g = toy_analysis.gaussian_kde(samples, grid, bandwidth)
  return dict(x=grid, samples=samples, p_data=p_data, p_g=p_g, d=jax.nn.sigmoid(logits),
              d_star=toy_analysis.optimal_discriminator(p_data, p_g), kde_bandwidth=bandwidth,
              arrows_x=step_lib.generate(gan, state, z_arrows, use_ema=False).reshape(-1))


def snapshot(arrays: dict) -> dict:
  """Adds the bulk summaries to one panel's arrays (from `_panel_arrays`).

  Args:
    arrays: ``x``, ``p_data``, ``p_g``, ``d``, ``d_star``, ``samples`` on a grid ``x``; G's
      current (not EMA) parameters made ``samples``, as D was trained against them.

  Returns:
    The arrays as NumPy, and floats: ``mean_abs_d_minus_d_star``, ``mean_abs_d_minus_half``,
    ``mean_abs_d_star_minus_half`` (means over the grid points within `BULK_STDS` data standard
    deviations of the data mean), ``g_mean``, ``g_std``, ``kde_bandwidth``.

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets", Fig. 1 and Proposition 1.
  """
  snap = {k: np.asarray(v) for k, v in arrays.items()}
  mean, std = float(toys.TOY_1D.means[0, 0]), toys.TOY_1D.std
  bulk = np.abs(snap["x"] - mean) <= BULK_STDS * std
  mean_over_bulk = lambda v: float(np.mean(v[bulk]))
  snap.update(
      mean_abs_d_minus_d_star=mean_over_bulk(np.abs(snap["d"] - snap["d_star"])),
      mean_abs_d_minus_half=mean_over_bulk(np.abs(snap["d"] - 0.5)),
      mean_abs_d_star_minus_half=mean_over_bulk(np.abs(snap["d_star"] - 0.5)),
      g_mean=float(snap["samples"].mean()), g_std=float(snap["samples"].std()),
      kde_bandwidth=float(snap["kde_bandwidth"]))
  return snap


def train_and_snapshot(config: ml_collections.ConfigDict, num_steps: int,
                       panel_steps: Sequence[int] = PANEL_STEPS) -> list[dict]:
  """Trains on toy_1d for ``num_steps`` iterations, taking a `snapshot` at each panel step.

  Args:
    config: a toy_1d config (`experiments/configs/toy_1d.py`).
    num_steps: training iterations.
    panel_steps: iterations to draw besides the last (see `panel_steps_for`).

  Returns:
    One `snapshot` dict per panel, with ``step`` and ``arrows`` = ``(u, G(Phi^-1(u)))`` added
    (``u`` equally spaced in (0, 1)).
  """
  if config.dataset != "toy_1d":
    raise ValueError(f"This figure is of the 1-D toy; the config's dataset is "
                     f"{config.dataset!r}, expected 'toy_1d'.")
  config_lib.check_config(config)
  gan = config_lib.build_gan(config)
  state = jax.jit(functools.partial(step_lib.create_state, gan))(jax.random.key(config.seed))
  rng = jax.random.fold_in(jax.random.key(config.seed), 1)  # as gan.loop derives it
  source = data.make_source("toy_1d")
  rows = config.batch_size * gan.n_critic
  run_chunk = jax.jit(functools.partial(_scan_steps, gan), donate_argnums=(0,))
  panel_arrays = jax.jit(functools.partial(_panel_arrays, gan))

  z_kde = jax.random.normal(jax.random.key(config.seed + 1), (NUM_KDE_SAMPLES, gan.latent_dim))
  grid = np.linspace(*X_RANGE, GRID_POINTS, dtype=np.float32)
  # Arrows: equally spaced probabilities u, z = Phi^-1(u) on the first latent axis (others 0).
  u_arrows = (np.arange(NUM_ARROWS) + 0.5) / NUM_ARROWS
  z_arrows = np.zeros((NUM_ARROWS, gan.latent_dim), np.float32)
  z_arrows[:, 0] = special.ndtri(u_arrows)

  snapshots = []
  step = 0
  for target in panel_steps_for(num_steps, panel_steps):
    while step < target:
      length = min(CHUNK_STEPS, target - step)
      images = np.stack([source.batch(s, rows, config.seed)["image"]
                         for s in range(step, step + length)])
      state, _ = run_chunk(state, images, rng)
      step += length
    snap = snapshot(panel_arrays(state, z_kde, z_arrows, grid))
    snap["step"] = step
    snap["arrows"] = (u_arrows, snap.pop("arrows_x"))
    snapshots.append(snap)
  return snapshots


def plot(snapshots: list, path: str) -> None:
  """Draws one panel per snapshot (the paper's (a)-(d)) into ``path``."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  y_top, y_x_line, y_z_line = 1.1, -0.12, -0.42
  fig, axes = plt.subplots(1, len(snapshots), figsize=(4.2 * len(snapshots), 4.2), sharey=True,
                           squeeze=False)
  for i, (ax, snap) in enumerate(zip(axes[0], snapshots)):
    x = snap["x"]
    # Where both densities are negligible D* is a ratio of rounding errors; leave it undrawn.
    d_star = np.where(snap["p_data"] + snap["p_g"] > 1e-3, snap["d_star"], np.nan)
    ax.axhline(0.5, color="0.85", lw=0.6, zorder=0)
    ax.plot(x, snap["p_data"], "k:", lw=2.0, label=r"data density $p_{data}$")
    ax.plot(x, snap["p_g"], "g-", lw=1.8, label=r"generator density $p_g$ (KDE of G(z))")
    ax.plot(x, snap["d"], "b--", lw=1.8, label=r"discriminator $D(x)$")
    ax.plot(x, d_star, color="0.35", lw=0.9,
            label=r"optimal $D^*(x) = p_{data} / (p_{data} + p_g)$")
    peak = float(snap["p_g"].max())
    if peak > y_top:
      ax.annotate(f"$p_g$ peak {peak:.1f}", (x[int(np.argmax(snap["p_g"]))], y_top),
                  xytext=(5, -11), textcoords="offset points", color="g", fontsize=8)
    # The map x = G(z), as in the paper: z line below, x line above.
    lo, hi = x[0], x[-1]
    ax.plot([lo, hi], [y_x_line, y_x_line], color="k", lw=0.8)
    ax.plot([lo, hi], [y_z_line, y_z_line], color="k", lw=0.8)
    u, gz = snap["arrows"]
    for u_k, x_k in zip(u, gz):
      if lo <= x_k <= hi:
        ax.annotate("", (x_k, y_x_line), (lo + u_k * (hi - lo), y_z_line),
                    arrowprops=dict(arrowstyle="->", lw=0.6, color="0.3"))
    ax.text(lo + 0.05, y_x_line + 0.025, "x", fontsize=8)
    ax.text(lo + 0.05, y_z_line - 0.085, r"z, drawn at $\Phi(z)$", fontsize=8)
    ax.set_xlim(lo, hi)
    ax.set_ylim(y_z_line - 0.12, y_top)
    ax.set_title(f"({chr(ord('a') + i)}) step {snap['step']}:  "
                 f"|D$-$D*| {snap['mean_abs_d_minus_d_star']:.3f},  "
                 f"|D$-$1/2| {snap['mean_abs_d_minus_half']:.3f}", fontsize=9)
    ax.set_xlabel("x")
  handles, labels = axes[0][0].get_legend_handles_labels()
  fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8, frameon=False)
  fig.suptitle("1-D GAN on N(4, 0.5$^2$), as in Goodfellow et al. 2014, Fig. 1.  "
               "|.|: mean over the data's bulk (mean $\\pm$ 2 std)", fontsize=10)
  fig.tight_layout(rect=(0, 0.07, 1, 1))
  fig.savefig(path, dpi=120)
  plt.close(fig)


def numbers(snapshots: list, config: ml_collections.ConfigDict) -> dict:
  """The JSON-able summary of the snapshots."""
  keys = ("step", "mean_abs_d_minus_d_star", "mean_abs_d_minus_half",
          "mean_abs_d_star_minus_half", "g_mean", "g_std", "kde_bandwidth")
  mean, std = float(toys.TOY_1D.means[0, 0]), toys.TOY_1D.std
  return dict(
      data=dict(mean=mean, std=std),
      bulk=[mean - BULK_STDS * std, mean + BULK_STDS * std],
      kde_samples=NUM_KDE_SAMPLES,
      config={k: config[k] for k in ("mlp_hidden", "latent_dim", "loss", "optimizer",
                                     "g_learning_rate", "d_learning_rate", "batch_size",
                                     "n_critic", "seed")},
      panels=[{k: snap[k] for k in keys} for snap in snapshots])


def make_figure(out_dir: str, num_steps: Optional[int] = None,
                config: Optional[ml_collections.ConfigDict] = None) -> dict:
  """Trains, draws ``goodfellow_fig1.png`` and writes ``goodfellow_fig1.json`` into ``out_dir``.

  Args:
    out_dir: where to write (created if missing).
    num_steps: training iterations; None uses the config's ``num_steps``.
    config: a toy_1d config; None uses `default_config`.

  Returns:
    The numbers written to the JSON, with ``figure`` and ``numbers`` paths added.

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets", Fig. 1.
  """
  config = default_config() if config is None else config
  num_steps = int(config.num_steps if num_steps is None else num_steps)
  snapshots = train_and_snapshot(config, num_steps)
  os.makedirs(out_dir, exist_ok=True)
  figure_path = os.path.join(out_dir, FIGURE_NAME)
  numbers_path = os.path.join(out_dir, NUMBERS_NAME)
  plot(snapshots, figure_path)
  result = numbers(snapshots, config)
  with open(numbers_path, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
  return dict(result, figure=figure_path, numbers=numbers_path)


def main(argv):
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
  result = make_figure(flags.FLAGS.out, flags.FLAGS.steps)
  for panel in result["panels"]:
    print(f"step {panel['step']:5d}: mean|D-D*| {panel['mean_abs_d_minus_d_star']:.4f}  "
          f"mean|D-1/2| {panel['mean_abs_d_minus_half']:.4f}  "
          f"mean|D*-1/2| {panel['mean_abs_d_star_minus_half']:.4f}  "
          f"G: mean {panel['g_mean']:.3f} std {panel['g_std']:.3f}")
  print(f"Wrote {result['figure']} and {result['numbers']}")


if __name__ == "__main__":
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  # Defined here, not at import, so tests can import this module next to other experiments.
  flags.DEFINE_string("out", DEFAULT_OUT, "Directory for the figure and its numbers.")
  flags.DEFINE_integer("steps", None, "Training iterations (default: the toy_1d config's).")
  app.run(main)
