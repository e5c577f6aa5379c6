"""The dataset registry: one `DatasetSpec` per dataset name, registered once, where it is defined.

Everything else (the loop, evaluation, the configs' validation) asks the registry about a
dataset and never tests its name: a spec says what shape its examples have, which splits it has,
how to open one, how generated samples of it are evaluated (by naming an evaluation protocol,
see `gan.evaluation`), and what a sample picture of it is drawn against.

Adding a dataset is one `register(DatasetSpec(...))` call, usually next to its reader, plus a
config under ``experiments/configs/``.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import numpy as np

from gan.registry import Registry

# `Source` (gan.data.source) is named in annotations as a string only: source.py imports this
# module for `DatasetSpec`, and importing it back, even under TYPE_CHECKING, would close a circle.


@dataclasses.dataclass(frozen=True)
class Mixture:
  """An isotropic Gaussian mixture with equally likely modes: the toys' ground truth.

  Attributes:
    means: ``[K, d]`` mode means (float64).
    std: the per-coordinate standard deviation of every mode.
  """
  means: np.ndarray
  std: float


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
  """What the library needs to know about a dataset.

  Attributes:
    name: the name configs use (``config.dataset``).
    data_shape: shape of one example, e.g. ``(28, 28, 1)``, or ``(2,)`` for a 2-D toy.
    num_classes: number of labels; 0 for unconditional data.
    splits: the split names `open` accepts; evaluation uses ``'train'`` and ``eval_split``.
    open: ``open(spec, split, data_dir, download) -> Source``.
    offline: whether `open` works without network access.
    evaluation: the name of the evaluation protocol of its samples (a key of
      ``gan.evaluation.PROTOCOLS``), or None when there is no fitting one; then
      ``evaluation_note`` says why and what to do instead.
    evaluation_note: why there is no evaluation (shown to the user), when ``evaluation`` is None.
    eval_split: the held-out split generated samples are compared with.
    eval_split_is_large: compare with the first ``config.eval_num_samples`` examples of the
      eval split rather than the whole split.
    mixture: the ground-truth mixture of a toy (its samples are scored against it).
    sample_reference: ``reference(source) -> points`` drawn under a scatter plot of samples of
      non-image data (None for images, which are shown as a grid).
    tfds_name: the TFDS builder name, if the data comes from TFDS.
  """
  name: str
  data_shape: tuple[int, ...]
  num_classes: int
  splits: tuple[str, ...]
  open: Callable[..., "Source"]
  offline: bool = False
  evaluation: Optional[str] = None
  evaluation_note: str = ""
  eval_split: str = "test"
  eval_split_is_large: bool = False
  mixture: Optional[Mixture] = None
  sample_reference: Optional[Callable[["Source"], np.ndarray]] = None
  tfds_name: Optional[str] = None

  @property
  def is_image(self) -> bool:
    return len(self.data_shape) == 3


DATASETS = Registry[DatasetSpec]("dataset")


def register(spec: DatasetSpec) -> DatasetSpec:
  """Adds ``spec`` to `DATASETS` under ``spec.name`` (a name can be registered once); returns it.

  Raises:
    ValueError: the name is registered already, the eval split is not one of the splits, or the
      spec names no evaluation and does not say why.
  """
  if spec.eval_split not in spec.splits:
    raise ValueError(f"Dataset {spec.name!r}: eval_split {spec.eval_split!r} is not one of its "
                     f"splits {spec.splits}.")
  if spec.evaluation is None and not spec.evaluation_note:
    raise ValueError(f"Dataset {spec.name!r} names no evaluation; say why in evaluation_note.")
  return DATASETS.register(spec.name, spec)


def get(name: str) -> DatasetSpec:
  """The spec registered as ``name``; an `UnknownNameError` listing the valid names otherwise."""
  return DATASETS.get(name)


def names() -> tuple[str, ...]:
  """Every registered dataset name, in registration order."""
  return DATASETS.names()
