"""The MNIST evaluation network: features for FID/KID/precision-recall, class probabilities for IS.

There is no standard pretrained network for MNIST-scale GAN evaluation, so jaxgan trains its own
small CNN (`MnistClassifier`, ``mnist_cnn_v1``) on the 4,000 training digits of the offline
``mnist5k`` dataset and checks it on the 1,000 held-out test digits. What the metrics of
`gan.metrics` consume:

* features: the penultimate layer, the ReLU output of the 128-unit dense layer (`FEATURE_DIM`),
  float32 ``[N, 128]``; the MNIST analogue of Inception's pool3 for FID, KID and
  precision/recall.
* probabilities: the softmax of the 10 logits, float32 ``[N, 10]``, for the Inception-Score-style
  "MNIST score" and for mode counting (`gan.metrics.stacked_mnist_modes` takes `Classifier.predict`
  of each channel).

The trained weights are cached in a versioned directory, saved like a training checkpoint
(`gan.checkpointing.save_tree`)::

  <cache_dir>/mnist_classifier/v<CLASSIFIER_VERSION>/
    state/   the Flax variables (orbax)
    meta/    JSON: the recipe (architecture, seed, steps, ...), the held-out accuracy and the
             `gan.checkpointing.tree_checksum` of the variables, checked on every load

`load_or_train_classifier` loads that directory when it is valid and was made by the requested
recipe, and otherwise trains (1-2 minutes on two CPU cores) and saves a new one. The new
directory is written under a temporary name and renamed into place, so an interrupted run
never leaves a half-written classifier behind. Bumping `CLASSIFIER_VERSION` (whenever the
architecture, the data or the training changes what the features mean) makes every old file
stale: FIDs from different versions are not comparable. A change of file layout alone does not
bump it: a directory in the first layout (``params/`` and ``classifier.json``, whose
``params_sha256`` is the same checksum) is verified and rewritten in place, weights untouched.

**Shipped weights.** One classifier, trained once with the default recipe by
``python -m experiments.train_classifier --export gan/weights/mnist_classifier_v1.npz``, ships
with the package (`SHIPPED_WEIGHTS`, 0.8 MB). `evaluation_classifier` loads it and checks the
file's SHA-256 against `SHIPPED_SHA256` before use, so every machine scores samples with the same
network and FIDs are comparable across machines (a classifier trained on first use differs
between machines in its last digits, and the FID with it). `tests/test_classifier.py` retrains
with the same recipe and checks the accuracy comes back within half a point of the shipped one.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import time
from typing import Any, Callable, Mapping, Optional

from flax import traverse_util
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp

from gan import batching
from gan import checkpointing
from gan import data
from gan.errors import ConfigError, MissingFileError

CLASSIFIER_VERSION = 1
ARCHITECTURE = "mnist_cnn_v1"
FEATURE_DIM = 128
NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28, 1)

DEFAULT_SEED = 0
# 1,500 steps of 64 = 24 epochs of the 4,000 digits, within the 1-2 minutes of two CPU cores
# that `train_classifier` promises; the shipped weights carry their held-out accuracy (the README
# quotes it). Twice the channels (32, 64) doubled the cost without a gain.
DEFAULT_NUM_STEPS = 1500
DEFAULT_BATCH_SIZE = 64
LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
DROPOUT_RATE = 0.5
# Training images are shifted by up to this many pixels in each direction (background-filled).
MAX_SHIFT = 2
# Images per call of the jitted network at evaluation; the last batch is padded to this size.
EVAL_BATCH_SIZE = 500

_DATASET = "mnist5k"
# The first file layout (until the classifier was saved with gan.checkpointing.save_tree).
_LEGACY_METADATA_FILE = "classifier.json"
_LEGACY_PARAMS_DIR = "params"
_BACKGROUND = -1.0  # Black in the [-1, 1] range of `gan.data`.


class MnistClassifier(nn.Module):
  """A small CNN for 28x28x1 digits in [-1, 1]: two conv-pool blocks, dense 128, dense 10.

  ``conv3x3(16) - relu - maxpool2 - conv3x3(32) - relu - maxpool2 - dense(128) - relu
  [= features] - dropout(0.5) - dense(10) [= logits]``; 206,922 parameters, no BatchNorm
  (the variables are ``{'params': ...}`` only, and examples never interact).

  Attributes:
    dropout_rate: dropout on the features during training.
  """
  dropout_rate: float = DROPOUT_RATE

  @nn.compact
  def __call__(self, images: jax.Array, train: bool = False, return_features: bool = False):
    """Logits of a batch of images.

    Args:
      images: float ``[B, 28, 28, 1]`` in [-1, 1].
      train: applies dropout (needs a ``'dropout'`` rng).
      return_features: also return the penultimate-layer features.

    Returns:
      ``logits [B, 10]``, or ``(logits, features [B, FEATURE_DIM])`` with ``return_features``.
    """
    x = images.astype(jnp.float32)
    for channels in (16, 32):
      x = nn.relu(nn.Conv(channels, (3, 3))(x))
      x = nn.max_pool(x, (2, 2), strides=(2, 2))
    features = nn.relu(nn.Dense(FEATURE_DIM)(x.reshape(x.shape[0], -1)))
    x = nn.Dropout(self.dropout_rate, deterministic=not train)(features)
    logits = nn.Dense(NUM_CLASSES)(x)
    return (logits, features) if return_features else logits


def classifier_outputs(variables: Mapping[str, Any], images: jax.Array) -> dict[str, jax.Array]:
  """Logits, features and probabilities of a batch (a pure function; jit it freely).

  Args:
    variables: the Flax variables of `MnistClassifier` (``{'params': ...}``).
    images: float ``[B, 28, 28, 1]`` in [-1, 1].

  Returns:
    ``{'logits': [B, 10], 'features': [B, FEATURE_DIM], 'probabilities': [B, 10]}``, float32;
    the probabilities are ``softmax(logits)``.
  """
  logits, features = MnistClassifier().apply(variables, images, return_features=True)
  return {"logits": logits, "features": features,
          "probabilities": jax.nn.softmax(logits, axis=-1)}


_jit_outputs = jax.jit(classifier_outputs)


def _check_images(images: Any) -> None:
  shape = getattr(images, "shape", None)
  if shape is None or len(shape) != 4 or tuple(shape[1:]) != IMAGE_SHAPE:
    hint = ""
    if shape is not None and len(shape) == 3 and tuple(shape[1:]) == IMAGE_SHAPE[:2]:
      hint = " Add the channel axis: images[..., None]."
    elif shape is not None and len(shape) == 4 and tuple(shape[1:3]) == IMAGE_SHAPE[:2]:
      hint = (" For several channels (e.g. Stacked MNIST) classify each one separately: "
              "images[..., c:c + 1].")
    raise ValueError(f"The MNIST classifier expects images of shape [N, 28, 28, 1]; got shape "
                     f"{shape}.{hint}")
  if not jnp.issubdtype(images.dtype, jnp.floating):
    raise ValueError(f"The MNIST classifier expects float images in [-1, 1]; got dtype "
                     f"{images.dtype}. Map uint8 images with images / 127.5 - 1.")


def batched_outputs(variables: Mapping[str, Any], images: Any,
                    batch_size: int = EVAL_BATCH_SIZE) -> dict[str, np.ndarray]:
  """`classifier_outputs` of any number of images, in jitted batches of a fixed size.

  `gan.batching.batched_apply`: the last batch is padded with background images to
  ``batch_size`` (so one compiled program serves every N) and the padding's outputs are dropped;
  examples never interact, so the result does not depend on ``batch_size``.

  Args:
    variables: the Flax variables of `MnistClassifier`.
    images: float ``[N, 28, 28, 1]`` in [-1, 1], NumPy or JAX.
    batch_size: images per call of the network.

  Returns:
    The dict of `classifier_outputs` as NumPy arrays with leading dimension N.

  Raises:
    ValueError: images of the wrong shape or dtype (the message says how to fix them), or a
      non-positive ``batch_size``.
  """
  _check_images(images)
  xp = jnp if isinstance(images, jax.Array) else np
  return batching.batched_apply(lambda batch: _jit_outputs(variables, batch),
                                xp.asarray(images, xp.float32), batch_size,
                                pad_value=_BACKGROUND)


@dataclasses.dataclass(frozen=True)
class Classifier:
  """A trained `MnistClassifier` with batched, jitted inference.

  Attributes:
    variables: the Flax variables (``{'params': ...}``).
    accuracy: held-out accuracy on the 1,000 ``mnist5k`` test digits, in [0, 1].
    metadata: the recipe and provenance saved with the weights (see `load_or_train_classifier`).
    batch_size: images per call of the network (the last batch is padded).
  """
  variables: Mapping[str, Any]
  accuracy: float
  metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  batch_size: int = EVAL_BATCH_SIZE

  def outputs(self, images: Any) -> dict[str, np.ndarray]:
    """``{'logits', 'features', 'probabilities'}`` of ``images`` [N, 28, 28, 1] in one pass."""
    return batched_outputs(self.variables, images, self.batch_size)

  def features(self, images: Any) -> np.ndarray:
    """Penultimate-layer features, float32 ``[N, FEATURE_DIM]`` (non-negative: ReLU outputs)."""
    return self.outputs(images)["features"]

  def probabilities(self, images: Any) -> np.ndarray:
    """Class probabilities ``softmax(logits)``, float32 ``[N, 10]``."""
    return self.outputs(images)["probabilities"]

  def predict(self, images: Any) -> np.ndarray:
    """Predicted digits, int32 ``[N]``."""
    return np.argmax(self.outputs(images)["logits"], axis=-1).astype(np.int32)


# ----------------------------------------------------------------------------------------------
# Training.


def random_shift(images: jax.Array, rng: jax.Array, max_shift: int = MAX_SHIFT) -> jax.Array:
  """Shifts each image by its own integer offset in ``[-max_shift, max_shift]^2``.

  Pixels shifted in are background (-1). Args: ``images`` [B, H, W, C]; ``rng`` a key.
  """
  if max_shift == 0:
    return images
  batch, height, width, _ = images.shape
  padded = jnp.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift), (0, 0)),
                   constant_values=_BACKGROUND)
  offsets = jax.random.randint(rng, (batch, 2), 0, 2 * max_shift + 1)

  def crop(image, offset):
    return jax.lax.dynamic_slice(image, (offset[0], offset[1], 0),
                                 (height, width, image.shape[-1]))

  return jax.vmap(crop)(padded, offsets)


def _make_optimizer(num_steps: int) -> optax.GradientTransformation:
  schedule = optax.warmup_cosine_decay_schedule(0.0, LEARNING_RATE, min(100, num_steps // 10),
                                                num_steps)
  return optax.adamw(schedule, weight_decay=WEIGHT_DECAY)


def _make_train_step(optimizer: optax.GradientTransformation, base_rng: jax.Array):
  model = MnistClassifier()

  @functools.partial(jax.jit, donate_argnums=(0, 1))
  def train_step(params, opt_state, step, images, labels):
    # Keys are a function of (seed, step) only, so the run is reproducible step by step.
    shift_rng, dropout_rng = jax.random.split(jax.random.fold_in(base_rng, step))
    images = random_shift(images, shift_rng)

    def loss_fn(params):
      logits = model.apply({"params": params}, images, train=True,
                           rngs={"dropout": dropout_rng})
      return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  return train_step


def _check_positive(name: str, value: Any) -> int:
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
    raise ConfigError(f"{name} must be a positive int, got {value!r}.")
  return int(value)


def train_classifier(data_dir: Optional[str] = None, seed: int = DEFAULT_SEED,
                     num_steps: int = DEFAULT_NUM_STEPS, batch_size: int = DEFAULT_BATCH_SIZE,
                     log: Optional[Callable[[str], None]] = None
                     ) -> tuple[dict[str, Any], float]:
  """Trains `MnistClassifier` on the ``mnist5k`` train split; measures test-split accuracy.

  AdamW with linear warm-up and cosine decay, cross-entropy, dropout, and random shifts of up to
  `MAX_SHIFT` pixels. Batches come from `gan.data.Source.batch` (a function of seed and
  step) and the step's random keys from ``fold_in(key(seed), step)``, so the result is a function
  of the arguments (bit-for-bit on a given backend). The 1,000 test digits are never trained on.

  Args:
    data_dir: the TFDS data dir (``mnist5k`` is prepared there on first use, offline).
    seed: seeds the initialisation, the batch order, the shifts and dropout.
    num_steps: optimizer steps.
    batch_size: examples per step.
    log: called with a progress line every 500 steps; None for silence.

  Returns:
    ``(variables, held_out_accuracy)``: the Flax variables ``{'params': ...}`` and the accuracy
    on the test split, a float in [0, 1].

  References:
    LeCun et al. 1998, "Gradient-based learning applied to document recognition" (MNIST, CNNs);
    Simard et al. 2003, "Best practices for convolutional neural networks applied to visual
    document analysis" (training on shifted/distorted digits).
  """
  variables, accuracy, _ = _train_and_evaluate(data_dir, seed, num_steps, batch_size, log)
  return variables, accuracy


def _train_and_evaluate(data_dir, seed, num_steps, batch_size, log):
  """`train_classifier`, also returning the split sizes ``{'train': n, 'test': m}``."""
  num_steps = _check_positive("num_steps", num_steps)
  batch_size = _check_positive("batch_size", batch_size)
  train_source = data.make_source(_DATASET, "train", data_dir=data_dir)
  test_source = data.make_source(_DATASET, "test", data_dir=data_dir)
  init_rng, step_rng = jax.random.split(jax.random.key(seed))
  params = MnistClassifier().init(init_rng, jnp.zeros((1, *IMAGE_SHAPE)))["params"]
  optimizer = _make_optimizer(num_steps)
  opt_state = optimizer.init(params)
  train_step = _make_train_step(optimizer, step_rng)
  for step in range(num_steps):
    batch = train_source.batch(step, batch_size, seed)
    params, opt_state, loss = train_step(params, opt_state, np.int32(step), batch["image"],
                                         batch["label"])
    if (step + 1) % 500 == 0 or step + 1 == num_steps:
      loss = float(loss)
      if not np.isfinite(loss):
        raise FloatingPointError(f"The classifier's training loss is {loss} at step {step + 1}; "
                                 "lower LEARNING_RATE.")
      if log is not None:
        log(f"  step {step + 1}/{num_steps}: train loss {loss:.4f}")
  variables = {"params": params}
  test = test_source.all_examples()
  predictions = np.argmax(batched_outputs(variables, test["image"])["logits"], axis=-1)
  sizes = {"train": train_source.num_examples, "test": test_source.num_examples}
  return variables, float(np.mean(predictions == test["label"])), sizes


# ----------------------------------------------------------------------------------------------
# Cache.


def default_cache_dir() -> str:
  """``$JAXGAN_CACHE`` if set, else ``~/.cache/jaxgan``."""
  return os.environ.get("JAXGAN_CACHE") or os.path.expanduser("~/.cache/jaxgan")


def classifier_dir(cache_dir: Optional[str] = None) -> str:
  """The current version's directory, ``<cache_dir>/mnist_classifier/v<CLASSIFIER_VERSION>``."""
  cache_dir = os.path.expanduser(os.fspath(cache_dir)) if cache_dir else default_cache_dir()
  return os.path.join(os.path.abspath(cache_dir), "mnist_classifier", f"v{CLASSIFIER_VERSION}")


