"""The seed's ``dcgan28`` Keras DCGAN and its own ``train_on_batch`` loop, for speed comparisons.

This is the seed's code path, kept as the seed wrote it: a compiled discriminator, a combined
``gan = Sequential([generator, discriminator])`` compiled with the discriminator frozen, and per
iteration

1. ``noise = np.random.normal(0, 1, (B, 100))``, ``fake = generator.predict_on_batch(noise)``;
2. ``discriminator.train_on_batch(concat(real, fake), concat(ones, zeros))``;
3. ``gan.train_on_batch(noise, ones)`` (G in training mode, D frozen).

Adam(2e-4, beta_1=0.5) and binary cross-entropy from logits for both. Keras decides XLA itself
(``jit_compile='auto'``, which is off on a CPU-only TensorFlow); the train functions are
``tf.function`` graphs.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top
from keras import layers  # pylint: disable=g-import-not-at-top

LATENT_DIM = 100
G_TRAINABLE_PARAMS = 852_609  # gan.models.DCGAN28Generator
D_TRAINABLE_PARAMS = 212_865  # gan.models.DCGAN28Discriminator


def build_generator(latent_dim: int = LATENT_DIM) -> keras.Model:
  """Dense(128*7*7) -> LeakyReLU -> BN -> 7x7x128 -> up x2 -> Conv64 k5 -> BN -> LeakyReLU ->
  up x2 -> Conv1 k5 -> tanh."""
  return keras.Sequential([
      keras.Input((latent_dim,)),
      layers.Dense(128 * 7 * 7),
      layers.LeakyReLU(negative_slope=0.2),
      layers.BatchNormalization(momentum=0.99, epsilon=1e-3),
      layers.Reshape((7, 7, 128)),
      layers.UpSampling2D(),
      layers.Conv2D(64, 5, padding="same"),
      layers.BatchNormalization(momentum=0.99, epsilon=1e-3),
      layers.LeakyReLU(negative_slope=0.2),
      layers.UpSampling2D(),
      layers.Conv2D(1, 5, padding="same", activation="tanh"),
  ], name="generator")


def build_discriminator() -> keras.Model:
  """Conv64 k5 s2 -> LeakyReLU -> Dropout 0.3 -> Conv128 k5 s2 -> LeakyReLU -> Dropout 0.3 ->
  Flatten -> Dense 1 (a logit)."""
  return keras.Sequential([
      keras.Input((28, 28, 1)),
      layers.Conv2D(64, 5, strides=2, padding="same"),
      layers.LeakyReLU(negative_slope=0.2),
      layers.Dropout(0.3),
      layers.Conv2D(128, 5, strides=2, padding="same"),
      layers.LeakyReLU(negative_slope=0.2),
      layers.Dropout(0.3),
      layers.Flatten(),
      layers.Dense(1),
  ], name="discriminator")


def trainable_params(model: keras.Model) -> int:
  """Number of trainable scalars (BatchNorm moving statistics are not trainable)."""
  return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def _adam():
  return keras.optimizers.Adam(learning_rate=2e-4, beta_1=0.5)


class KerasDCGAN:
  """The seed's train_on_batch loop on a fixed random real batch.

  Args:
    batch_size: examples per D update (and per G update).
    seed: for the parameters, the data and the noise.
  """

  def __init__(self, batch_size: int, seed: int = 0):
    keras.utils.set_random_seed(seed)
    self.batch_size = batch_size
    self.generator = build_generator()
    self.discriminator = build_discriminator()
    g_count = trainable_params(self.generator)
    d_count = trainable_params(self.discriminator)
    assert g_count == G_TRAINABLE_PARAMS, f"G has {g_count} trainable parameters"
    assert d_count == D_TRAINABLE_PARAMS, f"D has {d_count} trainable parameters"
    loss = keras.losses.BinaryCrossentropy(from_logits=True)
    self.discriminator.compile(optimizer=_adam(), loss=loss)
    self.discriminator.trainable = False
    self.gan = keras.Sequential([self.generator, self.discriminator], name="gan")
    self.gan.compile(optimizer=_adam(), loss=loss)
    self.discriminator.trainable = True
    self.rng = np.random.default_rng(seed)
    self.real = self.rng.uniform(-1, 1, (batch_size, 28, 28, 1)).astype(np.float32)
    self.d_labels = np.concatenate([np.ones((batch_size, 1)), np.zeros((batch_size, 1))]
                                   ).astype(np.float32)
    self.g_labels = np.ones((batch_size, 1), np.float32)

  def step(self) -> float:
    """One iteration: a D update on real and fake, then a G update. Returns the G loss."""
    noise = self.rng.normal(0, 1, (self.batch_size, LATENT_DIM)).astype(np.float32)
    fake = self.generator.predict_on_batch(noise)
    self.discriminator.trainable = True
    self.discriminator.train_on_batch(np.concatenate([self.real, fake]), self.d_labels)
    self.discriminator.trainable = False
    return float(self.gan.train_on_batch(noise, self.g_labels))
