"""Tests for gan/evaluation.py: dispatch on the dataset spec, a stub feature network end to end,
the protocols' numbers against the metrics computed directly, and the table."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import common
from experiments.configs import toy_ring
from gan import config as config_lib
from gan import data
from gan import evaluation
from gan import metrics
from gan import sampling
from gan import step as step_lib
from gan.data import toys


def test_every_dataset_is_dispatched_by_its_spec():
  for name in data.names():
    config = common.base_config()
    config.dataset = name
    spec = data.get(name)
    if spec.evaluation is None:
      with pytest.raises(config_lib.ConfigError, match=f"Dataset '{name}' cannot be evaluated"):
        evaluation.protocol_for(config)
    else:
      assert evaluation.protocol_for(config) is evaluation.PROTOCOLS[spec.evaluation]
  # The digit classifier serves digits only: fashion_mnist is refused, not scored by it.
  config = common.base_config()
  config.dataset = "fashion_mnist"
  with pytest.raises(config_lib.ConfigError, match="knows only digits"):
    evaluation.Evaluator(config)


def _stub_network():
  """Features: 16 pixels; probabilities: a softmax of 10 fixed projections. Cheap and exact."""
  projection = np.random.default_rng(0).normal(size=(784, 10)).astype(np.float32) / 28.0

  def outputs(images):
    flat = np.asarray(images, np.float32).reshape(len(images), -1)
    logits = flat @ projection
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    return {"features": flat[:, ::49].astype(np.float64),
            "probabilities": probabilities / probabilities.sum(1, keepdims=True)}

  return evaluation.FeatureNetwork(outputs, "stub")


@pytest.mark.slow
def test_image_protocol_with_a_stub_network_matches_the_metrics_computed_directly(tmp_path):
  config = common.base_config()
  config.data_dir = str(tmp_path)
  config.eval_num_samples = 600
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(3))
  network = _stub_network()
  result = evaluation.Evaluator(config, log=lambda m: None, network=network)(gan, state)

  test = data.make_source("mnist5k", "test", data_dir=str(tmp_path)).all_examples()["image"]
  train = data.make_source("mnist5k", "train", data_dir=str(tmp_path)).all_examples(
      limit=600)["image"]
  fake = evaluation.generate_samples(gan, state, 600, config.seed, use_ema=False)
  test_out, train_out, fake_out = network(test), network(train), network(fake)
  assert result["num_samples"] == 600 and result["num_test"] == 1000
  assert result["feature_network"] == "stub"
  np.testing.assert_allclose(result["model"]["fid"], metrics.fid_from_features(
      test_out["features"], fake_out["features"]), rtol=1e-6)
  np.testing.assert_allclose(result["reference"]["fid"], metrics.fid_from_features(
      test_out["features"], train_out["features"]), rtol=1e-6)
  np.testing.assert_allclose(result["model"]["precision"], metrics.precision_recall(
      test_out["features"], fake_out["features"])[0], rtol=1e-6)
  np.testing.assert_allclose(result["model"]["score"], metrics.inception_score(
      fake_out["probabilities"])[0], rtol=1e-6)
  # The score's reference is the ceiling: the test split's own score.
  np.testing.assert_allclose(result["reference"]["score"], metrics.inception_score(
      test_out["probabilities"])[0], rtol=1e-6)
  # An untrained G is far from the data; two real samples are close.
  assert result["model"]["fid"] > 5 * result["reference"]["fid"]
  # How the network sorts the samples, beside the test split (digits protocol).
  for probabilities, where in ((fake_out["probabilities"], "model"),
                               (test_out["probabilities"], "reference")):
    fraction, shares = metrics.class_shares(probabilities, evaluation.DIGIT_CONFIDENCE)
    assert result[where]["confident_fraction"] == fraction
    assert result[where]["min_class_share"] == shares.min()
    assert result["class_share"][where] == shares.tolist()
  assert "| share of class 9 |" in evaluation.format_table(result)


def test_mixture_protocol_scores_against_the_specs_mixture():
  config = toy_ring.get_config()
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(0))
  result = evaluation.evaluate_state(config, gan, state)
  samples = evaluation.generate_samples(gan, state, evaluation.MIXTURE_SAMPLES, config.seed)
  # (An untrained G puts no sample near a mode: reverse KL is NaN on both sides.)
  np.testing.assert_equal(result["model"],
                          metrics.mixture_metrics(samples, toys.RING.means, toys.RING.std))
  # Real ring points capture all 8 modes, nearly all of them within 3 standard deviations; with
  # another mixture's means (the grid's) they would capture none.
  assert result["reference"]["modes"] == 8
  # Within 3 sigma of its mode in 2-D: P(chi^2_2 < 9) = 1 - exp(-4.5) = 0.9889 (s.e. 0.002).
  np.testing.assert_allclose(result["reference"]["high_quality"], 1 - np.exp(-4.5), atol=0.007)


def test_generate_samples_draws_z_per_batch_and_honours_labels():
  config = common.base_config()
  config.conditional = True
  config.latent_dim = 4
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(0))
  samples = evaluation.generate_samples(gan, state, 5, seed=7, num_classes=10, use_ema=False,
                                        batch_size=2, labels=3)
  key = jax.random.fold_in(jax.random.key(7), sampling._EVAL_SALT)  # pylint: disable=protected-access
  z = jnp.concatenate([jax.random.normal(jax.random.fold_in(key, i), (2, 4)) for i in range(3)])
  direct = step_lib.generate(gan, state, z[:5], jnp.full((5,), 3), use_ema=False)
  np.testing.assert_allclose(samples, direct, atol=1e-5)
  with pytest.raises(ValueError, match=r"labels must be in \[0, 10\)"):
    evaluation.generate_samples(gan, state, 2, 0, num_classes=10, labels=[0, 10])
  with pytest.raises(ValueError, match="not class conditional"):
    evaluation.generate_samples(gan, state, 2, 0, num_classes=0, labels=1)


def test_format_table():
  result = {"model": {"fid": 12.5, "kid": 0.25, "kid_std": 0.125, "score": 7.0},
            "reference": {"fid": 2.0, "kid": 0.0, "score": 9.5}}
  assert evaluation.format_table(result) == (
      "| metric | model | real data | reference is |\n|---|---|---|---|\n"
      "| fid | 12.5000 | 2.0000 | floor: train vs test |\n"
      "| kid | 0.2500 ± 0.1250 | 0.0000 | floor: train vs test |\n"
      "| score | 7.0000 | 9.5000 | ceiling: test split |")


# ---------------------------------------------------------------------------------------------
# Stacked MNIST: modes of 1,000 and KL to uniform, each channel read by a digit classifier.


def _oracle_digit_network(data_dir):
  """Reads a digit exactly: the label of the mnist5k image it equals (every stacked channel is
  one). Stands in for the trained classifier, so the expected numbers follow from the labels."""
  lookup = {}
  for split in ("train", "test"):
    examples = data.make_source("mnist5k", split, data_dir=data_dir).all_examples()
    for image, label in zip(examples["image"], examples["label"]):
      lookup[image.tobytes()] = label

  def outputs(images):
    labels = np.array([lookup[np.ascontiguousarray(x).tobytes()] for x in np.asarray(images)])
    return {"probabilities": np.eye(10)[labels]}

  return evaluation.FeatureNetwork(outputs, "oracle")


def _stacked_config(data_dir, num_samples):
  config = common.base_config()
  config.dataset = "stacked_mnist"
  config.data_dir = data_dir
  config.eval_num_samples = num_samples
  return config


def _evaluate_as_if_generated(monkeypatch, config, images):
  """The stacked_mnist protocol with ``images`` in place of the generator's samples."""
  monkeypatch.setattr(evaluation, "generate_samples",
                      lambda gan, state, num, *args, **kwargs: images[:num])
  evaluator = evaluation.Evaluator(config, log=lambda m: None,
                                   network=_oracle_digit_network(config.data_dir))
  return evaluator(config_lib.build_gan(config), None)


