"""The toy distributions: Goodfellow et al.'s 1-D Gaussian and the PacGAN/VEEGAN 2-D mixtures.

Each is a `Mixture` (means and standard deviation, defined once here) sampled on the fly by
`toy_points`, a counter-based generator, so a toy's batches are a pure function of
(seed, split, step, row) like every other dataset's. Their specs name the ``mixture`` evaluation
(modes captured, high-quality samples, reverse KL; `gan.metrics.mixture_metrics` takes the
means and the standard deviation as arguments) or, for the 1-D toy, ``moments``.

``toy_ring_100k`` and ``toy_grid_100k`` are the PacGAN protocol's finite training sets (Lin et al.
2018, Sec. 5.1): 100,000 points of the same mixtures drawn once (`finite_toy_points`, a fixed
seed), visited epoch by epoch in a shuffled order like any finite dataset (`FiniteToySource`).
"""

from __future__ import annotations

import functools

import numpy as np

from gan.data import registry
from gan.data import source as source_lib

# Seed of `Source.all_examples` for toys, and the offset of its stream from the batches' streams.
TOY_EVAL_SEED = 0
_TOY_EVAL_STREAM_OFFSET = 1 << 16


def ring_means(num_modes: int = 8, radius: float = 1.0) -> np.ndarray:
  """Means of the ring mixture: `num_modes` points evenly spaced on a circle, the first at (r, 0).

  Args:
    num_modes: number of modes (8 in the standard benchmark).
    radius: radius of the circle (1, with standard deviation 0.01).

  Returns:
    ``[num_modes, 2]`` float64 means at angles ``2 pi i / num_modes``.

  References:
    Metz et al. 2017, "Unrolled Generative Adversarial Networks";
    Srivastava et al. 2017, "VEEGAN: Reducing Mode Collapse in GANs using Implicit Variational
    Learning".
  """
  angles = 2.0 * np.pi * np.arange(num_modes) / num_modes
  return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_means(num_per_side: int = 5, spacing: float = 2.0) -> np.ndarray:
  """Means of the grid mixture: a centred square grid, ``{-4, -2, 0, 2, 4}^2`` by default.

  Args:
    num_per_side: modes per side (5, giving 25 modes).
    spacing: distance between neighbouring modes (2, with standard deviation 0.05).

  Returns:
    ``[num_per_side ** 2, 2]`` float64 means, row-major (x varies slowest).

  References:
    Srivastava et al. 2017, "VEEGAN"; Lin et al. 2018, "PacGAN: The Power of Two Samples in
    Generative Adversarial Networks".
  """
  ticks = spacing * (np.arange(num_per_side) - (num_per_side - 1) / 2.0)
  xs, ys = np.meshgrid(ticks, ticks, indexing="ij")
  return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _float32_means(means: np.ndarray) -> np.ndarray:
  # The points are float32; means rounded to float32 once keep every draw and metric consistent.
  return means.astype(np.float32).astype(np.float64)


# The 1-D data distribution of Goodfellow et al. 2014, Fig. 1 (the paper draws it without
# numbers; N(4, 0.5) is a common choice of re-implementations).
TOY_1D = registry.Mixture(means=np.array([[4.0]]), std=0.5)
# PacGAN's 2-D benchmarks (Lin et al. 2018, Sec. 5.1, after VEEGAN, Srivastava et al. 2017).
RING = registry.Mixture(means=_float32_means(ring_means(8, 1.0)), std=0.01)
GRID = registry.Mixture(means=_float32_means(grid_means(5, 2.0)), std=0.05)


def _splitmix64(x: np.ndarray) -> np.ndarray:
  """The SplitMix64 output function: a bijective mix of uint64 (wrapping arithmetic)."""
  x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
  x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
  return x ^ (x >> np.uint64(31))


_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)


