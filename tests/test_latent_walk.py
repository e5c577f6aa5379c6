"""Tests for experiments/latent_walk.py and its attribute helpers, gan/digit_attributes.py."""

import json
import os

import jax
import numpy as np
import pytest

from experiments import cli
from experiments import latent_walk
from experiments.configs import dcgan_mnist
from gan import checkpointing
from gan import classifier as classifier_lib
from gan import digit_attributes
from gan import config as config_lib
from gan import loop
from gan import metrics

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def blank(height=28, width=28):
  return -np.ones((height, width, 1), np.float32)


def vertical_bar(width, height=20, column=10, value=1.0):
  image = blank()
  image[4:4 + height, column:column + width] = value
  return image


def diagonal_line(leaning_right=True):
  """A one-pixel line through rows 4..23 at 45 degrees; its top is to the right if leaning."""
  image = blank()
  for row in range(4, 24):
    column = 4 + (23 - row) if leaning_right else 4 + (row - 4)
    image[row, column] = 1.0
  return image


# ----------------------------------------------------------------------------------------------
# gan/digit_attributes.py


@pytest.mark.parametrize("jit", [False, True])
def test_ink_mass_of_bars_is_length_times_width(jit):
  ink_mass = jax.jit(digit_attributes.ink_mass) if jit else digit_attributes.ink_mass
  bars = np.stack([blank(), vertical_bar(1), vertical_bar(2), vertical_bar(4),
                   vertical_bar(2, value=0.0)])  # the last at half ink
  np.testing.assert_allclose(ink_mass(bars), [0.0, 20.0, 40.0, 80.0, 20.0], atol=1e-5)


def test_a_thicker_stroke_has_more_ink():
  thin, thick = diagonal_line(), diagonal_line()
  thick[:, 1:] = np.maximum(thick[:, 1:], diagonal_line()[:, :-1])  # the same line, 2 px wide
  masses = np.asarray(digit_attributes.ink_mass(np.stack([thin, thick])))
  assert masses[1] > masses[0]
  np.testing.assert_allclose(masses, [20.0, 40.0], atol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_slant_of_sheared_bars_has_the_expected_sign_and_value(jit):
  slant = jax.jit(digit_attributes.slant) if jit else digit_attributes.slant
  images = np.stack([diagonal_line(leaning_right=True), diagonal_line(leaning_right=False),
                     vertical_bar(3), blank()])
  # x = a - y exactly (rows counted downwards), so mu11 / mu02 = -1 and the slant is +1.
  np.testing.assert_allclose(slant(images), [1.0, -1.0, 0.0, 0.0], atol=1e-5)


def test_moments_of_a_bar():
  moments = digit_attributes.image_moments(vertical_bar(2, height=20, column=10)[None])
  np.testing.assert_allclose(moments.centroid_x, [10.5], atol=1e-5)
  np.testing.assert_allclose(moments.centroid_y, [13.5], atol=1e-5)
  # Two columns at +-0.5 over 20 rows; rows 4..23 about 13.5: 2 * sum_k (k - 9.5)^2 = 1330.
  np.testing.assert_allclose(moments.mu20, [20 * 2 * 0.25], atol=1e-4)
  np.testing.assert_allclose(moments.mu02, [1330.0], rtol=1e-6)
  np.testing.assert_allclose(moments.mu11, [0.0], atol=1e-4)


def test_attributes_reject_images_without_a_channel_axis():
  with pytest.raises(ValueError, match=r"images\[..., None\]"):
    digit_attributes.ink_mass(np.zeros((2, 28, 28), np.float32))
  with pytest.raises(ValueError, match="float images"):
    digit_attributes.slant(np.zeros((2, 28, 28, 1), np.uint8))


# ----------------------------------------------------------------------------------------------
# experiments/latent_walk.py helpers


def test_class_pool_prefers_confident_samples_and_falls_back_to_the_most_probable():
  probabilities = np.full((6, 10), 0.01, np.float32)
  probabilities[:, 3] = [0.95, 0.5, 0.99, 0.1, 0.91, 0.2]
  pool, confident = latent_walk.class_pool(probabilities, 3, threshold=0.9, minimum=3)
  assert confident and sorted(pool) == [0, 2, 4]
  pool, confident = latent_walk.class_pool(probabilities, 3, threshold=0.9, minimum=4)
  assert not confident and list(pool) == [2, 0, 4, 1]


def test_extremes_are_the_top_and_bottom_of_the_pool():
  values = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 100.0])
  high, low = latent_walk.extremes(values, np.arange(5), fraction=0.4, minimum=1)
  assert list(high) == [2, 4] and list(low) == [1, 3]