def _recipe(seed: int, num_steps: int, batch_size: int) -> dict[str, Any]:
  """The metadata fields that must match for a saved classifier to be reused."""
  return {"version": CLASSIFIER_VERSION, "architecture": ARCHITECTURE, "dataset": _DATASET,
          "seed": seed, "num_steps": num_steps, "batch_size": batch_size}


def _abstract_variables() -> Any:
  return jax.eval_shape(lambda: MnistClassifier().init(jax.random.key(0),
                                                       jnp.zeros((1, *IMAGE_SHAPE))))


# ----------------------------------------------------------------------------------------------
# The shipped classifier.

SHIPPED_WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "weights",
                               f"mnist_classifier_v{CLASSIFIER_VERSION}.npz")
SHIPPED_SHA256 = "0086541c356ea0cad2866f93708300af301de5f8d0ad7c5eb3dcadf4804c239d"
SHIPPED_ACCURACY = 0.986  # on the 1,000 mnist5k test digits, as recorded in the file


def file_sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return digest.hexdigest()


def export_classifier(model: Classifier, path: str) -> str:
  """Writes ``model`` as one ``.npz`` (variables by path, metadata as JSON); returns its SHA-256
  (of this file: a re-export of the same weights differs in the zip's timestamps; the metadata's
  ``checksum`` is `gan.checkpointing.tree_checksum` of the arrays)."""
  arrays = {"/".join(k): np.asarray(v) for k, v in
            traverse_util.flatten_dict(jax.device_get(dict(model.variables))).items()}
  metadata = dict(model.metadata, held_out_accuracy=model.accuracy)
  tmp = path + ".tmp.npz"
  np.savez(tmp, __metadata__=np.asarray(json.dumps(metadata, sort_keys=True)), **arrays)
  os.replace(tmp, path)
  return file_sha256(path)


