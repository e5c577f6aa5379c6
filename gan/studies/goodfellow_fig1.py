"""Goodfellow et al. 2014, Fig. 1: a 1-D GAN, its discriminator and the optimal discriminator.

`train_and_snapshot` trains a GAN on a 1-D toy with one Gaussian mode (``toy_1d``: N(4, 0.5^2))
with the library's train step (`gan.step.train_step`, jitted, ``lax.scan`` over chunks of steps;
the same trajectory `gan.loop` follows for that config), and at a few steps takes a `snapshot`
of what the paper draws:

* the data density p_data;
* the generator's density p_g, a Gaussian KDE of `NUM_KDE_SAMPLES` samples G(z)
  (`gan.toy_analysis`);
* the discriminator D(x) = sigmoid(logit);
* the optimal discriminator against this G, D*(x) = p_data / (p_data + p_g);
* the map x = G(z): z at equally spaced quantiles of N(0, 1), drawn at u = Phi(z).

`plot` draws one panel per snapshot; `numbers` summarises each by the mean over the data's bulk
(a uniform grid on mean +- `BULK_STDS` std, 95% of the data's mass) of ``|D - D*|`` (how far D is
from optimal), ``|D - 1/2|`` (how undecided D is) and ``|D* - 1/2|`` (how far p_g is from p_data
as D* sees it), and the mean and std of G's samples.
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
from gan import images
from gan import step as step_lib
from gan import toy_analysis

FIGURE_NAME = "goodfellow_fig1.png"
NUMBERS_NAME = "goodfellow_fig1.json"
# Iterations drawn, besides the last one; steps beyond num_steps are dropped. With the toy_1d
# config G travels to the data while D still slopes towards it (25, 50), arrives spread wide
# around it with D already flat (500), then narrows.
PANEL_STEPS = (25, 50, 500)
NUM_KDE_SAMPLES = 20_000
NUM_ARROWS = 15
X_RANGE = (-1.0, 7.0)
GRID_POINTS = 801
BULK_STDS = 2.0
# Training steps per dispatch (one lax.scan); panels fall on chunk boundaries.
CHUNK_STEPS = 100


def data_gaussian(config: ml_collections.ConfigDict) -> tuple[float, float]:
  """``(mean, std)`` of ``config.dataset``, a 1-D toy with one Gaussian mode.

  Raises:
    ValueError: the dataset is not such a toy (its spec has no 1-D, one-mode mixture).
  """
  mixture = data.get(config.dataset).mixture
  if mixture is None or mixture.means.shape != (1, 1):
    raise ValueError(f"This figure is of the 1-D toy (one Gaussian mode, as toy_1d); the "
                     f"config's dataset is {config.dataset!r}, expected 'toy_1d'.")
  return float(mixture.means[0, 0]), float(mixture.std)


def _scan_steps(gan: step_lib.GAN, state: step_lib.GANState, batches: jax.Array, rng: jax.Array):
  """``batches.shape[0]`` iterations of `gan.step.train_step`, one real batch each."""
  def body(carry, batch_images):
    return step_lib.train_step(gan, carry, {"image": batch_images}, rng)
  return jax.lax.scan(body, state, batches)


def panel_steps_for(num_steps: int, panel_steps: Sequence[int] = PANEL_STEPS) -> list[int]:
  """The iterations to draw: ``panel_steps`` that fall within ``num_steps``, then the last one."""
  if num_steps < 0:
    raise ValueError(f"num_steps must be >= 0, got {num_steps}.")
  return sorted({s for s in panel_steps if 0 <= s < num_steps} | {num_steps})


def _panel_arrays(gan: step_lib.GAN, mean: float, std: float, state: step_lib.GANState,
                  z: jax.Array, z_arrows: jax.Array, grid: jax.Array) -> dict:
  """The jittable part of a `snapshot`: samples, densities, D and D* on ``grid``."""
  samples = step_lib.generate(gan, state, z, use_ema=False).reshape(-1)
  logits = gan.discriminator.apply(
      {"params": state.d_params, "batch_stats": state.d_batch_stats}, grid[:, None], train=False)
  p_data = toy_analysis.gaussian_pdf(grid, mean, std)
  bandwidth = toy_analysis.silverman_bandwidth(samples)
  p_g = toy_analysis.gaussian_kde(samples, grid, bandwidth)
  return dict(x=grid, samples=samples, p_data=p_data, p_g=p_g, d=jax.nn.sigmoid(logits),
              d_star=toy_analysis.optimal_discriminator(p_data, p_g), kde_bandwidth=bandwidth,
              arrows_x=step_lib.generate(gan, state, z_arrows, use_ema=False).reshape(-1))


def snapshot(arrays: dict, mean: float, std: float) -> dict:
  """Adds the bulk summaries to one panel's arrays.

  Args:
    arrays: ``x``, ``p_data``, ``p_g``, ``d``, ``d_star``, ``samples`` on a grid ``x``, and
      ``kde_bandwidth``; G's current (not EMA) parameters made ``samples``, as D was trained
      against them.
    mean: the data's mean.
    std: the data's standard deviation.

  Returns:
    The arrays as NumPy, and floats: ``mean_abs_d_minus_d_star``, ``mean_abs_d_minus_half``,
    ``mean_abs_d_star_minus_half`` (means over the grid points within `BULK_STDS` data standard
    deviations of the data mean), ``g_mean``, ``g_std``, ``kde_bandwidth``.

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets", Fig. 1 and Proposition 1.
  """
  snap = {k: np.asarray(v) for k, v in arrays.items()}
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
  """Trains on the 1-D toy for ``num_steps`` iterations, taking a `snapshot` at each panel step.

  Args:
    config: a toy_1d config (``experiments/configs/toy_1d.py``).
    num_steps: training iterations.
    panel_steps: iterations to draw besides the last (see `panel_steps_for`).

  Returns:
    One `snapshot` dict per panel, with ``step`` and ``arrows`` = ``(u, G(Phi^-1(u)))`` added
    (``u`` equally spaced in (0, 1)).

  Raises:
    ValueError: the config is not of a 1-D toy with one mode (see `data_gaussian`).
  """
  mean, std = data_gaussian(config)
  config_lib.check_config(config)
  gan = config_lib.build_gan(config)
  state = jax.jit(functools.partial(step_lib.create_state, gan))(jax.random.key(config.seed))
  rng = jax.random.fold_in(jax.random.key(config.seed), 1)  # as gan.loop derives it
  source = data.make_source(config.dataset)
  rows = config.batch_size * gan.n_critic
  run_chunk = jax.jit(functools.partial(_scan_steps, gan), donate_argnums=(0,))
  panel_arrays = jax.jit(functools.partial(_panel_arrays, gan, mean, std))

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
      batches = np.stack([source.batch(s, rows, config.seed)["image"]
                          for s in range(step, step + length)])
      state, _ = run_chunk(state, batches, rng)
      step += length
    snap = snapshot(panel_arrays(state, z_kde, z_arrows, grid), mean, std)
    snap["step"] = step
    snap["arrows"] = (u_arrows, snap.pop("arrows_x"))
    snapshots.append(snap)
  return snapshots


def plot(snapshots: list, path: str, mean: float, std: float) -> None:
  """Draws one panel per snapshot (the paper's (a)-(d)) into ``path``; the data is N(mean, std^2).
  """
  plt = images.pyplot()
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
  fig.suptitle(f"1-D GAN on N({mean:g}, {std:g}$^2$), as in Goodfellow et al. 2014, Fig. 1.  "
               f"|.|: mean over the data's bulk (mean $\\pm$ {BULK_STDS:g} std)", fontsize=10)
  fig.tight_layout(rect=(0, 0.07, 1, 1))
  images.save_figure(fig, path, dpi=120)


def numbers(snapshots: list, config: ml_collections.ConfigDict) -> dict:
  """The JSON-able summary of the snapshots: the data, the bulk, the config's training settings
  and each panel's `snapshot` floats."""
  keys = ("step", "mean_abs_d_minus_d_star", "mean_abs_d_minus_half",
          "mean_abs_d_star_minus_half", "g_mean", "g_std", "kde_bandwidth")
  mean, std = data_gaussian(config)
  return dict(
      data=dict(mean=mean, std=std),
      bulk=[mean - BULK_STDS * std, mean + BULK_STDS * std],
      kde_samples=NUM_KDE_SAMPLES,
      config={"hidden": config.model_args.hidden,
              **{k: config[k] for k in ("latent_dim", "loss", "optimizer", "g_learning_rate",
                                        "d_learning_rate", "batch_size", "n_critic", "seed")}},
      panels=[{k: snap[k] for k in keys} for snap in snapshots])


def make_figure(out_dir: str, config: ml_collections.ConfigDict,
                num_steps: Optional[int] = None) -> dict:
  """Trains, draws `FIGURE_NAME` and writes `NUMBERS_NAME` into ``out_dir``.

  Args:
    out_dir: where to write (created if missing).
    config: a toy_1d config (``experiments/configs/toy_1d.py``).
    num_steps: training iterations; None uses the config's ``num_steps``.

  Returns:
    The numbers written to the JSON (`numbers`), with ``figure`` and ``numbers`` paths added.

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets", Fig. 1.
  """
  num_steps = int(config.num_steps if num_steps is None else num_steps)
  snapshots = train_and_snapshot(config, num_steps)
  os.makedirs(out_dir, exist_ok=True)
  figure_path = os.path.join(out_dir, FIGURE_NAME)
  numbers_path = os.path.join(out_dir, NUMBERS_NAME)
  plot(snapshots, figure_path, *data_gaussian(config))
  result = numbers(snapshots, config)
  with open(numbers_path, "w") as f:
    json.dump(result, f, indent=2)
    f.write("\n")
  return dict(result, figure=figure_path, numbers=numbers_path)