def _uniforms(seed: int, stream: int, step: int, rows: np.ndarray, count: int) -> np.ndarray:
  """``count`` uniforms in [0, 1) per row, a pure function of (seed, stream, step, row).

  Counter-based: the four integers are hashed into one SplitMix64 state per row, whose
  first ``count`` outputs are the row's numbers. Nothing depends on the other rows, so a shard
  of rows gets the same numbers as the whole batch, and nothing depends on the JAX version.
  """
  with np.errstate(over="ignore"):
    state = _splitmix64(np.full(rows.shape, seed, np.uint64) + _GOLDEN_GAMMA)
    for value in (stream, step):
      state = _splitmix64(state ^ np.uint64(value))
    state = _splitmix64(state ^ rows.astype(np.uint64))
    draws = np.arange(1, count + 1, dtype=np.uint64) * _GOLDEN_GAMMA
    bits = _splitmix64(state[:, None] + draws[None, :])
  return (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def toy_points(mixture: registry.Mixture, seed: int, step: int, rows: np.ndarray,
               stream: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Draws the points of global rows ``rows`` of batch ``step`` from ``mixture``.

  A uniformly chosen mean plus N(0, std^2 I): `TOY_1D` = N(4, 0.5^2); `RING`: 8 modes on the
  unit circle, std 0.01; `GRID`: 25 modes on a 5x5 grid of spacing 2, std 0.05.

  Each row's numbers come from a counter-based generator (SplitMix64) keyed by
  ``(seed, stream, step, row)``: the result is a pure function of the arguments, and row ``r``
  is the same whichever other rows are drawn with it. Normals use the Box-Muller transform.

  Args:
    mixture: the distribution.
    seed: the data seed, in [0, 2**32).
    step: the batch number.
    rows: global row indices within the batch, int [N].
    stream: an independent stream (e.g. one per split).

  Returns:
    ``(points float32 [N, d], modes int32 [N])``; ``modes`` is the mixture component of each
    point (always 0 for a single Gaussian).

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets", Fig. 1 (`TOY_1D`);
    Lin et al. 2018, "PacGAN", Sec. 5.1 (`RING`, `GRID`);
    Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators" (SplitMix64).
  """
  means, std = mixture.means, mixture.std
  num_modes, dim = means.shape
  u = _uniforms(seed, stream, step, np.asarray(rows), 1 + 2 * dim)
  modes = np.minimum((u[:, 0] * num_modes).astype(np.int64), num_modes - 1)
  # Box-Muller on (u1, u2) pairs; 1 - u1 lies in (0, 1], so the log is finite.
  radius = np.sqrt(-2.0 * np.log1p(-u[:, 1:1 + dim]))
  noise = radius * np.cos(2.0 * np.pi * u[:, 1 + dim:])
  return (means[modes] + std * noise).astype(np.float32), modes.astype(np.int32)


class ToySource(source_lib.Source):
  """An infinite toy distribution; the split only selects an independent key stream."""

  def __init__(self, spec: registry.DatasetSpec, split: str):
    super().__init__(spec, split, None)
    self._stream = spec.splits.index(split)

  def _sample(self, seed: int, stream: int, step: int, rows: np.ndarray) -> dict[str, np.ndarray]:
    points, modes = toy_points(self.spec.mixture, seed, step, rows, stream)
    return {"image": points, "label": modes}

  def batch(self, step, global_batch_size, seed, process_index=0, process_count=1):
    source_lib.check_uint32("step", step)
    source_lib.check_uint32("seed", seed)
    rows = source_lib.local_rows(global_batch_size, process_index, process_count)
    return self._sample(seed, self._stream, step, np.arange(rows.start, rows.stop))

  def all_examples(self, limit=None):
    if limit is None:
      raise ValueError(f"{self.name!r} is an infinite distribution; pass limit=N to "
                       "all_examples to get a fixed sample of N points.")
    return self._sample(TOY_EVAL_SEED, self._stream + _TOY_EVAL_STREAM_OFFSET, 0,
                        np.arange(source_lib.check_uint32("limit", limit)))


def _open(spec: registry.DatasetSpec, split: str, data_dir=None, download=True) -> "ToySource":
  del data_dir, download  # sampled on the fly
  return ToySource(spec, split)


def _reference_points(source: source_lib.Source) -> np.ndarray:
  """The means of a mixture; for the 1-D toy, 2,048 real points (drawn as a density)."""
  if source.spec.mixture.means.shape[0] > 1:
    return source.spec.mixture.means.astype(np.float32)
  return source.all_examples(limit=2048)["image"]


# ----------------------------------------------------------------------------------------------
# The PacGAN protocol's finite training sets.

# The authors train on 100,000 points drawn once ("num_sample": 100000 in fjxmlzn/PacGAN,
# synthetic_data_experiments/2DRing_GAN&PacGAN/config.py:30, drawn by pacgan/datasets.py:68-70 and
# iterated in shuffled epochs of batch 100 by pacgan/streams.py:27, 31) and validate on a second
# such set (streams.py:29). Here the points are a fixed sample (seed `FINITE_TOY_SEED`, one stream
# per split), the same for every run; the authors' differ from run to run (a random Fuel seed,
# 2DRing_GAN&PacGAN/pacgan_task.py:197-203).
FINITE_TOY_POINTS = 100_000
FINITE_TOY_SEED = 0
_FINITE_STREAM_OFFSET = 2 << 16


@functools.lru_cache(maxsize=8)
def finite_toy_points(name: str, split: str, num_points: int) -> tuple[np.ndarray, np.ndarray]:
  """The fixed points of split ``split`` of the finite toy ``name`` (its spec's mixture).

  Rows ``0 .. num_points - 1`` of `toy_points` with seed `FINITE_TOY_SEED`, step 0 and a stream
  of their own per split, so the training points never overlap the test points or any batch of
  the infinite toys. Cached and read-only.

  Returns:
    ``(points float32 [num_points, d], modes int32 [num_points])``.
  """
  spec = registry.get(name)
  stream = _FINITE_STREAM_OFFSET + spec.splits.index(split)
  points, modes = toy_points(spec.mixture, FINITE_TOY_SEED, 0, np.arange(num_points), stream)
  points.setflags(write=False)
  modes.setflags(write=False)
  return points, modes


class FiniteToySource(source_lib.FiniteSource):
  """A fixed set of points of a toy mixture, visited in epochs (`gan.data.source.FiniteSource`).

  Epoch ``e`` visits the points in the order ``np.random.default_rng([seed, e]).permutation(n)``,
  batch after batch; the points are float coordinates, returned as they are.
  """

  def __init__(self, spec: registry.DatasetSpec, split: str, num_points: int):
    points, modes = finite_toy_points(spec.name, split, num_points)
    super().__init__(spec, split, num_points, lambda indices: (points[indices], modes[indices]))

  def batch(self, step, global_batch_size, seed, process_index=0, process_count=1):
    points, modes = self._read(self.example_indices(step, global_batch_size, seed, process_index,
                                                    process_count))
    return {"image": points, "label": modes}

  def all_examples(self, limit=None):
    count = self.num_examples if limit is None else min(source_lib.check_uint32("limit", limit),
                                                        self.num_examples)
    points, modes = self._read(np.arange(count))
    return {"image": points, "label": modes}


def _open_finite(spec: registry.DatasetSpec, split: str, data_dir=None, download=True
                 ) -> FiniteToySource:
  del data_dir, download  # drawn on the fly, once
  return FiniteToySource(spec, split, FINITE_TOY_POINTS)


_NO_CLASSES = ("train", "test")
registry.register(registry.DatasetSpec(
    name="toy_1d", data_shape=(1,), num_classes=0, splits=_NO_CLASSES, open=_open, offline=True,
    evaluation="moments", mixture=TOY_1D, sample_reference=_reference_points))
# The 2-D mixtures, sampled fresh every step; and the PacGAN protocol (Lin et al. 2018, Sec. 5.1):
# 100,000 fixed training points of the same mixtures. All take the same `mixture` evaluation
# (2,500 samples, high quality within 3 sigma).
for _name, _mixture in (("toy_ring", RING), ("toy_grid", GRID)):
  for _suffix, _opener in (("", _open), ("_100k", _open_finite)):
    registry.register(registry.DatasetSpec(
        name=_name + _suffix, data_shape=(2,), num_classes=0, splits=_NO_CLASSES, open=_opener,
        offline=True, evaluation="mixture", mixture=_mixture, sample_reference=_reference_points))