def load_exported_classifier(path: str, sha256: Optional[str] = None) -> Classifier:
  """A classifier written by `export_classifier`; with ``sha256``, the file must match it.

  Raises:
    FileNotFoundError: no file at ``path``.
    ValueError: the file fails its SHA-256, or does not hold this architecture's variables.
  """
  if not os.path.isfile(path):
    raise MissingFileError(f"No classifier weights at {path}.")
  if sha256 is not None and file_sha256(path) != sha256:
    raise ValueError(f"{path} fails its SHA-256 check (expected {sha256}): the file was changed "
                     "or damaged. Reinstall jaxgan (or restore the file from the repository).")
  with np.load(path) as f:
    metadata = json.loads(str(f["__metadata__"]))
    flat = {tuple(k.split("/")): np.asarray(f[k]) for k in f.files if k != "__metadata__"}
  expected = traverse_util.flatten_dict(_abstract_variables())
  if set(flat) != set(expected) or any(flat[k].shape != expected[k].shape for k in expected):
    raise ValueError(f"{path} does not hold {ARCHITECTURE}'s variables.")
  variables = traverse_util.unflatten_dict({k: jnp.asarray(v) for k, v in flat.items()})
  return Classifier(variables=variables, accuracy=float(metadata["held_out_accuracy"]),
                    metadata=metadata)


