"""Tests for gan/data/stacked_mnist.py: real mnist5k digits as channels, modes, determinism, splits."""

import numpy as np
import pytest

from gan import data
from gan.data import stacked_mnist


@pytest.fixture(scope="module")
def digits(data_dir):
  """The mnist5k splits the stacks are drawn from: {split: (images [P, 28, 28, 1], labels)}."""
  out = {}
  for split in ("train", "test"):
    examples = data.make_source("mnist5k", split, data_dir=data_dir).all_examples()
    out[split] = (examples["image"], examples["label"])
  return out


@pytest.fixture(scope="module")
def sources(data_dir):
  return {split: data.make_source("stacked_mnist", split, data_dir=data_dir)
          for split in ("train", "test")}


def test_spec():
  spec = data.get("stacked_mnist")
  assert (spec.data_shape, spec.num_classes, spec.splits) == ((28, 28, 3), 0, ("train", "test"))
  assert spec.offline and spec.evaluation == "stacked_mnist" and spec.eval_split == "test"


def test_sizes_follow_pacgan(sources):
  assert sources["train"].num_examples == 128_000
  assert sources["test"].num_examples == 26_000


def test_channels_are_mnist5k_digits_whose_labels_compose_the_mode(sources, digits):
  for split, source in sources.items():
    pool_images, pool_labels = digits[split]
    indices = stacked_mnist.digit_indices(split, len(pool_images))
    batch = source.batch(3, 50, seed=11)
    rows = source.example_indices(3, 50, seed=11)
    assert batch["image"].shape == (50, 28, 28, 3) and batch["image"].dtype == np.float32
    assert batch["label"].dtype == np.int32
    for c in range(3):
      # Bit for bit the mnist5k digit, in [-1, 1] exactly as mnist5k serves it.
      np.testing.assert_array_equal(batch["image"][..., c], pool_images[indices[rows, c], ..., 0])
    d = pool_labels[indices[rows]]
    np.testing.assert_array_equal(batch["label"], 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2])


def test_digit_indices_are_pinned_and_cover_the_pool():
  train = stacked_mnist.digit_indices("train", 4000)
  test = stacked_mnist.digit_indices("test", 1000)
  assert train.shape == (128_000, 3) and test.shape == (26_000, 3)
  # Pinned: the documented draw (default_rng([0, split stream]).integers) must not change silently.
  np.testing.assert_array_equal(train[:2], [[3402, 2547, 2044], [1079, 1231, 163]])
  np.testing.assert_array_equal(test[:2], [[522, 889, 992], [557, 302, 800]])
  assert train.min() == 0 and train.max() == 3999 and test.min() == 0 and test.max() == 999
  with pytest.raises(ValueError, match="splits train, test"):
    stacked_mnist.digit_indices("validation", 10)


def test_deterministic_across_opens(sources, data_dir):
  again = data.make_source("stacked_mnist", "train", data_dir=data_dir)
  first, second = sources["train"].batch(7, 64, seed=3), again.batch(7, 64, seed=3)
  np.testing.assert_array_equal(first["image"], second["image"])
  np.testing.assert_array_equal(first["label"], second["label"])
  assert not np.array_equal(first["label"], sources["train"].batch(8, 64, seed=3)["label"])
  np.testing.assert_array_equal(sources["train"].all_examples(limit=100)["image"],
                                again.all_examples(limit=100)["image"])


def test_splits_share_no_digit(sources, digits):
  """Every channel of every test image is a test digit; none is a training digit."""
  as_bytes = lambda images: {np.asarray(x).tobytes() for x in images}
  train_digits = as_bytes(digits["train"][0][..., 0])
  test_digits = as_bytes(digits["test"][0][..., 0])
  assert not train_digits & test_digits
  test_images = sources["test"].all_examples(limit=2000)["image"]
  test_channels = as_bytes(np.moveaxis(test_images, -1, 1).reshape(-1, 28, 28))
  assert test_channels <= test_digits


def test_modes_are_near_uniform(sources):
  labels = sources["test"].all_examples()["label"]
  counts = np.bincount(labels, minlength=1000)
  assert counts.shape == (1000,) and counts.min() > 0  # all 1,000 modes, 26 per mode on average
  # Each channel's digit is uniform over 0..9 (the pool is stratified): 2,600 +- 49 per digit.
  for digit in (labels // 100, labels // 10 % 10, labels % 10):
    np.testing.assert_allclose(np.bincount(digit, minlength=10), 2600, atol=250)

