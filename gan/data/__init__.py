"""Datasets: a registry of `DatasetSpec`s and sources whose batches are pure functions of (seed, step).

Registered here (each where it is defined): ``mnist5k`` (offline), ``mnist``, ``fashion_mnist``,
``cifar10``, ``celeb_a`` (`gan.data.tfds`), ``stacked_mnist`` (`gan.data.stacked_mnist`) and the
toys ``toy_1d``, ``toy_ring``, ``toy_grid``, ``toy_ring_100k``, ``toy_grid_100k``
(`gan.data.toys`). To add one, call `register` with a `DatasetSpec` (see `gan.data.registry`).

  source = data.make_source("mnist5k", "train")
  batch = source.batch(step, 32, seed=0)   # {'image': float32 [32, 28, 28, 1], 'label': int32 [32]}
"""

from __future__ import annotations

from typing import Optional

from gan.data.registry import DatasetSpec, Mixture, get, names, register
from gan.data.source import Source
from gan.data import tfds  # registers the TFDS datasets
from gan.data import toys  # registers the toys
from gan.data import stacked_mnist  # registers stacked_mnist (built from mnist5k)
from gan.data.tfds import DatasetNotAvailableError, default_data_dir

__all__ = ["DatasetSpec", "Mixture", "Source", "DatasetNotAvailableError", "get", "names",
           "register", "make_source", "default_data_dir"]


def make_source(name: str, split: str = "train", *, data_dir: Optional[str] = None,
                download: bool = True) -> Source:
  """Opens (preparing if needed) one split of a registered dataset.

  ``mnist5k`` is prepared into ``data_dir`` on first use (a few seconds, no network). ``mnist``,
  ``fashion_mnist`` and ``cifar10`` are decoded whole into memory as uint8 on creation (tens of
  seconds for 60,000 PNGs); ``celeb_a`` is read per batch through the data source's random
  access. Toys need no data.

  Args:
    name: a registered dataset (`names()`).
    split: one of its splits (``get(name).splits``).
    data_dir: the TFDS data dir; defaults to `default_data_dir()`.
    download: whether to try to download and prepare a missing downloadable dataset; with False
      a missing dataset fails at once without touching the network.

  Raises:
    ValueError: for an unknown dataset or split.
    DatasetNotAvailableError: if a downloadable dataset is missing and cannot be prepared.
  """
  spec = get(name)
  if split not in spec.splits:
    raise ValueError(f"Dataset {name!r} has no split {split!r}; its splits are: "
                     f"{', '.join(spec.splits)}.")
  return spec.open(spec, split, data_dir, download)