def evaluation_classifier(log: Optional[Callable[[str], None]] = print) -> Classifier:
  """The classifier every evaluation uses: the shipped weights, SHA-256 checked."""
  model = load_exported_classifier(SHIPPED_WEIGHTS, SHIPPED_SHA256)
  if log:
    log(f"Loaded the shipped MNIST classifier (held-out accuracy {model.accuracy:.2%}, SHA-256 "
        f"{SHIPPED_SHA256[:12]}...).")
  return model


class _InvalidClassifier(Exception):
  """A saved classifier that must not be used; the message says why."""


def load_classifier(directory: str, expected_recipe: Optional[Mapping[str, Any]] = None
                    ) -> Classifier:
  """Loads a saved classifier and verifies it.

  Args:
    directory: a directory written by `save_classifier` (or in the first layout, which is
      converted in place).
    expected_recipe: if given, these metadata fields must match.

  Returns:
    The `Classifier`.

  Raises:
    FileNotFoundError: if there is no classifier in ``directory``.
    ValueError: if it is from another version or recipe, unreadable, or its checksum does not
      match its metadata (a corrupted or tampered file).
  """
  try:
    return _load_classifier(directory, expected_recipe)
  except _InvalidClassifier as e:
    raise ValueError(str(e)) from e.__cause__


