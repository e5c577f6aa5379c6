"""Tests for gan/classifier.py: outputs, batching, determinism, and the verified, atomic cache.

Nothing here trains the real classifier: a few-step one in a temporary cache is enough to test
the plumbing (the held-out accuracy of the real one is measured by
``python -m experiments.train_classifier``).
"""

import json
import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest

from gan import checkpointing
from gan import classifier
from gan import config as config_lib
from gan import data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A tiny recipe: enough to produce real weights, fast enough for a test.
TINY = dict(num_steps=3, batch_size=32)


@pytest.fixture(scope="module")
def data_dir(data_dir):
  """The session's TFDS directory (conftest.py), with mnist5k's train split built."""
  data.make_source("mnist5k", "train", data_dir=data_dir)
  return data_dir


@pytest.fixture(scope="module")
def digits(data_dir):
  return data.make_source("mnist5k", "test", data_dir=data_dir).all_examples(limit=37)


@pytest.fixture(scope="module")
def saved_cache(tmp_path_factory, data_dir):
  """A cache dir holding a tiny classifier, trained once for the module; copy before damaging."""
  cache_dir = str(tmp_path_factory.mktemp("cache"))
  classifier.load_or_train_classifier(cache_dir, data_dir, log=None, **TINY)
  return cache_dir


@pytest.fixture
def cache_copy(saved_cache, tmp_path):
  cache_dir = str(tmp_path / "cache")
  shutil.copytree(saved_cache, cache_dir)
  return cache_dir


@pytest.fixture(scope="module")
def model(saved_cache, data_dir):
  return classifier.load_or_train_classifier(saved_cache, data_dir, log=None, **TINY)


def load_logged(cache_dir, data_dir, **kwargs):
  messages = []
  result = classifier.load_or_train_classifier(cache_dir, data_dir, log=messages.append,
                                               **{**TINY, **kwargs})
  return result, " | ".join(messages)


def assert_same_variables(a, b):
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# ---------------------------------------------------------------------------------------------
# The network and its outputs.


def test_module_shapes_and_features_are_penultimate_layer():
  variables = classifier.MnistClassifier().init(jax.random.key(0), jnp.zeros((2, 28, 28, 1)))
  logits, features = classifier.MnistClassifier().apply(variables, jnp.zeros((2, 28, 28, 1)),
                                                        return_features=True)
  assert logits.shape == (2, classifier.NUM_CLASSES)
  assert features.shape == (2, classifier.FEATURE_DIM)
  # Without dropout the logits are the last Dense layer applied to the features.
  last = variables["params"]["Dense_1"]
  np.testing.assert_allclose(logits, features @ last["kernel"] + last["bias"], rtol=1e-5,
                             atol=1e-5)


