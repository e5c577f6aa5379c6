"""What a representation of a digit captures: raw pixels, an autoencoder's code and a GAN
discriminator's features, scored the same two ways on a labelled train/test split.

* **1-nearest-neighbour accuracy**: each test example takes the label of its Euclidean nearest
  neighbour among the training examples (`gan.metrics.nearest_neighbours`), in the
  representation's own space, unscaled. It asks whether examples of one class lie close together.
* **Linear-probe accuracy**: multinomial logistic regression on the training examples' features,
  standardised with the training mean and standard deviation, fitted by full-batch Adam for a
  fixed number of steps from zero weights (the problem is convex, so the start does not matter
  and the result is deterministic), scored on the test examples. It asks whether the classes are
  linearly separable in that space. No setting is tuned per representation.

Neither the autoencoder nor the GAN saw a label: both scores measure what unsupervised training
put into the features. Randomly initialised networks are the controls (a random convolutional
network's features are already better than pixels for some tasks), so the gain from training is
the difference to them.

Feature extractors: `pixel_features`, `discriminator_features` (the input of D's final ``out``
layer, the layer every registered family names so, read with `flax.linen.intercept_methods`,
without changing the model or the step) and, for the autoencoder,
`gan.autoencoder.TrainedAutoencoder.encode`.

References:
  G. Alain and Y. Bengio, "Understanding intermediate layers using linear classifier probes",
  2016 (linear probes).
  A. Radford et al., "Unsupervised Representation Learning with Deep Convolutional Generative
  Adversarial Networks", 2015 (a GAN discriminator's features for classification).
"""

from __future__ import annotations

from typing import Any, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan import batching
from gan import metrics

PROBE_STEPS = 1000
PROBE_LEARNING_RATE = 1e-2
PROBE_L2 = 1e-4  # weight decay on the probe's weights (not its biases), per example-mean loss
_STD_FLOOR = 1e-6  # a constant feature (a border pixel) is centred, not scaled


def pixel_features(images: np.ndarray) -> np.ndarray:
  """``[N, H, W, C]`` -> ``[N, H * W * C]``, the pixels themselves."""
  images = np.asarray(images, np.float32)
  return images.reshape(images.shape[0], -1)


def discriminator_features(discriminator: nn.Module, params: Any, batch_stats: Any,
                           images: np.ndarray, labels: Optional[np.ndarray] = None,
                           batch_size: int = 250) -> np.ndarray:
  """The penultimate features of a GAN discriminator: the input of its final layer ``out``.

  Args:
    discriminator: a registered family's D (`gan.models.registry.Discriminator`).
    params, batch_stats: its variables (``state.d_params``, ``state.d_batch_stats``).
    images: ``[N, *data_shape]`` in D's data range ([-1, 1] for images).
    labels: ``[N]`` class labels for a conditional D, else None.
    batch_size: examples per jitted call.

  Returns:
    ``[N, F]`` float32, D run in evaluation mode (no dropout, BatchNorm's running statistics).

  Raises:
    ValueError: D has no submodule named ``out``.
  """
  def features(batch):
    captured = []

    def capture(next_fun, args, kwargs, context):
      if context.module.name == "out" and context.method_name == "__call__":
        captured.append(args[0])
      return next_fun(*args, **kwargs)

    with nn.intercept_methods(capture):
      discriminator.apply({"params": params, "batch_stats": batch_stats}, batch["image"],
                          batch.get("label"), train=False)
    if not captured:
      raise ValueError(f"{type(discriminator).__name__} has no final layer named 'out' whose "
                       "input could be read as its features.")
    return captured[-1].reshape(captured[-1].shape[0], -1)

  inputs = dict(image=np.asarray(images, np.float32))
  if labels is not None:
    inputs["label"] = np.asarray(labels, np.int32)
  return batching.batched_apply(jax.jit(features), inputs, min(batch_size, len(images)))


def nearest_neighbour_accuracy(train_features: np.ndarray, train_labels: np.ndarray,
                               test_features: np.ndarray, test_labels: np.ndarray) -> float:
  """The fraction of test examples whose Euclidean nearest training example has their label."""
  _, index = metrics.nearest_neighbours(test_features, train_features)
  return float(np.mean(np.asarray(train_labels)[index] == np.asarray(test_labels)))


def standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Both sets centred and scaled by the training set's per-feature mean and std."""
  train, test = np.asarray(train, np.float64), np.asarray(test, np.float64)
  mean, std = train.mean(0), train.std(0)
  std = np.where(std < _STD_FLOOR, 1.0, std)
  return ((train - mean) / std).astype(np.float32), ((test - mean) / std).astype(np.float32)