def _check_recipe(metadata: Mapping[str, Any], expected_recipe: Optional[Mapping[str, Any]]):
  for key, value in (expected_recipe or {}).items():
    if metadata.get(key) != value:
      raise _InvalidClassifier(f"it was made with {key}={metadata.get(key)!r}, but "
                               f"{key}={value!r} is required")


def _load_classifier(directory: str, expected_recipe: Optional[Mapping[str, Any]],
                     log: Callable[[str], None] = lambda message: None) -> Classifier:
  if not os.path.isdir(directory):
    raise MissingFileError(f"No saved classifier in {directory}.")
  if _has_legacy_layout(directory):
    return _convert_legacy_layout(directory, expected_recipe, log)
  try:
    _check_recipe(checkpointing.load_tree_meta(directory, what="it"), expected_recipe)
    variables, metadata = checkpointing.load_tree(directory, _abstract_variables(), what="it")
  except checkpointing.CheckpointError as e:
    raise _InvalidClassifier(str(e)) from e
  return Classifier(variables=variables, accuracy=float(metadata["held_out_accuracy"]),
                    metadata=metadata)


def _has_legacy_layout(directory: str) -> bool:
  return (os.path.exists(os.path.join(directory, _LEGACY_METADATA_FILE)) and
          not os.path.exists(os.path.join(directory, "meta")))