def np_mnist_classifier(params, images):
  """MnistClassifier in float64 NumPy: SAME 3x3 convs, ReLU, 2x2 max pools, dense 128, dense 10."""
  x = images.astype(np.float64)
  for conv in ("Conv_0", "Conv_1"):
    kernel, bias = np.asarray(params[conv]["kernel"], np.float64), np.asarray(params[conv]["bias"])
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    height, width = x.shape[1:3]
    x = sum(np.tensordot(padded[:, a:a + height, b:b + width], kernel[a, b], axes=([3], [0]))
            for a in range(3) for b in range(3)) + bias
    x = np.maximum(x, 0.0)
    x = x.reshape(x.shape[0], height // 2, 2, width // 2, 2, -1).max(axis=(2, 4))
  dense_0, dense_1 = params["Dense_0"], params["Dense_1"]
  features = np.maximum(x.reshape(x.shape[0], -1) @ np.asarray(dense_0["kernel"], np.float64)
                        + dense_0["bias"], 0.0)
  return features @ np.asarray(dense_1["kernel"], np.float64) + dense_1["bias"], features


def test_outputs_match_numpy_reference(model, digits):
  images = digits["image"][:3]
  outputs = model.outputs(images)
  logits, features = np_mnist_classifier(model.variables["params"], images)
  np.testing.assert_allclose(outputs["features"], features, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(outputs["logits"], logits, rtol=1e-4, atol=1e-4)
  assert np.abs(features).max() > 0.1  # Not a trivial all-zero comparison.


def test_last_batch_is_padded_with_background(model, digits, monkeypatch):
  batches = []
  jitted = classifier._jit_outputs  # pylint: disable=protected-access

  def recording(variables, batch):
    batches.append(np.asarray(batch))
    return jitted(variables, batch)

  monkeypatch.setattr(classifier, "_jit_outputs", recording)
  classifier.batched_outputs(model.variables, digits["image"][:3], batch_size=2)
  assert [b.shape for b in batches] == [(2, 28, 28, 1)] * 2
  np.testing.assert_array_equal(batches[1][0], digits["image"][2])
  np.testing.assert_array_equal(batches[1][1], -1.0)  # Black, in the [-1, 1] range.


def test_outputs_shapes_and_probabilities(model, digits):
  images = digits["image"]
  outputs = model.outputs(images)
  assert outputs["features"].shape == (37, classifier.FEATURE_DIM)
  assert outputs["probabilities"].shape == (37, 10)
  assert outputs["features"].dtype == np.float32
  assert np.all(outputs["features"] >= 0)  # ReLU outputs.
  np.testing.assert_allclose(outputs["probabilities"].sum(axis=-1), 1.0, atol=1e-5)
  np.testing.assert_allclose(outputs["probabilities"],
                             jax.nn.softmax(outputs["logits"], axis=-1), atol=1e-6)
  np.testing.assert_array_equal(model.features(images), outputs["features"])
  np.testing.assert_array_equal(model.probabilities(images), outputs["probabilities"])
  predictions = model.predict(images)
  assert predictions.shape == (37,) and predictions.dtype == np.int32
  np.testing.assert_array_equal(predictions, np.argmax(outputs["logits"], axis=-1))


@pytest.mark.parametrize("batch_size", [1, 8, 37, 64])
def test_batched_equals_unbatched(model, digits, batch_size):
  """Any batch size, with or without a padded last batch, gives the one-call result."""
  images = digits["image"]
  reference = jax.jit(classifier.classifier_outputs)(model.variables, images)
  batched = classifier.batched_outputs(model.variables, images, batch_size=batch_size)
  for key in ("logits", "features", "probabilities"):
    assert batched[key].shape[0] == 37
    np.testing.assert_allclose(batched[key], reference[key], rtol=1e-5, atol=1e-5)


def test_padding_of_last_batch_does_not_change_results(model, digits):
  images = digits["image"]
  whole = classifier.batched_outputs(model.variables, images, batch_size=16)  # 16 + 16 + 5 pad
  tail = classifier.batched_outputs(model.variables, images[32:], batch_size=16)
  np.testing.assert_array_equal(tail["features"], whole["features"][32:])
  np.testing.assert_array_equal(tail["logits"], whole["logits"][32:])


def test_jax_and_numpy_inputs_agree_and_empty_input(model, digits):
  images = digits["image"][:10]
  np.testing.assert_array_equal(model.features(jnp.asarray(images)), model.features(images))
  empty = model.outputs(np.zeros((0, 28, 28, 1), np.float32))
  assert empty["features"].shape == (0, classifier.FEATURE_DIM)
  assert empty["probabilities"].shape == (0, 10)
  assert empty["logits"].dtype == empty["features"].dtype == np.float32


@pytest.mark.parametrize("batch_size", [0, -1, 2.5])
def test_bad_batch_size_is_explained(model, digits, batch_size):
  with pytest.raises(ValueError, match=f"batch_size must be a positive int, got {batch_size}"):
    classifier.batched_outputs(model.variables, digits["image"], batch_size=batch_size)


@pytest.mark.parametrize("images, message", [
    (np.zeros((4, 28, 28), np.float32), "images[..., None]"),
    (np.zeros((4, 28, 28, 3), np.float32), "images[..., c:c + 1]"),
    (np.zeros((4, 32, 32, 1), np.float32), "[N, 28, 28, 1]"),
    (np.zeros((4, 28, 28, 1), np.uint8), "images / 127.5 - 1"),
])
def test_bad_images_are_explained(model, images, message):
  with pytest.raises(ValueError, match=r"MNIST classifier expects") as info:
    model.features(images)
  assert message in str(info.value)


def test_random_shift_moves_a_pixel_within_range():
  images = np.full((64, 28, 28, 1), -1.0, np.float32)
  images[:, 14, 10, 0] = 1.0
  shifted = np.asarray(classifier.random_shift(images, jax.random.key(0), max_shift=2))
  positions = set()
  for image in shifted:
    rows, cols, _ = np.nonzero(image > 0)
    assert len(rows) == 1 and abs(rows[0] - 14) <= 2 and abs(cols[0] - 10) <= 2
    positions.add((rows[0], cols[0]))
    assert np.sum(image == -1.0) == 28 * 28 - 1  # The rest is background.
  assert len(positions) > 10  # Offsets differ between examples.
  np.testing.assert_array_equal(classifier.random_shift(images, jax.random.key(0), 0), images)


# ---------------------------------------------------------------------------------------------
# Training.


def test_training_is_deterministic_given_seed_and_reports_its_accuracy(data_dir, digits):
  a, accuracy_a = classifier.train_classifier(data_dir, seed=1, **TINY)
  b, accuracy_b = classifier.train_classifier(data_dir, seed=1, **TINY)
  c, _ = classifier.train_classifier(data_dir, seed=2, **TINY)
  assert_same_variables(a, b)
  assert accuracy_a == accuracy_b
  assert checkpointing.tree_checksum(a) != checkpointing.tree_checksum(c)
  # The accuracy is that of these weights on the 1,000 test digits.
  test = data.make_source("mnist5k", "test", data_dir=data_dir).all_examples()
  assert test["label"].shape == (1000,)
  predictions = np.argmax(classifier.batched_outputs(a, test["image"])["logits"], axis=-1)
  assert accuracy_a == np.mean(predictions == test["label"])


@pytest.mark.parametrize("kwargs", [dict(num_steps=0), dict(batch_size=-1),
                                    dict(num_steps=2.5)])
def test_bad_training_arguments_are_explained(kwargs):
  with pytest.raises(ValueError, match="must be a positive int"):
    classifier.train_classifier(**kwargs)


# ---------------------------------------------------------------------------------------------
# The cache.


def test_saved_layout_and_metadata(saved_cache, model):
  directory = classifier.classifier_dir(saved_cache)
  assert directory == os.path.join(saved_cache, "mnist_classifier",
                                   f"v{classifier.CLASSIFIER_VERSION}")
  assert sorted(os.listdir(os.path.dirname(directory))) == [f"v{classifier.CLASSIFIER_VERSION}"]
  assert {"state", "meta"} <= set(os.listdir(directory))  # gan.checkpointing.save_tree's.
  metadata = checkpointing.load_tree_meta(directory)
  assert metadata["version"] == classifier.CLASSIFIER_VERSION
  assert metadata["architecture"] == classifier.ARCHITECTURE
  assert (metadata["seed"], metadata["num_steps"], metadata["batch_size"]) == (0, 3, 32)
  assert (metadata["train_examples"], metadata["test_examples"]) == (4000, 1000)
  assert metadata["checksum"] == checkpointing.tree_checksum(model.variables)
  assert model.accuracy == metadata["held_out_accuracy"]
  assert model.metadata == metadata


def test_load_returns_saved_weights_without_training(saved_cache, data_dir, model, monkeypatch):
  monkeypatch.setattr(classifier, "_train_and_evaluate",
                      lambda *a, **k: pytest.fail("a valid saved classifier was retrained"))
  loaded, log = load_logged(saved_cache, data_dir)
  assert "Loaded" in log
  assert_same_variables(loaded.variables, model.variables)


def test_default_cache_dir_from_environment(monkeypatch, tmp_path):
  monkeypatch.setenv("JAXGAN_CACHE", str(tmp_path))
  assert classifier.classifier_dir() == os.path.join(str(tmp_path), "mnist_classifier",
                                                     f"v{classifier.CLASSIFIER_VERSION}")
  monkeypatch.delenv("JAXGAN_CACHE")
  assert classifier.default_cache_dir() == os.path.expanduser("~/.cache/jaxgan")


def _largest_file(directory):
  files = [os.path.join(root, name) for root, _, names in os.walk(directory) for name in names]
  return max(files, key=os.path.getsize)


def test_corrupted_weights_are_detected_and_retrained(cache_copy, data_dir, model):
  path = _largest_file(os.path.join(classifier.classifier_dir(cache_copy), "state"))
  data = bytearray(open(path, "rb").read())
  for offset in range(len(data) // 3, len(data) // 3 + 64):
    data[offset] ^= 0xFF
  with open(path, "wb") as f:
    f.write(data)
  retrained, log = load_logged(cache_copy, data_dir)
  assert "Not using the MNIST classifier" in log and "Retraining" in log
  assert "Trained" in log
  # Retraining is deterministic, so the good weights come back.
  assert_same_variables(retrained.variables, model.variables)
  _, log = load_logged(cache_copy, data_dir)
  assert "Loaded" in log


def test_silently_wrong_weights_fail_the_checksum(cache_copy, model, tmp_path):
  """Weights that restore cleanly but are not the ones saved (e.g. a swapped file)."""
  directory = classifier.classifier_dir(cache_copy)
  other = str(tmp_path / "other")
  checkpointing.save_tree(other, jax.tree.map(lambda x: x + 1.0, model.variables))
  shutil.rmtree(os.path.join(directory, "state"))
  shutil.copytree(os.path.join(other, "state"), os.path.join(directory, "state"))
  with pytest.raises(ValueError, match="^it fails its checksum"):
    classifier.load_classifier(directory)


def test_unreadable_metadata_is_detected(cache_copy):
  directory = classifier.classifier_dir(cache_copy)
  with open(os.path.join(directory, "meta", "metadata"), "w") as f:
    f.write("{not json")
  with pytest.raises(ValueError, match="^it has no readable meta item"):
    classifier.load_classifier(directory)


def test_a_damaged_classifier_in_a_read_only_cache_is_refused_before_training(
    saved_cache, data_dir, small_filesystem, monkeypatch):
  with small_filesystem("64m") as disk:
    shutil.copytree(saved_cache, str(disk / "cache"))
    with open(os.path.join(classifier.classifier_dir(str(disk / "cache")), "meta", "metadata"),
              "w") as f:
      f.write("{not json")
    small_filesystem.read_only()
    monkeypatch.setattr(classifier, "_train_and_evaluate", lambda *a: pytest.fail("trained"))
    with pytest.raises(config_lib.ConfigError, match=r"could not be saved to .*: .*cache/"
                       r"mnist_classifier/v\d+ is not a writable directory. Set \$JAXGAN_CACHE"):
      classifier.load_or_train_classifier(str(disk / "cache"), data_dir, log=None, **TINY)


def _rewrite_metadata(directory, variables, **changes):
  metadata = {k: v for k, v in checkpointing.load_tree_meta(directory).items() if k != "checksum"}
  checkpointing.save_tree(directory, variables, {**metadata, **changes})


def test_version_mismatch_retrains(cache_copy, data_dir, model):
  # A file from another version under the current version's name is refused...
  directory = classifier.classifier_dir(cache_copy)
  _rewrite_metadata(directory, model.variables, version=classifier.CLASSIFIER_VERSION - 1)
  retrained, log = load_logged(cache_copy, data_dir)
  assert f"version={classifier.CLASSIFIER_VERSION - 1}" in log and "Retraining" in log
  assert retrained.metadata["version"] == classifier.CLASSIFIER_VERSION
  assert_same_variables(retrained.variables, model.variables)


def test_version_bump_ignores_old_directory(cache_copy, data_dir, monkeypatch):
  old_dir = classifier.classifier_dir(cache_copy)
  monkeypatch.setattr(classifier, "CLASSIFIER_VERSION", classifier.CLASSIFIER_VERSION + 1)
  new_dir = classifier.classifier_dir(cache_copy)
  assert new_dir != old_dir
  bumped, log = load_logged(cache_copy, data_dir)
  assert "No MNIST evaluation classifier" in log
  assert bumped.metadata["version"] == classifier.CLASSIFIER_VERSION
  assert os.path.isdir(old_dir) and os.path.isdir(new_dir)


def test_recipe_mismatch_is_refused(saved_cache):
  directory = classifier.classifier_dir(saved_cache)
  with pytest.raises(ValueError, match="num_steps=3, but num_steps=4 is required"):
    classifier.load_classifier(directory, {"num_steps": 4})
  with pytest.raises(FileNotFoundError):
    classifier.load_classifier(os.path.join(saved_cache, "nowhere"))


def test_interrupted_save_leaves_previous_classifier(cache_copy, data_dir, model, monkeypatch):
  directory = classifier.classifier_dir(cache_copy)

  def crash(*args, **kwargs):
    raise KeyboardInterrupt

  # Dies after the new weights are written, before they replace the old ones.
  monkeypatch.setattr(checkpointing, "_swap_into_place", crash)
  with pytest.raises(KeyboardInterrupt):
    classifier.save_classifier(directory, jax.tree.map(lambda x: x * 0, model.variables),
                               {"version": classifier.CLASSIFIER_VERSION})
  monkeypatch.undo()
  assert os.listdir(os.path.dirname(directory)) == [os.path.basename(directory)]  # No debris.
  assert_same_variables(classifier.load_classifier(directory).variables, model.variables)


def test_interrupted_training_leaves_nothing(tmp_path, data_dir, monkeypatch):
  def crash(*args, **kwargs):
    raise KeyboardInterrupt

  monkeypatch.setattr(classifier, "_train_and_evaluate", crash)
  with pytest.raises(KeyboardInterrupt):
    classifier.load_or_train_classifier(str(tmp_path), data_dir, log=None, **TINY)
  assert not os.path.exists(os.path.join(str(tmp_path), "mnist_classifier"))


def test_force_retrain_replaces_classifier(cache_copy, data_dir, model):
  retrained, log = load_logged(cache_copy, data_dir, force_retrain=True)
  assert "force_retrain=True" in log and "Trained" in log
  assert_same_variables(retrained.variables, model.variables)
  assert os.listdir(os.path.dirname(classifier.classifier_dir(cache_copy))) == [
      f"v{classifier.CLASSIFIER_VERSION}"]


# ---------------------------------------------------------------------------------------------
# The first file layout: params/ (orbax StandardCheckpointer) and classifier.json.


def write_first_layout(directory, variables, metadata, checksum=None):
  shutil.rmtree(directory)
  os.makedirs(directory)
  with ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(os.path.join(directory, "params"), variables)
  metadata = {k: v for k, v in metadata.items() if k != "checksum"}
  metadata["params_sha256"] = checksum or checkpointing.tree_checksum(variables)
  with open(os.path.join(directory, "classifier.json"), "w") as f:
    json.dump(metadata, f)


def test_first_layout_is_converted_in_place_without_training(cache_copy, data_dir, model,
                                                             monkeypatch):
  directory = classifier.classifier_dir(cache_copy)
  write_first_layout(directory, model.variables, model.metadata)
  monkeypatch.setattr(classifier, "_train_and_evaluate",
                      lambda *a, **k: pytest.fail("a valid old-layout classifier was retrained"))
  loaded, log = load_logged(cache_copy, data_dir)
  assert "rewrote it in the current file layout" in log and "Loaded" in log
  assert_same_variables(loaded.variables, model.variables)
  assert loaded.metadata == model.metadata  # Same recipe, accuracy and checksum.
  assert {"state", "meta"} <= set(os.listdir(directory))
  assert not {"params", "classifier.json"} & set(os.listdir(directory))


def test_first_layout_in_a_read_only_cache_is_used_as_it_is(cache_copy, data_dir, model,
                                                           monkeypatch):
  directory = classifier.classifier_dir(cache_copy)
  write_first_layout(directory, model.variables, model.metadata)

  def read_only(*args, **kwargs):
    raise checkpointing.CheckpointError("Could not write: read-only file system")

  monkeypatch.setattr(checkpointing, "save_tree", read_only)
  loaded, log = load_logged(cache_copy, data_dir)
  assert "as it is; rewriting it in the current file layout failed" in log
  assert_same_variables(loaded.variables, model.variables)
  assert loaded.metadata == model.metadata
  assert "classifier.json" in os.listdir(directory)


@pytest.mark.parametrize("problem", ["checksum", "recipe"])
def test_bad_first_layout_is_retrained(cache_copy, data_dir, model, problem):
  directory = classifier.classifier_dir(cache_copy)
  if problem == "checksum":
    write_first_layout(directory, model.variables, model.metadata, checksum="0" * 64)
    reason = "its weights fail the checksum in classifier.json; the file is corrupted"
  else:
    write_first_layout(directory, model.variables, {**model.metadata, "num_steps": 4})
    reason = "it was made with num_steps=4, but num_steps=3 is required"
  retrained, log = load_logged(cache_copy, data_dir)
  assert f"Not using the MNIST classifier in {directory}: {reason}. Retraining it." in log
  assert_same_variables(retrained.variables, model.variables)
  assert "classifier.json" not in os.listdir(directory)


# ---------------------------------------------------------------------------------------------
# The command line.


def _run_command(*args):
  return subprocess.run([sys.executable, "-m", "experiments.train_classifier", *args], cwd=ROOT,
                        capture_output=True, text=True, timeout=120,
                        env={**os.environ, "JAX_PLATFORMS": "cpu"})


def test_command_loads_and_prints_accuracy(saved_cache, data_dir, model):
  result = _run_command(f"--cache_dir={saved_cache}", f"--data_dir={data_dir}", "--num_steps=3",
                        "--batch_size=32")
  assert result.returncode == 0, result.stderr
  assert f"held-out accuracy: {model.accuracy:.2%}" in result.stdout


def test_command_reports_errors_in_one_line(saved_cache, data_dir):
  result = _run_command(f"--cache_dir={saved_cache}", f"--data_dir={data_dir}", "--num_steps=-5")
  assert result.returncode == 2
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert errors == ["error: num_steps must be a positive int, got -5."]


# ---------------------------------------------------------------------------------------------
# The shipped classifier (issue 16: one evaluation network for every machine).


def test_the_shipped_classifier_is_checked_and_scores_what_it_records(data_dir):
  model = classifier.evaluation_classifier(log=None)
  assert classifier.file_sha256(classifier.SHIPPED_WEIGHTS) == classifier.SHIPPED_SHA256
  assert model.accuracy == classifier.SHIPPED_ACCURACY
  assert model.metadata["num_steps"] == classifier.DEFAULT_NUM_STEPS
  test = data.make_source("mnist5k", "test", data_dir=data_dir).all_examples()
  assert np.mean(model.predict(test["image"]) == test["label"]) == classifier.SHIPPED_ACCURACY
  # Its arrays are the ones the recorded checksum names.
  assert checkpointing.tree_checksum(model.variables) == model.metadata["checksum"]


def test_a_changed_shipped_file_is_refused(tmp_path):
  copy = tmp_path / "weights.npz"
  blob = bytearray(open(classifier.SHIPPED_WEIGHTS, "rb").read())
  blob[len(blob) // 2] ^= 0x01
  copy.write_bytes(bytes(blob))
  with pytest.raises(ValueError, match="fails its SHA-256 check .* Reinstall jaxgan"):
    classifier.load_exported_classifier(str(copy), classifier.SHIPPED_SHA256)


def test_export_and_load_round_trip(model, tmp_path):
  path = str(tmp_path / "c.npz")
  digest = classifier.export_classifier(model, path)
  loaded = classifier.load_exported_classifier(path, digest)
  assert_same_variables(loaded.variables, model.variables)
  assert loaded.accuracy == model.accuracy


@pytest.mark.slow
def test_the_training_command_reproduces_the_shipped_accuracy(tmp_path):
  """The shipped weights came from `python -m experiments.train_classifier` with the default
  recipe; retraining it here (about 1.5 minutes) comes back within half a point."""
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  done = subprocess.run([sys.executable, "-m", "experiments.train_classifier",
                         f"--cache_dir={tmp_path / 'cache'}", f"--export={tmp_path / 'c.npz'}"],
                        cwd=ROOT, env=env, capture_output=True, text=True, check=True)
  retrained = classifier.load_exported_classifier(str(tmp_path / "c.npz"))
  assert abs(retrained.accuracy - classifier.SHIPPED_ACCURACY) <= 0.005, done.stdout
