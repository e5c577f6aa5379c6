"""Tests for gan/studies/latent_walk.py and its main, experiments/latent_walk.py.

The attributes the arithmetic measures are tested in tests/test_digit_attributes.py.
"""

import json
import math
import os

import numpy as np
import pytest

from experiments import cli
from experiments import latent_walk
from experiments.configs import dcgan_mnist
from gan import checkpointing
from gan import classifier as classifier_lib
from gan import config as config_lib
from gan import loop
from gan.studies import latent_walk as study

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------------------------
# Pure helpers.


def test_class_pool_prefers_confident_samples_and_falls_back_to_the_most_probable():
  probabilities = np.full((6, 10), 0.01, np.float32)
  probabilities[:, 3] = [0.95, 0.5, 0.99, 0.1, 0.91, 0.2]
  pool, confident = study.class_pool(probabilities, 3, threshold=0.9, minimum=3)
  assert confident and sorted(pool) == [0, 2, 4]
  pool, confident = study.class_pool(probabilities, 3, threshold=0.9, minimum=4)
  assert not confident and list(pool) == [2, 0, 4, 1]


def test_extremes_are_the_top_and_bottom_of_the_pool():
  values = np.array([5.0, 1.0, 9.0, 3.0, 7.0, 100.0])
  high, low = study.extremes(values, np.arange(5), fraction=0.4, minimum=1)
  assert list(high) == [2, 4] and list(low) == [1, 3]


def test_quantiles_of_zero_to_twenty():
  # 21 equally spaced values: the q-quantile is 20 q exactly.
  assert study.quantiles(np.arange(21.0)) == {"min": 0.0, "p05": 1.0, "p25": 5.0,
                                              "median": 10.0, "p75": 15.0, "mean": 10.0}


def test_label_counts_has_every_digit():
  counts = study.label_counts(np.array([3, 3, 8, 0, 3]))
  assert counts == {"0": 1, "1": 0, "2": 0, "3": 3, "4": 0, "5": 0, "6": 0, "7": 0, "8": 1,
                    "9": 0}


def test_morph_strip_stats_by_hand():
  stats = study.morph_strip_stats(np.array([3, 3, 5, 8, 3, 8]), 3, 8)
  assert stats == {"start_is_first": True, "end_is_last": True,
                   "fraction_first_in_first_half": 2 / 3, "fraction_last_in_second_half": 2 / 3,
                   "fraction_other_digits": 1 / 6}
  assert study.morph_strip_stats(np.array([8, 3]), 3, 8)["start_is_first"] is False


@pytest.mark.parametrize("name, value", [("num_samples", 10), ("repetitions", 0),
                                         ("batch_size", True), ("num_samples", 100.0)])
def test_check_settings_names_the_bad_setting(name, value):
  settings = dict(num_samples=4000, repetitions=20, batch_size=500)
  settings[name] = value
  with pytest.raises(ValueError, match=f"needs {name} to be an int"):
    study.check_settings(**settings)


def constant_classifier(probability=0.95, digit=1):
  def classify(images):
    probabilities = np.full((images.shape[0], 10), (1 - probability) / 9)
    probabilities[:, digit] = probability
    return probabilities
  return classify


def test_interpolation_of_orthonormal_latents():
  # Every pair of basis vectors is orthonormal: the lerp midpoint has norm 1/sqrt(2), the slerp
  # path stays on the unit sphere; the nearest lerp step to the middle is t = 4/9.
  z = np.eye(16, dtype=np.float32)
  sample = lambda latents: np.zeros((latents.shape[0], 28, 28, 1), np.float32)
  report, figure = study.interpolation(sample, constant_classifier(0.95), z,
                                       np.random.default_rng(0))
  assert report["lerp"]["midpoint_norm_over_endpoint_norm"] == pytest.approx(math.sqrt(0.5))
  assert report["lerp"]["min_norm_over_endpoint_norm"] == pytest.approx(math.sqrt(41) / 9)
  assert report["slerp"]["midpoint_norm_over_endpoint_norm"] == pytest.approx(1.0, abs=1e-6)
  assert report["slerp"]["min_norm_over_endpoint_norm"] == pytest.approx(1.0, abs=1e-6)
  for method in ("lerp", "slerp"):
    assert report[method]["interior_mean_confidence"] == pytest.approx(0.95)
    assert report[method]["interior_confident_fraction"] == 1.0
  assert report["num_pairs"] == study.NUM_PAIRS and report["num_steps"] == study.NUM_STEPS
  # Each strip: NUM_STEPS digits of 28 + 2 pad pixels (plus 2), twice enlarged, after the label.
  assert figure.width == 110 + 2 * (study.NUM_STEPS * 30 + 2)


def test_memorization_of_copies_and_shifted_digits():
  rng = np.random.default_rng(0)
  train = rng.uniform(-0.5, 0.5, size=(40, 28, 28, 1)).astype(np.float32)
  generated = train[:10].copy()  # copies of training digits: distance 0
  test = train[10:20] + 0.25  # every pixel 0.25 away: distance 0.25 * 28
  flatten = lambda images: images.reshape(images.shape[0], -1)
  report, figure = study.memorization(flatten, generated, train, test)
  assert report["num_train"] == 40 and report["num_generated"] == report["num_test"] == 10
  assert report["generated_nn_distance"]["median"] == pytest.approx(0.0, abs=1e-2)
  assert report["test_nn_distance"]["median"] == pytest.approx(7.0, rel=1e-4)
  assert report["test_nn_distance"]["min"] == pytest.approx(7.0, rel=1e-4)
  assert report["median_ratio_generated_over_test"] == pytest.approx(0.0, abs=2e-3)
  assert report["generated_below_test_p01_fraction"] == 1.0
  assert report["feature_space"]["test_median"] == pytest.approx(7.0, rel=1e-4)
  assert figure.width > 0 and figure.height > 0


# ----------------------------------------------------------------------------------------------
# The whole script, on a two-step run and a five-step classifier.


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


@pytest.mark.slow
def test_latent_walk_writes_figures_and_report(tiny_run, tiny_classifier, tmp_path):
  out_dir = str(tmp_path / "latent")
  lines = []
  report = latent_walk.latent_walk(tiny_run, out_dir, seed=1, classifier=tiny_classifier,
                                   num_samples=120, repetitions=3, batch_size=64,
                                   log=lines.append)
  for name in study.FIGURES:
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
  assert len(morph["strip_labels"]) == study.NUM_STEPS
  assert set(report["arithmetic"]) == {"thickness", "slant"}
  for stats in report["arithmetic"].values():
    assert stats["repetitions"] == 3
    assert sum(stats["result_label_counts"].values()) == 3
    assert len(stats["walk"]["attribute_mean"]) == len(study.WALK_ALPHAS)
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


@pytest.mark.slow
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
  with pytest.raises(config_lib.ConfigError, match=r"'toy_ring'; latent_walk needs an MNIST "
                                                  r"run \(dataset mnist5k or mnist\)"):
    latent_walk.latent_walk(str(tmp_path), classifier=object())


def test_settings_are_checked_before_the_run_is_opened(tmp_path):
  with pytest.raises(ValueError, match="needs repetitions to be an int >= 1; got 0"):
    latent_walk.latent_walk(str(tmp_path), classifier=object(), repetitions=0)