def _convert_legacy_layout(directory: str, expected_recipe: Optional[Mapping[str, Any]],
                           log: Callable[[str], None]) -> Classifier:
  """Verifies a classifier in the first layout, rewrites it with `save_classifier`, returns it.

  That layout held ``params/`` (`orbax.checkpoint.StandardCheckpointer`) and ``classifier.json``
  (the same metadata, the checksum named ``params_sha256``). Nothing is converted unless the
  recipe matches and the weights pass their checksum; if the rewrite fails (e.g. a read-only
  cache), the verified weights are still used.
  """
  try:
    with open(os.path.join(directory, _LEGACY_METADATA_FILE), encoding="utf-8") as f:
      metadata = json.load(f)
    if not isinstance(metadata, dict):
      raise ValueError("not a JSON object")
  except (OSError, ValueError) as e:
    raise _InvalidClassifier(f"its {_LEGACY_METADATA_FILE} is unreadable ({e})") from e
  _check_recipe(metadata, expected_recipe)
  try:
    with ocp.StandardCheckpointer() as checkpointer:
      variables = checkpointer.restore(os.path.join(directory, _LEGACY_PARAMS_DIR),
                                       _abstract_variables())
  except Exception as e:  # pylint: disable=broad-except
    # Orbax raises many types for a damaged checkpoint; any of them means "do not use it".
    raise _InvalidClassifier(
        f"its weights could not be restored ({type(e).__name__}: {str(e)[:300]})") from e
  checksum = checkpointing.tree_checksum(variables)
  if checksum != metadata.pop("params_sha256", None):
    raise _InvalidClassifier(f"its weights fail the checksum in {_LEGACY_METADATA_FILE}; the "
                             "file is corrupted")
  try:
    save_classifier(directory, variables, metadata)
  except checkpointing.CheckpointError as e:
    log(f"Using the MNIST classifier in {directory} as it is; rewriting it in the current file "
        f"layout failed: {e}")
  else:
    log(f"Verified the MNIST classifier in {directory} and rewrote it in the current file "
        "layout (same weights).")
  metadata["checksum"] = checksum
  return Classifier(variables=variables, accuracy=float(metadata["held_out_accuracy"]),
                    metadata=metadata)


