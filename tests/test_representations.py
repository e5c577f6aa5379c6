"""Tests for gan/studies/representations.py: the feature extractors and the two scores."""

import jax
import numpy as np
import pytest
from experiments.configs import autoencoder_mnist
from experiments.configs import dcgan_mnist
import gan
from gan import autoencoder as ae
from gan import data
from gan.models import dcgan
from gan.studies import representations


def test_nearest_neighbour_accuracy_by_hand():
  train = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
  test = np.array([[1.0, 1.0], [9.0, 1.0], [1.0, 9.0], [6.0, 0.0]])
  # Nearest: 0, 1, 2, 1; with training labels (0, 1, 2) the labels (0, 1, 0, 1) match 3 of 4.
  assert representations.nearest_neighbour_accuracy(
      train, np.array([0, 1, 2]), test, np.array([0, 1, 0, 1])) == 0.75


def test_standardise_uses_the_training_statistics_and_leaves_constant_features_unscaled():
  train = np.array([[1.0, 5.0], [3.0, 5.0]])
  test = np.array([[2.0, 7.0]])
  a, b = representations.standardise(train, test)
  np.testing.assert_allclose(a, [[-1.0, 0.0], [1.0, 0.0]])
  np.testing.assert_allclose(b, [[0.0, 2.0]])  # centred by 5, not divided by a zero std


def test_linear_probe_separates_separable_classes_and_not_noise():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 3, 600)
  centres = np.array([[4.0, 0.0], [-4.0, 0.0], [0.0, 4.0]])
  points = centres[labels] + rng.normal(size=(600, 2))
  noise = rng.normal(size=(600, 2))
  probe = lambda x: representations.linear_probe(x[:400], labels[:400], x[400:], labels[400:], 3,
                                                 steps=300)
  assert probe(points)["test_accuracy"] > 0.97
  assert probe(noise)["test_accuracy"] < 0.5  # chance is 1/3


def test_discriminator_features_are_the_input_of_its_logit_layer():
  d = dcgan.DCGAN28Discriminator()
  x = jax.random.uniform(jax.random.key(0), (5, 28, 28, 1), minval=-1.0, maxval=1.0)
  variables = d.init(jax.random.key(1), x, train=False)
  features = representations.discriminator_features(d, variables["params"], {}, np.asarray(x),
                                                    batch_size=2)
  assert features.shape == (5, 7 * 7 * 128)
  out = variables["params"]["out"]
  np.testing.assert_allclose(features @ np.asarray(out["kernel"])[:, 0] + np.asarray(out["bias"]),
                             d.apply(variables, x, train=False), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_compare_scores_every_representation_with_its_dimensions(tmp_path):
  config = dcgan_mnist.get_config()
  gan_model = gan.build_gan(config)
  gan_run = gan.Run(workdir="", config=config, gan=gan_model, step=0,
                    state=gan.create_state(gan_model, jax.random.key(3)))
  objective = ae.build_objective(autoencoder_mnist.get_config())
  trained = ae.TrainedAutoencoder("", autoencoder_mnist.get_config(), objective, 0,
                                  ae.create_state(objective, jax.random.key(4)).params)
  source = lambda split, n: data.make_source("mnist5k", split, data_dir=str(tmp_path)
                                             ).all_examples(limit=n)
  rows = representations.compare(trained, gan_run, source("train", 60), source("test", 20),
                                 log=lambda message: None)
  assert [(r["name"], r["dims"]) for r in rows] == [
      ("raw pixels", 784), ("autoencoder code, trained (50 epochs)", 128),
      ("autoencoder code, random init", 128), ("GAN D penultimate, trained (0 steps)", 6272),
      ("GAN D penultimate, random init", 6272)]
  assert all(0.0 <= r["nn_accuracy"] <= 1.0 and 0.0 <= r["probe_accuracy"] <= 1.0 for r in rows)
  assert rows[0]["probe_train_accuracy"] == 1.0  # 60 digits in 784 dimensions are separable
  table = representations.markdown_table(rows)
  assert table.splitlines()[2].startswith("| raw pixels | 784 | ")
