"""Sources: one split of one dataset, whose batches are a pure function of (seed, step).

``source.batch(step, global_batch_size, seed, process_index, process_count)`` returns this
process's share of global batch ``step`` as NumPy arrays::

  {'image': float32 [global_batch_size // process_count, *data_shape],  # images in [-1, 1]
   'label': int32 [global_batch_size // process_count]}

Determinism. For a dataset of ``n`` examples, epoch ``e`` visits the examples in the order
``np.random.default_rng([seed, e]).permutation(n)``. With ``steps_per_epoch = n // B`` (``B`` the
global batch size), step ``s`` belongs to epoch ``e = s // steps_per_epoch`` and takes positions
``[(s % steps_per_epoch) * B, (s % steps_per_epoch + 1) * B)`` of that epoch's order: every batch
lies inside one epoch, and the last ``n % B`` examples of each epoch's order are dropped (a
different remainder each epoch). Process ``p`` of ``P`` gets rows ``[p * B / P, (p + 1) * B / P)``
of the global batch, so the global batch does not depend on ``P`` and a run resumed at step ``s``
sees exactly the batches an uninterrupted run would. Toy points of global row ``row`` come from a
counter-based generator keyed by ``(seed, split, step, row)`` (`gan.data.toys.toy_points`), so they
too do not depend on the process count.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from gan.data import registry

_MAX_UINT32 = 2 ** 32


def check_uint32(what: str, value: Any) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(f"{what} must be an int, got {value!r} of type {type(value).__name__}.")
  if not 0 <= value < _MAX_UINT32:
    raise ValueError(f"{what} must be in [0, 2**32), got {value}.")
  return int(value)


def local_rows(global_batch_size: int, process_index: int, process_count: int) -> range:
  """Validates the sharding arguments; returns this process's rows of the global batch."""
  check_uint32("global_batch_size", global_batch_size)
  check_uint32("process_count", process_count)
  check_uint32("process_index", process_index)
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


def to_unit_range(images: np.ndarray) -> np.ndarray:
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

  def __init__(self, spec: registry.DatasetSpec, split: str, num_examples: Optional[int]):
    self.spec = spec
    self.name = spec.name
    self.split = split
    self.data_shape = spec.data_shape
    self.num_classes = spec.num_classes
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


class FiniteSource(Source):
  """A split of ``num_examples`` examples read by index with ``read(indices)``."""

  def __init__(self, spec: registry.DatasetSpec, split: str, num_examples: int,
               read: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]):
    super().__init__(spec, split, num_examples)
    if num_examples < 1:
      raise ValueError(f"Split {split!r} of {spec.name!r} is empty.")
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
    check_uint32("step", step)
    check_uint32("seed", seed)
    rows = local_rows(global_batch_size, process_index, process_count)
    epoch, step_in_epoch = divmod(step, self.steps_per_epoch(global_batch_size))
    start = step_in_epoch * global_batch_size
    return self._epoch_order(seed, epoch)[start + rows.start:start + rows.stop]

  def batch(self, step, global_batch_size, seed, process_index=0, process_count=1):
    indices = self.example_indices(step, global_batch_size, seed, process_index, process_count)
    images, labels = self._read(indices)
    return {"image": to_unit_range(images), "label": labels}

  def all_examples(self, limit=None):
    count = self.num_examples if limit is None else min(check_uint32("limit", limit),
                                                        self.num_examples)
    images, labels = self._read(np.arange(count))
    return {"image": to_unit_range(images), "label": labels}