def save_classifier(directory: str, variables: Mapping[str, Any],
                    metadata: Mapping[str, Any]) -> None:
  """Saves variables and metadata (plus their checksum) to ``directory``, replacing it atomically.

  `gan.checkpointing.save_tree`: readers see the old classifier, no classifier, or the new one,
  never a half-written one.
  """
  checkpointing.save_tree(directory, variables, metadata)


def _check_writable(directory: str) -> None:
  """Refuses, before a minute of training, a cache the trained classifier could not be saved to."""
  existing = directory
  while not os.path.exists(existing):
    existing = os.path.dirname(existing)
  if not os.path.isdir(existing) or not os.access(existing, os.W_OK | os.X_OK):
    raise ConfigError(
        f"The MNIST evaluation classifier has to be trained, but it could not be saved to "
        f"{directory}: {existing} is not a writable directory. Set $JAXGAN_CACHE to a writable "
        "directory (or fix its permissions) and run again.")


def load_or_train_classifier(cache_dir: Optional[str] = None, data_dir: Optional[str] = None,
                             log: Optional[Callable[[str], None]] = print, *,
                             force_retrain: bool = False, seed: int = DEFAULT_SEED,
                             num_steps: int = DEFAULT_NUM_STEPS,
                             batch_size: int = DEFAULT_BATCH_SIZE) -> Classifier:
  """The evaluation classifier: loaded from the cache if valid, else trained and saved there.

  A saved classifier is used only if its version, architecture and training recipe (seed,
  steps, batch size) match the request and the checksum of its weights matches its metadata.
  Otherwise (missing, stale, corrupted) a new one is trained with `train_classifier` (1-2
  minutes on two CPU cores), saved atomically with `save_classifier`, and returned; ``log`` says
  which case happened and why.

  Args:
    cache_dir: the cache root; defaults to `default_cache_dir()` (``$JAXGAN_CACHE`` or
      ``~/.cache/jaxgan``). The classifier lives in `classifier_dir`.
    data_dir: the TFDS data dir for training (``mnist5k`` is prepared there if missing).
    log: called with one-line messages; None for silence.
    force_retrain: train and overwrite even if a valid classifier is saved.
    seed: training seed (part of the recipe).
    num_steps: training steps (part of the recipe).
    batch_size: training batch size (part of the recipe).

  Returns:
    A `Classifier`; its ``metadata`` holds the saved JSON.
  """
  log = log or (lambda message: None)
  directory = classifier_dir(cache_dir)
  recipe = _recipe(seed, _check_positive("num_steps", num_steps),
                   _check_positive("batch_size", batch_size))
  if force_retrain:
    log(f"Retraining the MNIST classifier in {directory} (force_retrain=True).")
  else:
    try:
      classifier = _load_classifier(directory, recipe, log)
    except FileNotFoundError:
      log(f"No MNIST evaluation classifier in {directory}; training one on {_DATASET} "
          "(1-2 minutes on two CPU cores).")
    except _InvalidClassifier as e:
      log(f"Not using the MNIST classifier in {directory}: {e}. Retraining it.")
    else:
      log(f"Loaded the MNIST classifier from {directory} (held-out accuracy "
          f"{classifier.accuracy:.2%}).")
      return classifier
  _check_writable(directory)
  start = time.time()
  variables, accuracy, sizes = _train_and_evaluate(data_dir, seed, num_steps, batch_size, log)
  seconds = time.time() - start
  metadata = {
      **recipe,
      "held_out_accuracy": accuracy,
      "train_examples": sizes["train"],
      "test_examples": sizes["test"],
      "feature_dim": FEATURE_DIM,
      "train_seconds": round(seconds, 1),
      "jax_version": jax.__version__,
      "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
  }
  save_classifier(directory, variables, metadata)
  log(f"Trained the MNIST classifier in {seconds:.0f} s: held-out accuracy {accuracy:.2%} on "
      f"1,000 test digits; saved to {directory}.")
  return load_classifier(directory, recipe)