def test_stacked_mnist_protocol_on_real_images_finds_nearly_all_modes(tmp_path, monkeypatch):
  config = _stacked_config(str(tmp_path), 5000)
  real_train = data.make_source("stacked_mnist", "train", data_dir=str(tmp_path)).all_examples(
      limit=5000)
  result = _evaluate_as_if_generated(monkeypatch, config, real_train["image"])
  # By hand from the labels (the oracle reads every digit right): the histogram of true modes.
  counts = np.bincount(real_train["label"], minlength=1000) / 5000
  kl = np.sum(counts[counts > 0] * np.log(1000 * counts[counts > 0]))
  assert result["model"]["modes"] == np.count_nonzero(counts)
  np.testing.assert_allclose(result["model"]["reverse_kl"], kl, rtol=1e-12)
  # 5,000 uniform draws of 1,000 modes: 1000 (1 - e^-5) = 993 expected, KL ~ 999 / 10000.
  assert result["model"]["modes"] >= 985 and result["model"]["reverse_kl"] < 0.15
  # The reference: as many real test images, read the same way, every mode read right.
  assert result["num_samples"] == result["num_test"] == 5000
  assert result["reference"]["modes"] >= 985 and result["reference"]["reverse_kl"] < 0.15
  assert result["reference_mode_accuracy"] == 1.0
  assert result["feature_network"] == "oracle"
  table = evaluation.format_table(result)
  assert "| modes |" in table and "real stacked test images (N = 5000)" in table


def test_stacked_mnist_protocol_on_one_repeated_image(tmp_path, monkeypatch):
  config = _stacked_config(str(tmp_path), 300)
  image = data.make_source("stacked_mnist", "test", data_dir=str(tmp_path)).all_examples(
      limit=1)["image"]
  result = _evaluate_as_if_generated(monkeypatch, config, np.repeat(image, 300, axis=0))
  # All mass on one of 1,000 modes: KL(p || u) = 1 * log(1 / (1/1000)) = log 1000 = 6.9078.
  assert result["model"]["modes"] == 1
  np.testing.assert_allclose(result["model"]["reverse_kl"], np.log(1000.0), rtol=1e-12)


def test_stacked_mnist_digits_reads_each_channel():
  images = np.zeros((2, 28, 28, 3), np.float32)
  images[..., 1] = 0.5
  images[1, ..., 2] = 1.0
  # A "classifier" that reads a digit as its mean pixel value, rounded, plus 2.
  network = evaluation.FeatureNetwork(
      lambda x: {"probabilities": np.eye(10)[np.rint(x.mean(axis=(1, 2, 3))).astype(int) + 2]},
      "mean")
  np.testing.assert_array_equal(evaluation.stacked_mnist_digits(network, images),
                                [[2, 2, 2], [2, 2, 3]])
