"""Evaluating a GAN against held-out real data, always beside the real-data references.

A number like "FID 12" means little alone, so every evaluation also reports what real data
scores under the same protocol:

* the **floor** of FID/KID: the training split against the held-out test split (two real samples
  of the same distribution, with the same sample sizes as the model's comparison);
* the **ceiling** of the (MNIST/Inception) score: the score of the held-out test split;
* precision/recall and density/coverage of the training split against the test split.

Generated samples are compared with the *test* split, which the GAN never saw.

Feature networks: the in-repo MNIST classifier (`gan.classifier`) for 28x28x1 data; the FID
InceptionV3 (`gan.inception`, weights from ``config.inception_weights``) for CIFAR-10 and CelebA.
The 2-D toys use the mixture metrics of the VEEGAN/PacGAN protocol instead.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan import input_pipeline
from gan import metrics
from gan import train

MIXTURE_SAMPLES = 2500  # the VEEGAN/PacGAN protocol
_EVAL_SALT = 0xE7A1


def generate_samples(gan: train.GAN, state: train.GANState, num: int, seed: int,
                     num_classes: int = 0, use_ema: bool = True, batch_size: int = 1000
                     ) -> np.ndarray:
  """``num`` samples from fresh z (a pure function of ``seed``), in jitted fixed-size batches."""
  key = jax.random.fold_in(jax.random.key(seed), _EVAL_SALT)
  batch_size = min(batch_size, num)

  @jax.jit
  def sample(state, index):
    k = jax.random.fold_in(key, index)
    z = jax.random.normal(k, (batch_size, gan.latent_dim))
    labels = (jax.random.randint(jax.random.fold_in(k, 1), (batch_size,), 0, num_classes)
              if num_classes else None)
    return train.generate(gan, state, z, labels, use_ema=use_ema)

  batches = [sample(state, i) for i in range(math.ceil(num / batch_size))]
  return np.concatenate([np.asarray(b) for b in batches])[:num]


class FeatureNetwork:
  """Features (and class probabilities) of images, from whichever network suits the data."""

  def __init__(self, outputs: Callable[[np.ndarray], dict], name: str):
    self._outputs = outputs
    self.name = name

  def __call__(self, images: np.ndarray) -> dict:
    return self._outputs(images)


def feature_network(config: ml_collections.ConfigDict, log: Callable[[str], None] = print
                    ) -> FeatureNetwork:
  """The MNIST classifier for 28x28x1 data, the FID Inception for CIFAR-10/CelebA."""
  info = input_pipeline.dataset_info(config.dataset)
  if info.data_shape == (28, 28, 1):
    from gan import classifier  # pylint: disable=g-import-not-at-top
    net = classifier.load_or_train_classifier(data_dir=config.data_dir or None, log=log)
    return FeatureNetwork(
        lambda x: {k: v for k, v in net.outputs(x).items() if k in ("features", "probabilities")},
        f"mnist classifier v{classifier.CLASSIFIER_VERSION} (held-out accuracy "
        f"{net.accuracy:.2%})")
  if len(info.data_shape) == 3:
    from gan import inception  # pylint: disable=g-import-not-at-top
    params = inception.load_inception_params(config.get("inception_weights", ""))
    apply = jax.jit(lambda x: inception.inception_features(params, x, return_logits=True))

    def outputs(images):
      feats, probs = [], []
      for i in range(0, len(images), 100):
        f, logits = apply(jnp.asarray(images[i:i + 100]))
        feats.append(np.asarray(f))
        probs.append(np.asarray(jax.nn.softmax(logits)))  # all 1,008, as the original IS code
      return {"features": np.concatenate(feats), "probabilities": np.concatenate(probs)}

    return FeatureNetwork(outputs, "FID InceptionV3 (pt_inception-2015-12-05)")
  raise ValueError(f"No feature network for {config.dataset!r}; toys use mixture metrics.")


def _image_metrics(real_a: dict, real_b: dict) -> dict:
  """Distribution metrics of feature set ``real_b`` against reference set ``real_a``."""
  fid = metrics.fid_from_features(real_a["features"], real_b["features"])
  kid, kid_std = metrics.kernel_inception_distance(real_a["features"], real_b["features"],
                                                   num_subsets=50, subset_size=500)
  precision, recall = metrics.precision_recall(real_a["features"], real_b["features"])
  density, coverage = metrics.density_coverage(real_a["features"], real_b["features"])
  score, score_std = metrics.inception_score(real_b["probabilities"])
  return dict(fid=fid, kid=kid, kid_std=kid_std, precision=precision, recall=recall,
              density=density, coverage=coverage, score=score, score_std=score_std)


def real_references(config: ml_collections.ConfigDict, network: FeatureNetwork) -> dict:
  """Features of the test split and the real-data reference metrics (train vs test)."""
  data_dir = config.data_dir or None
  test = input_pipeline.make_source(config.dataset, "test", data_dir=data_dir).all_examples(
      limit=config.get("eval_num_samples") if config.dataset == "celeb_a" else None)
  train_split = input_pipeline.make_source(config.dataset, "train", data_dir=data_dir)
  train_images = train_split.all_examples(limit=config.eval_num_samples)["image"]
  test_out = network(test["image"])
  train_out = network(train_images)
  reference = _image_metrics(test_out, train_out)
  reference["score"], reference["score_std"] = metrics.inception_score(test_out["probabilities"])
  return dict(test_outputs=test_out, reference=reference, num_real=len(train_images),
              num_test=len(test["image"]))


def evaluate_state(config: ml_collections.ConfigDict, gan: train.GAN, state: train.GANState,
                   references: Optional[dict] = None, network: Optional[FeatureNetwork] = None,
                   log: Callable[[str], None] = print) -> dict:
  """Evaluates ``state``; returns ``{'model': {...}, 'reference': {...}, ...}``.

  For image data: FID, KID (mean and std over subsets), the class-probability score,
  precision/recall (k = 3) and density/coverage (k = 5) of ``eval_num_samples`` generated images
  against the test split, beside the same metrics for real training images (the reference).
  For the 2-D toys: modes captured, high-quality fraction and reverse KL on 2,500 samples.
  """
  start = time.perf_counter()
  num_classes = gan.num_classes
  if config.dataset in ("toy_ring", "toy_grid"):
    means = input_pipeline.ring_means() if config.dataset == "toy_ring" else \
        input_pipeline.grid_means()
    sigma = metrics.RING_SIGMA if config.dataset == "toy_ring" else metrics.GRID_SIGMA
    samples = generate_samples(gan, state, MIXTURE_SAMPLES, config.seed, num_classes,
                               use_ema=config.ema_decay > 0)
    real = input_pipeline.make_source(config.dataset, "test").all_examples(
        limit=MIXTURE_SAMPLES)["image"]
    return dict(model=metrics.mixture_metrics(samples, means, sigma),
                reference=metrics.mixture_metrics(real, means, sigma),
                num_samples=MIXTURE_SAMPLES, seconds=time.perf_counter() - start)
  if config.dataset == "toy_1d":
    samples = generate_samples(gan, state, 10000, config.seed, use_ema=config.ema_decay > 0)
    real = input_pipeline.make_source(config.dataset, "test").all_examples(limit=10000)["image"]
    describe = lambda x: dict(mean=float(np.mean(x)), std=float(np.std(x)))
    return dict(model=describe(samples), reference=describe(real), num_samples=10000,
                seconds=time.perf_counter() - start)
  network = network or feature_network(config, log)
  references = references or real_references(config, network)
  samples = generate_samples(gan, state, references["num_real"], config.seed, num_classes,
                             use_ema=config.ema_decay > 0)
  model = _image_metrics(references["test_outputs"], network(samples))
  return dict(model=model, reference=references["reference"], num_samples=len(samples),
              num_test=references["num_test"], feature_network=network.name,
              seconds=time.perf_counter() - start)


def format_table(result: dict) -> str:
  """A markdown table of the model's metrics beside the real-data references."""
  rows = []
  notes = {"fid": "floor: train vs test", "kid": "floor: train vs test",
           "score": "ceiling: test split", "modes": "all modes", "high_quality": "",
           "reverse_kl": ""}
  for key, value in result["model"].items():
    if key.endswith("_std"):
      continue
    ref = result["reference"].get(key, float("nan"))
    std = result["model"].get(f"{key}_std")
    shown = f"{value:.4f}" + (f" ± {std:.4f}" if std is not None else "")
    rows.append(f"| {key} | {shown} | {ref:.4f} | {notes.get(key, 'real train vs test')} |")
  return "| metric | model | real data | reference is |\n|---|---|---|---|\n" + "\n".join(rows)