def test_nearest_neighbours_match_brute_force():
  rng = np.random.default_rng(0)
  queries, references = rng.normal(size=(7, 4, 4, 1)), rng.normal(size=(11, 4, 4, 1))
  distances, indices = metrics.nearest_neighbours(queries, references, chunk=3)
  brute = np.linalg.norm(queries.reshape(7, 1, -1) - references.reshape(1, 11, -1), axis=-1)
  np.testing.assert_array_equal(indices, brute.argmin(axis=1))
  np.testing.assert_allclose(distances, brute.min(axis=1), rtol=1e-5)


# ----------------------------------------------------------------------------------------------
# The whole script, on a two-step run and a five-step classifier.


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, data_dir):
  config = dcgan_mnist.get_config()
  config.update(batch_size=8, num_steps=2, sample_every=0, checkpoint_every=2,
                data_dir=data_dir)
  workdir = str(tmp_path_factory.mktemp("run"))
  loop.train_and_evaluate(config, workdir, log=lambda m: None, progress=False)
  return workdir


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory, data_dir):
  return classifier_lib.load_or_train_classifier(str(tmp_path_factory.mktemp("cache")),
                                                 data_dir, log=None, num_steps=5,
                                                 batch_size=32)


def test_latent_walk_writes_figures_and_report(tiny_run, tiny_classifier, tmp_path):
  out_dir = str(tmp_path / "latent")
  lines = []
  report = latent_walk.latent_walk(tiny_run, out_dir, seed=1, classifier=tiny_classifier,
                                   num_samples=120, repetitions=3, batch_size=64,
                                   log=lines.append)
  for name in latent_walk.FIGURES:
    with open(os.path.join(out_dir, name), "rb") as f:
      assert f.read(8) == PNG_MAGIC
  with open(os.path.join(out_dir, latent_walk.REPORT_NAME)) as f:
    assert json.load(f) == json.loads(json.dumps(report))
  assert report["step"] == 2 and report["num_samples"] == 120
  assert {"interpolation", "class_morph", "arithmetic", "memorization"} <= set(report)
  assert sum(report["sample_label_counts"].values()) == 120

  def fractions(tree):
    for key, value in tree.items():
      if isinstance(value, dict):
        yield from fractions(value)
      elif "fraction" in key:
        yield from (value if isinstance(value, list) else [value])

  found = list(fractions(report))
  assert len(found) > 20 and all(0.0 <= f <= 1.0 for f in found)

  interp = report["interpolation"]
  # Two random draws are nearly orthogonal: the lerp midpoint has ~1/sqrt(2) of their norm.
  assert interp["lerp"]["midpoint_norm_over_endpoint_norm"] == pytest.approx(0.71, abs=0.1)
  assert interp["slerp"]["midpoint_norm_over_endpoint_norm"] == pytest.approx(1.0, abs=0.05)
  morph = report["class_morph"]
  assert len(morph["strip_labels"]) == latent_walk.NUM_STEPS
  assert set(report["arithmetic"]) == {"thickness", "slant"}
  for stats in report["arithmetic"].values():
    assert stats["repetitions"] == 3
    assert sum(stats["result_label_counts"].values()) == 3
    assert len(stats["walk"]["attribute_mean"]) == len(latent_walk.WALK_ALPHAS)
  ink = report["arithmetic"]["thickness"]["attribute_values"]
  assert ink["high_source_samples_mean"] >= ink["low_source_samples_mean"]
  memo = report["memorization"]
  assert memo["num_generated"] == 120 and memo["num_train"] == 4000
  assert 0.0 < memo["test_nn_distance"]["median"] and 0.0 < memo["generated_nn_distance"]["min"]
  assert any(line.startswith("Memorization:") for line in lines)


def test_workdir_without_a_run_is_a_one_line_error(tmp_path, capsys):
  empty = str(tmp_path / "empty")
  os.makedirs(empty)
  with pytest.raises(config_lib.ConfigError, match="holds no training run"):
    latent_walk.latent_walk(empty, classifier=object())
  status = cli.run_reporting_errors(lambda: latent_walk.latent_walk(empty), debug=False)
  error = capsys.readouterr().err
  assert status == cli.EXIT_USER_ERROR
  assert error.startswith("error: --workdir") and error.count("\n") == 1


def test_run_without_a_checkpoint_is_a_clear_error(tiny_run, tmp_path):
  workdir = tmp_path / "untrained"
  workdir.mkdir()
  (workdir / "config.json").write_text(open(os.path.join(tiny_run, "config.json")).read())
  with pytest.raises(checkpointing.CheckpointError, match="has no checkpoint yet"):
    latent_walk.latent_walk(str(workdir), classifier=object())


def test_non_mnist_run_is_refused(tmp_path):
  config = dcgan_mnist.get_config()
  config.dataset = "toy_ring"
  (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
  with pytest.raises(config_lib.ConfigError, match="needs an MNIST run"):
    latent_walk.latent_walk(str(tmp_path), classifier=object())