def linear_probe(train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray,
                 test_labels: np.ndarray, num_classes: int, steps: int = PROBE_STEPS,
                 learning_rate: float = PROBE_LEARNING_RATE, l2: float = PROBE_L2
                 ) -> dict[str, float]:
  """Multinomial logistic regression on standardised features: train and test accuracy.

  Full-batch Adam on ``mean cross-entropy + l2 / 2 * ||W||^2`` from zero weights, ``steps``
  steps in one `jax.lax.scan`.
  """
  x_train, x_test = standardise(train_features, test_features)
  y_train = jnp.asarray(train_labels, jnp.int32)
  optimizer = optax.adam(learning_rate)
  params = dict(w=jnp.zeros((x_train.shape[1], num_classes)), b=jnp.zeros((num_classes,)))

  def loss_fn(p, x, y):
    logits = x @ p["w"] + p["b"]
    return (jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y)) +
            0.5 * l2 * jnp.sum(jnp.square(p["w"])))

  @jax.jit
  def fit(params, x, y):
    def step(carry, _):
      p, opt_state = carry
      grads = jax.grad(loss_fn)(p, x, y)
      updates, opt_state = optimizer.update(grads, opt_state, p)
      return (optax.apply_updates(p, updates), opt_state), None
    (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), None, length=steps)
    return params

  params = fit(params, jnp.asarray(x_train), y_train)
  accuracy = lambda x, y: float(np.mean(np.argmax(np.asarray(x @ params["w"] + params["b"]), -1)
                                        == np.asarray(y)))
  return dict(train_accuracy=accuracy(jnp.asarray(x_train), train_labels),
              test_accuracy=accuracy(jnp.asarray(x_test), test_labels))


def score(train_features: np.ndarray, train_labels: np.ndarray, test_features: np.ndarray,
          test_labels: np.ndarray, num_classes: int) -> dict[str, float]:
  """``{'dims', 'nn_accuracy', 'probe_accuracy', 'probe_train_accuracy'}`` of one representation."""
  train_features = np.asarray(train_features, np.float32).reshape(len(train_features), -1)
  test_features = np.asarray(test_features, np.float32).reshape(len(test_features), -1)
  probe = linear_probe(train_features, train_labels, test_features, test_labels, num_classes)
  return dict(dims=int(train_features.shape[1]),
              nn_accuracy=nearest_neighbour_accuracy(train_features, train_labels,
                                                     test_features, test_labels),
              probe_accuracy=probe["test_accuracy"],
              probe_train_accuracy=probe["train_accuracy"])


def markdown_table(rows: list[dict]) -> str:
  """Rows ``{'name', 'dims', 'nn_accuracy', 'probe_accuracy', ...}`` as a Markdown table."""
  lines = ["| representation | dims | 1-NN accuracy | linear probe accuracy (train) |",
           "|---|---:|---:|---:|"]
  for r in rows:
    lines.append(f"| {r['name']} | {r['dims']:,} | {100 * r['nn_accuracy']:.1f}% | "
                 f"{100 * r['probe_accuracy']:.1f}% ({100 * r['probe_train_accuracy']:.1f}%) |")
  return "\n".join(lines) + "\n"


def compare(autoencoder: Any, gan_run: Any, train: dict, test: dict, denoising: Any = None,
            log=print) -> list[dict]:
  """Every representation of the study, scored: one row each, in table order.

  Args:
    autoencoder: a `gan.autoencoder.TrainedAutoencoder` (its random initialisation is a control).
    gan_run: a `gan.runs.Run` of an unconditional MNIST GAN (likewise).
    train, test: ``{'image': [N, 28, 28, 1] in [-1, 1], 'label': [N]}``, the gallery / probe
      training set and the held-out queries.
    denoising: optionally a second, denoising `TrainedAutoencoder`.
    log: called with each row as it is scored.
  """
  from gan import autoencoder as ae  # pylint: disable=g-import-not-at-top
  from gan import step  # pylint: disable=g-import-not-at-top
  splits = (train, test)
  unit = [ae.to_unit_interval(np.asarray(s["image"])) for s in splits]
  fresh_ae = ae.create_state(autoencoder.objective, jax.random.key(0)).params
  fresh_d = step.create_state(gan_run.gan, jax.random.key(0))

  def d_features(params, batch_stats):
    return [discriminator_features(gan_run.gan.discriminator, params, batch_stats, s["image"])
            for s in splits]

  features = {"raw pixels": [pixel_features(u) for u in unit],
              f"autoencoder code, trained ({autoencoder.config.num_epochs} epochs)":
                  [autoencoder.encode(u) for u in unit]}
  if denoising is not None:
    features[f"denoising autoencoder code, trained (noise std {denoising.config.noise_std:g})"] = [
        denoising.encode(u) for u in unit]
  features["autoencoder code, random init"] = [autoencoder.encode(u, params=fresh_ae)
                                               for u in unit]
  features[f"GAN D penultimate, trained ({gan_run.step:,} steps)"] = d_features(
      gan_run.state.d_params, gan_run.state.d_batch_stats)
  features["GAN D penultimate, random init"] = d_features(fresh_d.d_params, fresh_d.d_batch_stats)
  num_classes = int(max(np.max(train["label"]), np.max(test["label"]))) + 1
  rows = []
  for name, (train_features, test_features) in features.items():
    rows.append(dict(name=name, **score(train_features, train["label"], test_features,
                                        test["label"], num_classes)))
    log(f"{name}: " + ", ".join(f"{k}={v:.4g}" for k, v in rows[-1].items() if k != "name"))
  return rows
