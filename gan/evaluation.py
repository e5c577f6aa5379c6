"""Evaluating a GAN against held-out real data, always beside the real-data references.

A number like "FID 12" means little alone, so every evaluation also reports what real data
scores under the same protocol:

* the **floor** of FID/KID: the training split against the held-out test split (two real samples
  of the same distribution, with the same sample sizes as the model's comparison);
* the **ceiling** of the (MNIST/Inception) score: the score of the held-out test split;
* precision/recall and density/coverage of the training split against the test split.

Generated samples are compared with the *test* split, which the GAN never saw.

Which protocol evaluates a dataset is the dataset spec's choice (``DatasetSpec.evaluation``, a key
of `PROTOCOLS`), never a guess from the data's shape:

* ``mnist_classifier``: the image metrics in the feature space of the in-repo MNIST classifier
  (`gan.classifier`), for digits;
* ``inception``: the same metrics with the FID InceptionV3 (`gan.inception`, weights from
  ``config.inception_weights``), for CIFAR-10 and CelebA;
* ``mixture``: the VEEGAN/PacGAN mixture metrics (modes, high-quality samples, reverse KL) against
  the spec's ground-truth mixture, for the 2-D toys;
* ``stacked_mnist``: modes covered out of 1,000 and KL(generated modes || uniform), each channel
  read by the in-repo MNIST classifier, beside the same numbers for real stacked test images
  (Metz et al. 2017; VEEGAN; PacGAN);
* ``moments``: mean and standard deviation, for the 1-D toy.

A dataset whose spec names no protocol (e.g. ``fashion_mnist``: no network here knows clothes) is
refused with the spec's note, instead of being scored by a network that does not fit it.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Optional

import jax
import ml_collections
import numpy as np

from gan import batching
from gan import data
from gan import metrics
from gan import step as step_lib
from gan.errors import ConfigError
from gan.registry import Registry
from gan.sampling import generate_samples  # every evaluation samples through it

MIXTURE_SAMPLES = 2500  # the VEEGAN/PacGAN protocol
# PacGAN scores 26,000 generated Stacked MNIST samples (stacked_MNIST_experiments/
# VEEGAN_experiment/config.py, "num_test_sample"); the stacked_mnist protocol takes
# config.eval_num_samples, which experiments/configs/dcgan_stacked_mnist.py sets to this.
STACKED_MNIST_SAMPLES = 26000
MOMENT_SAMPLES = 10000


class FeatureNetwork:
  """Features (and class probabilities) of images, from whichever network suits the data."""

  def __init__(self, outputs: Callable[[np.ndarray], dict], name: str):
    self._outputs = outputs
    self.name = name

  def __call__(self, images: np.ndarray) -> dict:
    return self._outputs(images)


def _mnist_classifier(config: ml_collections.ConfigDict, log: Callable[[str], None]
                      ) -> FeatureNetwork:
  from gan import classifier  # pylint: disable=g-import-not-at-top
  del config  # one shipped network for every run (gan.classifier.SHIPPED_WEIGHTS)
  net = classifier.evaluation_classifier(log)
  return FeatureNetwork(
      lambda x: {k: v for k, v in net.outputs(x).items() if k in ("features", "probabilities")},
      f"mnist classifier v{classifier.CLASSIFIER_VERSION} (held-out accuracy "
      f"{net.accuracy:.2%})")


def _inception(config: ml_collections.ConfigDict, log: Callable[[str], None]) -> FeatureNetwork:
  del log
  from gan import inception  # pylint: disable=g-import-not-at-top
  params = inception.load_inception_params(config.get("inception_weights", ""))
  apply = jax.jit(lambda x: inception.inception_features(params, x, return_logits=True))

  def outputs(images):
    def features_and_probabilities(batch):
      features, logits = apply(batch)
      # The softmax over all 1,008 logits, as the original Inception Score code takes it.
      return {"features": features, "probabilities": jax.nn.softmax(logits)}
    return batching.batched_apply(features_and_probabilities, images, 100)

  return FeatureNetwork(outputs, "FID InceptionV3 (pt_inception-2015-12-05)")


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
  """Features of the eval split and the real-data reference metrics (train vs eval split)."""
  spec = data.get(config.dataset)
  data_dir = config.data_dir or None
  test = data.make_source(config.dataset, spec.eval_split, data_dir=data_dir).all_examples(
      limit=config.get("eval_num_samples") if spec.eval_split_is_large else None)
  train_split = data.make_source(config.dataset, "train", data_dir=data_dir)
  train_images = train_split.all_examples(limit=config.eval_num_samples)["image"]
  test_out = network(test["image"])
  train_out = network(train_images)
  reference = _image_metrics(test_out, train_out)
  reference["score"], reference["score_std"] = metrics.inception_score(test_out["probabilities"])
  return dict(test_outputs=test_out, reference=reference, num_real=len(train_images),
              num_test=len(test["image"]))


def _image_references(evaluator: "Evaluator") -> dict:
  return real_references(evaluator.config, evaluator.network)


def stacked_mnist_digits(network: FeatureNetwork, images: np.ndarray) -> np.ndarray:
  """The digit ``network`` reads in each channel of ``images``: int ``[N, C]``.

  Args:
    network: a digit classifier's `FeatureNetwork` (its ``probabilities`` are ``[N, 10]``).
    images: ``[N, 28, 28, C]`` in [-1, 1]; each channel is classified as a ``[N, 28, 28, 1]``
      digit (PacGAN's ``log_metrics`` reads channels 0, 1, 2 the same way).
  """
  images = np.asarray(images)
  if images.ndim != 4:
    raise ValueError(f"images must be [N, H, W, C]; got shape {images.shape}.")
  return np.stack([np.argmax(network(images[..., c:c + 1])["probabilities"], axis=-1)
                   for c in range(images.shape[-1])], axis=1)


def _stacked_mnist_references(evaluator: "Evaluator") -> dict:
  """Modes and KL of the first ``eval_num_samples`` real images of the eval split, and how
  often the classifier reads their mode right (their labels are their modes)."""
  spec, config = evaluator.spec, evaluator.config
  real = data.make_source(spec.name, spec.eval_split, data_dir=config.data_dir or None
                          ).all_examples(limit=config.eval_num_samples)
  digits = stacked_mnist_digits(evaluator.network, real["image"])
  modes = digits @ (10 ** np.arange(digits.shape[1] - 1, -1, -1))
  return dict(reference=metrics.stacked_mnist_modes(digits), num_test=len(digits),
              mode_accuracy=float(np.mean(modes == real["label"])))


@dataclasses.dataclass(frozen=True)
class Protocol:
  """How samples of a dataset are evaluated.

  Attributes:
    evaluate: ``evaluate(evaluator, gan, state) -> {'model': ..., 'reference': ..., ...}``.
    feature_network: ``(config, log) -> FeatureNetwork`` for protocols in a feature space.
    references: ``(evaluator) -> dict``: the real-data references, computed once per
      `Evaluator` on first use (``evaluator.references``); None for protocols that need none.
  """
  evaluate: Callable[..., dict]
  feature_network: Optional[Callable[..., FeatureNetwork]] = None
  references: Optional[Callable[["Evaluator"], dict]] = None


def _evaluate_images(evaluator: "Evaluator", gan, state, keep_outputs: bool = False) -> dict:
  network, references = evaluator.network, evaluator.references
  samples = generate_samples(gan, state, references["num_real"], evaluator.config.seed,
                             gan.num_classes, use_ema=gan.ema_decay > 0)
  outputs = network(samples)
  model = _image_metrics(references["test_outputs"], outputs)
  result = dict(model=model, reference=references["reference"], num_samples=len(samples),
                num_test=references["num_test"], feature_network=network.name)
  if keep_outputs:
    result["outputs"] = outputs
  return result


# A digit counts as labelled when the classifier gives its top class at least this probability.
DIGIT_CONFIDENCE = 0.9


def _class_metrics(probabilities) -> tuple[dict, list]:
  fraction, shares = metrics.class_shares(probabilities, DIGIT_CONFIDENCE)
  return dict(confident_fraction=fraction, min_class_share=float(shares.min())), shares.tolist()


def _digit_references(evaluator: "Evaluator") -> dict:
  references = real_references(evaluator.config, evaluator.network)
  scalars, shares = _class_metrics(references["test_outputs"]["probabilities"])
  references["reference"] = dict(references["reference"], **scalars)
  references["class_share"] = shares
  return references


def _evaluate_digits(evaluator: "Evaluator", gan, state) -> dict:
  """The image metrics, plus how the classifier sorts the samples: the fraction it labels
  confidently, and each digit's share of those (beside the test split's)."""
  result = _evaluate_images(evaluator, gan, state, keep_outputs=True)
  scalars, shares = _class_metrics(result.pop("outputs")["probabilities"])
  result["model"].update(scalars)
  result["class_share"] = dict(model=shares, reference=evaluator.references["class_share"])
  return result


def _evaluate_mixture(evaluator: "Evaluator", gan, state) -> dict:
  mixture = evaluator.spec.mixture
  samples = generate_samples(gan, state, MIXTURE_SAMPLES, evaluator.config.seed, gan.num_classes,
                             use_ema=gan.ema_decay > 0)
  real = data.make_source(evaluator.spec.name, evaluator.spec.eval_split).all_examples(
      limit=MIXTURE_SAMPLES)["image"]
  return dict(model=metrics.mixture_metrics(samples, mixture.means, mixture.std),
              reference=metrics.mixture_metrics(real, mixture.means, mixture.std),
              num_samples=MIXTURE_SAMPLES)


def _evaluate_stacked_mnist(evaluator: "Evaluator", gan, state) -> dict:
  network, references = evaluator.network, evaluator.references
  samples = generate_samples(gan, state, evaluator.config.eval_num_samples, evaluator.config.seed,
                             gan.num_classes, use_ema=gan.ema_decay > 0)
  model = metrics.stacked_mnist_modes(stacked_mnist_digits(network, samples))
  return dict(model=model, reference=references["reference"], num_samples=len(samples),
              num_test=references["num_test"], feature_network=network.name,
              reference_mode_accuracy=references["mode_accuracy"],
              reference_notes={key: f"real stacked test images (N = {references['num_test']})"
                               for key in model})


def _evaluate_moments(evaluator: "Evaluator", gan, state) -> dict:
  samples = generate_samples(gan, state, MOMENT_SAMPLES, evaluator.config.seed,
                             use_ema=gan.ema_decay > 0)
  real = data.make_source(evaluator.spec.name, evaluator.spec.eval_split).all_examples(
      limit=MOMENT_SAMPLES)["image"]
  describe = lambda x: dict(mean=float(np.mean(x)), std=float(np.std(x)))
  return dict(model=describe(samples), reference=describe(real), num_samples=MOMENT_SAMPLES)


PROTOCOLS = Registry[Protocol]("evaluation protocol")
PROTOCOLS.register("mnist_classifier",
                   Protocol(_evaluate_digits, _mnist_classifier, _digit_references))
PROTOCOLS.register("inception", Protocol(_evaluate_images, _inception, _image_references))
PROTOCOLS.register("mixture", Protocol(_evaluate_mixture))
PROTOCOLS.register("moments", Protocol(_evaluate_moments))
PROTOCOLS.register("stacked_mnist", Protocol(_evaluate_stacked_mnist, _mnist_classifier,
                                             _stacked_mnist_references))


def protocol_for(config: ml_collections.ConfigDict) -> Protocol:
  """The protocol ``config.dataset``'s spec names; `ConfigError` (with the spec's note) if none,
  `UnknownNameError` (a `ConfigError`) if it names one that is not in `PROTOCOLS`."""
  spec = data.get(config.dataset)
  if spec.evaluation is None:
    raise ConfigError(f"Dataset {spec.name!r} cannot be evaluated here: {spec.evaluation_note}")
  return PROTOCOLS.get(spec.evaluation)


class Evaluator:
  """Evaluates states of runs of one config; the feature network and the real-data references
  are prepared once, on first use (or passed in).

    evaluator = Evaluator(config)
    result = evaluator(gan, state)   # {'model': {...}, 'reference': {...}, 'num_samples', ...}
  """

  def __init__(self, config: ml_collections.ConfigDict, log: Callable[[str], None] = print,
               network: Optional[FeatureNetwork] = None, references: Optional[dict] = None):
    self.config = config
    self.spec = data.get(config.dataset)
    self.protocol = protocol_for(config)
    self._log = log
    self._network = network
    self._references = references

  @property
  def network(self) -> Optional[FeatureNetwork]:
    """The feature network (built on first use), or None for protocols without one."""
    if self._network is None and self.protocol.feature_network is not None:
      self._network = self.protocol.feature_network(self.config, self._log)
    return self._network

  @property
  def references(self) -> dict:
    """The protocol's real-data references, e.g. features of the eval split and the reference
    metrics (computed on first use)."""
    if self._references is None:
      if self.protocol.references is None:
        raise ValueError(f"The {self.spec.evaluation!r} evaluation has no real-data references.")
      self._references = self.protocol.references(self)
    return self._references

  def __call__(self, gan: step_lib.GAN, state: step_lib.GANState) -> dict:
    start = time.perf_counter()
    result = self.protocol.evaluate(self, gan, state)
    result["seconds"] = time.perf_counter() - start
    return result


def feature_network(config: ml_collections.ConfigDict, log: Callable[[str], None] = print
                    ) -> Optional[FeatureNetwork]:
  """The feature network of ``config.dataset``'s protocol (None for the toys' protocols)."""
  return Evaluator(config, log).network


def evaluate_state(config: ml_collections.ConfigDict, gan: step_lib.GAN,
                   state: step_lib.GANState, references: Optional[dict] = None,
                   network: Optional[FeatureNetwork] = None,
                   log: Callable[[str], None] = print) -> dict:
  """Evaluates ``state`` by its dataset's protocol; returns ``{'model': ..., 'reference': ...}``.

  For image data: FID, KID (mean and std over subsets), the class-probability score,
  precision/recall (k = 3) and density/coverage (k = 5) of ``eval_num_samples`` generated images
  against the test split, beside the same metrics for real training images (the reference).
  For the 2-D toys: modes captured, high-quality fraction and reverse KL on 2,500 samples.
  For Stacked MNIST: modes (of 1,000) and reverse KL of ``eval_num_samples`` samples, beside the
  same for as many real stacked test images.
  """
  return Evaluator(config, log, network, references)(gan, state)


def format_table(result: dict) -> str:
  """A markdown table of the model's metrics beside the real-data references."""
  rows = []
  notes = {"fid": "floor: train vs test", "kid": "floor: train vs test",
           "score": "ceiling: test split", "modes": "all modes", "high_quality": "",
           "reverse_kl": "", "confident_fraction": f"test split (top class p >= {DIGIT_CONFIDENCE})",
           "min_class_share": "test split, of its confident digits"}
  notes.update(result.get("reference_notes", {}))
  for key, value in result["model"].items():
    if key.endswith("_std"):
      continue
    ref = result["reference"].get(key, float("nan"))
    std = result["model"].get(f"{key}_std")
    shown = f"{value:.4f}" + (f" ± {std:.4f}" if std is not None else "")
    rows.append(f"| {key} | {shown} | {ref:.4f} | {notes.get(key, 'real train vs test')} |")
  share = result.get("class_share")
  for k, (model, ref) in enumerate(zip(share["model"], share["reference"]) if share else ()):
    rows.append(f"| share of class {k} | {model:.4f} | {ref:.4f} | test split, of its confident "
                "digits |")
  return "| metric | model | real data | reference is |\n|---|---|---|---|\n" + "\n".join(rows)
