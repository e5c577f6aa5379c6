"""The source material's convolutional autoencoder: its loss, a pure train step, and the run.

`train_autoencoder(config, workdir)` is the library half of ``experiments.autoencoder``; a config
(``experiments/configs/autoencoder_mnist.py``, ``denoising_autoencoder_mnist.py``) names an
autoencoder of `gan.models.autoencoder`'s registry and its training. Like a GAN run
(`gan.loop`), it claims the workdir (`gan.workdir.claim`: one run per workdir, a different
config refused), resumes from the newest good checkpoint and then ends bitwise equal to a run
that was never stopped, logs to TensorBoard and ``metrics.jsonl``, and writes ``results.json``.

The objective, pinned to the material (Keras): pixels in [0, 1], the mean binary cross-entropy
between the clean image and the reconstruction, Adam with Keras's defaults, batch 128. The
denoising variant (``noise_std > 0``) adds Gaussian noise of that standard deviation to the
input and clips it to [0, 1], as the Keras blog does, and keeps the clean image as the target.
Every noise draw comes from a per-example key, ``fold_in(fold_in(rng, step), example)`` for
training and ``fold_in(heldout_key, example)`` for the held-out split (the same noise at every
evaluation), so a resumed run draws the same numbers.

After each epoch the held-out split (mnist5k's 1,000 test digits) is scored: the loss, the mean
squared error of the reconstruction and, for the denoising variant, the mean squared error of
the noisy input itself (the identity map: what a denoiser must beat). After the epochs in
``config.figure_epochs`` the run writes ``reconstructions_epoch<E>.png`` (held-out originals
above their reconstructions, the material's figure) and, when denoising,
``denoising_epoch<E>.png`` (noisy / denoised / clean rows).

References:
  F. Chollet, "Building Autoencoders in Keras", The Keras Blog, 2016 (the convolutional and the
  denoising autoencoders).
  P. Vincent et al., "Extracting and composing robust features with denoising autoencoders",
  ICML 2008.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from typing import Any, Callable, Optional

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from gan import batching
from gan import checkpointing
from gan import data
from gan import images as image_lib
from gan import workdir as workdir_lib
from gan import writers
from gan import loop
from gan.config import config_differences
from gan.fields import is_directory_path, is_int, is_number
from gan.errors import CheckpointError, ConfigError, NonFiniteError
from gan.models import autoencoder as models

_TRAIN_SALT = 1  # the training noise's base key: fold_in(key(seed), _TRAIN_SALT)
_HELDOUT_SALT = 2  # the held-out noise's key
_EVAL_BATCH = 500  # held-out examples per jitted call


# ----------------------------------------------------------------------------------------------
# Pure functions.


def to_unit_interval(images: Any) -> Any:
  """Images in [-1, 1] (`gan.data`'s range) -> [0, 1], the material's ``x / 255``."""
  return (images + 1.0) * 0.5


def binary_cross_entropy_with_logits(logits: jax.Array, targets: jax.Array) -> jax.Array:
  """Mean over all elements of ``-t log sigmoid(l) - (1 - t) log(1 - sigmoid(l))``.

  Computed from logits as ``softplus(l) - t * l``, which is exact and finite for every logit.
  Keras's ``binary_crossentropy`` on probabilities clips them to ``[1e-7, 1 - 1e-7]`` (its
  ``epsilon()``), capping each pixel's loss at -log(1e-7) = 16.1; after a sigmoid layer it uses
  the logits too. The two agree wherever a predicted pixel is not within 1e-7 of 0 or 1.
  Targets may be any values in [0, 1] (grey pixels), not only 0 and 1.
  """
  return jnp.mean(jax.nn.softplus(logits) - targets * logits)


def per_example_keys(key: jax.Array, indices: jax.Array) -> jax.Array:
  """``fold_in(key, i)`` for each example index ``i``."""
  return jax.vmap(lambda i: jax.random.fold_in(key, i))(indices)


def corrupt(images: jax.Array, keys: jax.Array, noise_std: float) -> jax.Array:
  """``clip(x + noise_std * N(0, 1), 0, 1)``, example i's noise drawn from ``keys[i]``.

  The Keras blog's corruption (there ``noise_factor = 0.5``); ``noise_std = 0`` returns
  ``images`` unchanged.
  """
  if noise_std == 0:
    return images
  noise = jax.vmap(lambda k: jax.random.normal(k, images.shape[1:], images.dtype))(keys)
  return jnp.clip(images + noise_std * noise, 0.0, 1.0)


class AutoencoderState(flax.struct.PyTreeNode):
  """Everything training changes, as one pytree (orbax saves it whole)."""
  step: jax.Array
  params: Any
  opt_state: Any


@dataclasses.dataclass(frozen=True)
class Objective:
  """What is trained and how: the model, its optimizer, the input corruption, the data shape."""
  model: nn.Module
  optimizer: optax.GradientTransformation
  noise_std: float
  data_shape: tuple


def create_state(objective: Objective, key: jax.Array) -> AutoencoderState:
  """Fresh parameters from ``key`` (Keras's initialisers) and a fresh optimizer state."""
  params = objective.model.init(key, jnp.zeros((1, *objective.data_shape)))["params"]
  return AutoencoderState(step=jnp.zeros((), jnp.int32), params=params,
                          opt_state=objective.optimizer.init(params))


def num_params(params: Any) -> int:
  return int(sum(np.size(leaf) for leaf in jax.tree.leaves(params)))


def train_step(objective: Objective, state: AutoencoderState, images: jax.Array,
               rng: jax.Array) -> tuple[AutoencoderState, dict]:
  """One Adam step on a batch of clean images ``[B, H, W, C]`` in [0, 1].

  The input is ``corrupt(images, ...)`` with one key per example,
  ``fold_in(fold_in(rng, state.step), example)``; the target is ``images``. Returns the new state
  and ``{'loss', 'grad_norm', 'finite'}`` (the loss before the update).
  """
  keys = per_example_keys(jax.random.fold_in(rng, state.step), jnp.arange(images.shape[0]))
  inputs = corrupt(images, keys, objective.noise_std)

  def loss_fn(params):
    return binary_cross_entropy_with_logits(objective.model.apply({"params": params}, inputs),
                                            images)

  loss, grads = jax.value_and_grad(loss_fn)(state.params)
  updates, opt_state = objective.optimizer.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  grad_norm = optax.tree.norm(grads)
  finite = jnp.isfinite(loss) & jnp.isfinite(grad_norm)
  new = state.replace(step=state.step + 1, params=params, opt_state=opt_state)
  return new, dict(loss=loss, grad_norm=grad_norm, finite=finite.astype(jnp.float32))


@functools.partial(jax.jit, static_argnums=0)
def _score(objective: Objective, params: Any, key: jax.Array, batch: dict) -> tuple:
  keys = per_example_keys(key, batch["index"])
  inputs = corrupt(batch["image"], keys, objective.noise_std)
  logits = objective.model.apply({"params": params}, inputs)
  axes = tuple(range(1, logits.ndim))
  bce = jnp.mean(jax.nn.softplus(logits) - batch["image"] * logits, axis=axes)
  mse = jnp.mean(jnp.square(jax.nn.sigmoid(logits) - batch["image"]), axis=axes)
  identity = jnp.mean(jnp.square(inputs - batch["image"]), axis=axes)
  return bce, mse, identity


def heldout_metrics(objective: Objective, params: Any, images: np.ndarray,
                    key: jax.Array) -> dict[str, float]:
  """Scores ``params`` on clean images ``[N, H, W, C]`` in [0, 1], example i's input noise drawn
  from ``fold_in(key, i)``.

  Returns ``{'loss', 'mse'}`` (the mean binary cross-entropy and mean squared error of the
  reconstruction of the corrupted input against the clean image) and, when ``noise_std > 0``,
  ``'identity_mse'``: the noisy input's own mean squared error, what returning the input scores.
  """
  inputs = dict(image=np.asarray(images, np.float32), index=np.arange(len(images), dtype=np.int32))
  bce, mse, identity = batching.batched_apply(lambda batch: _score(objective, params, key, batch),
                                              inputs, min(_EVAL_BATCH, len(images)))
  out = dict(loss=float(np.mean(bce, dtype=np.float64)), mse=float(np.mean(mse, dtype=np.float64)))
  if objective.noise_std > 0:
    out["identity_mse"] = float(np.mean(identity, dtype=np.float64))
  return out


# ----------------------------------------------------------------------------------------------
# Configs: checked once, at the door.


# Every field of an autoencoder config: (accepts, what would be right).
FIELDS: dict[str, tuple[Callable[[Any], bool], Any]] = {
    "dataset": (lambda v: v in data.names(),
                lambda: f"is not a dataset; choose one of: {', '.join(data.names())}."),
    "data_dir": (is_directory_path, "must be '' ($TFDS_DATA_DIR or ~/tensorflow_datasets) or "
                 "the path of a directory (made if missing), not of a file."),
    "model": (lambda v: v in models.names(),
              lambda: f"is not an autoencoder; choose one of: {', '.join(models.names())}."),
    "noise_std": (lambda v: is_number(v) and v >= 0,
                  "must be a number >= 0: the standard deviation of the Gaussian noise added to "
                  "the input (0 = a plain autoencoder; the Keras blog's denoiser uses 0.5)."),
    "learning_rate": (lambda v: is_number(v) and v > 0,
                      "must be a positive number, e.g. 1e-3 (Keras's Adam default)."),
    "adam_b1": (lambda v: is_number(v) and 0 <= v < 1, "must be in [0, 1), e.g. 0.9."),
    "adam_b2": (lambda v: is_number(v) and 0 <= v < 1, "must be in [0, 1), e.g. 0.999."),
    "adam_eps": (lambda v: is_number(v) and v > 0, "must be a positive number, e.g. 1e-7."),
    "batch_size": (lambda v: is_int(v) and v >= 1, "must be a positive integer, e.g. 128."),
    "num_epochs": (lambda v: is_int(v) and v >= 1, "must be a positive integer."),
    "seed": (lambda v: is_int(v) and 0 <= v < 2 ** 32, "must be an integer in [0, 2**32)."),
    "figure_epochs": (lambda v: isinstance(v, (tuple, list)) and all(is_int(e) and e >= 1
                                                                     for e in v),
                      "must be a tuple of positive epoch numbers, e.g. (10, 50); () = none."),
    "checkpoint_every_epochs": (lambda v: is_int(v) and v >= 1, "must be a positive integer."),
    "keep_checkpoints": (lambda v: is_int(v) and v >= 1, "must be a positive integer."),
}


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises `ConfigError` naming the first field that cannot work, and what would."""
  for name in config.keys():
    if name not in FIELDS:
      raise ConfigError(f"config.{name} is not a field of an autoencoder config; the fields are "
                        f"{', '.join(FIELDS)} (experiments/configs/autoencoder_mnist.py).")
  for name, (accepts, says) in FIELDS.items():
    if name not in config:
      raise ConfigError(f"config.{name} is missing; start from experiments/configs/"
                        "autoencoder_mnist.py's get_config(), which sets every field.")
    if not accepts(config[name]):
      raise ConfigError(f"config.{name}={config[name]!r} {says() if callable(says) else says}")
  late = [e for e in config.figure_epochs if e > config.num_epochs]
  if late:
    raise ConfigError(f"config.figure_epochs={tuple(config.figure_epochs)!r} asks for figures "
                      f"after epoch(s) {late}, past config.num_epochs={config.num_epochs}; raise "
                      "num_epochs or drop those epochs.")
  spec = data.get(config.dataset)
  if "test" not in spec.splits or not spec.num_classes:
    raise ConfigError(f"config.dataset={config.dataset!r} has no labelled held-out 'test' split "
                      "to score and draw the reconstructions on; use mnist5k.")
  build_objective(config)


def build_objective(config: ml_collections.ConfigDict) -> Objective:
  """The model of ``config.model`` for the dataset's images, Adam, and the noise level.

  Adam as Keras has it by default: lr 1e-3, b1 0.9, b2 0.999, epsilon 1e-7. Keras adds its
  epsilon to sqrt(v) before the bias correction, optax after it, so Keras's epsilon acts as
  ``epsilon / sqrt(1 - b2^t)`` here: the same update up to ~1e-7 relative to sqrt(v).

  Raises:
    ConfigError: the model cannot take the dataset's images.
  """
  spec = data.get(config.dataset)
  try:
    model = models.get(config.model).build(config, spec.data_shape)
  except ValueError as e:
    raise ConfigError(f"config.model={config.model!r} does not fit config.dataset="
                      f"{config.dataset!r}: {e}") from e
  optimizer = optax.adam(config.learning_rate, b1=config.adam_b1, b2=config.adam_b2,
                         eps=config.adam_eps)
  return Objective(model, optimizer, float(config.noise_std), tuple(spec.data_shape))


# ----------------------------------------------------------------------------------------------
# Figures.

SCALE = 3  # screen pixels per image pixel: 28x28 digits are drawn 84 pixels wide


def figure_digits(heldout: dict) -> np.ndarray:
  """Indices of the first held-out example of each class, in class order (10 for MNIST)."""
  labels = np.asarray(heldout["label"])
  return np.array([int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)])


def _row(label: str, pixels: np.ndarray):
  return image_lib.labelled(label, image_lib.digit_row(pixels * 2.0 - 1.0, scale=SCALE), 120)


def reconstruction_figure(originals: np.ndarray, reconstructions: np.ndarray, title: str):
  """Held-out originals above their reconstructions (the Keras blog's figure), in [0, 1]."""
  return image_lib.stack([image_lib.text_picture(title, height=18),
                          _row("original", originals), _row("reconstruction", reconstructions)])


def denoising_figure(noisy: np.ndarray, denoised: np.ndarray, clean: np.ndarray, title: str):
  """Noisy input, the model's output and the clean image, one row each, in [0, 1]."""
  return image_lib.stack([image_lib.text_picture(title, height=18), _row("noisy input", noisy),
                          _row("denoised", denoised), _row("clean", clean)])


# ----------------------------------------------------------------------------------------------
# The run.


def _heldout_key(seed: int) -> jax.Array:
  return jax.random.fold_in(jax.random.key(seed), _HELDOUT_SALT)


def _train_key(seed: int) -> jax.Array:
  return jax.random.fold_in(jax.random.key(seed), _TRAIN_SALT)


def _logged_rows(workdir: str) -> dict[int, dict]:
  """``{epoch: row}`` of ``metrics.jsonl`` (a resumed run's file holds every epoch once)."""
  return {int(row["epoch"]): row for row in workdir_lib.read_metrics(workdir).values()
          if "epoch" in row}


def read_results(workdir: str) -> Optional[dict]:
  """The ``results.json`` of a finished run, or None."""
  return workdir_lib.read_results(workdir, "an autoencoder run's results")


def train_autoencoder(config: ml_collections.ConfigDict, workdir: str,
                      log: Callable[[str], None] = print) -> dict:
  """Trains (or resumes) the autoencoder ``config`` describes in ``workdir``.

  Writes checkpoints (every ``checkpoint_every_epochs`` epochs and at the end), one
  ``metrics.jsonl`` / TensorBoard row per epoch (``train_loss``, the epoch's mean; ``heldout_*``
  from `heldout_metrics`), the figures of ``figure_epochs`` and ``results.json``. A finished run
  called again trains nothing and returns its stored results.

  Returns:
    The results: ``{'epoch', 'step', 'num_params', 'heldout': {...} (the last epoch's held-out
    metrics), 'by_epoch': {epoch: held-out metrics, for the figure epochs}, 'figures': [...]}``.

  Raises:
    ConfigError: a config value or the workdir cannot work.
    data.DatasetNotAvailableError: the dataset cannot be had offline.
    checkpointing.CheckpointError: checkpoints exist but none is usable, or one cannot be written.
    gan.loop.NonFiniteError: the loss or gradient became non-finite (the last good checkpoint is
      kept and nothing is written after it).
    writers.WriteError: a log, figure or results file could not be written.
  """
  check_config(config)
  differences = lambda saved: config_differences(saved, config.to_dict())
  with workdir_lib.claim(config, workdir, differences=differences) as held:
    return _train(config, workdir, held, log)


def _train(config, workdir, held, log) -> dict:
  """`train_autoencoder` inside a claimed workdir: builds, restores, commits, then trains."""
  started = time.time()
  data_dir = config.data_dir or None
  train = data.make_source(config.dataset, "train", data_dir=data_dir)
  heldout = data.make_source(config.dataset, "test", data_dir=data_dir).all_examples()
  try:
    steps_per_epoch = train.steps_per_epoch(config.batch_size)
  except ValueError as e:
    raise ConfigError(f"config.batch_size={config.batch_size}: {e}") from e
  num_steps = config.num_epochs * steps_per_epoch
  heldout_images = to_unit_interval(heldout["image"])
  objective = build_objective(config)
  checkpointer = checkpointing.Checkpointer(os.path.join(workdir, "checkpoints"),
                                            keep=config.keep_checkpoints, log=log)
  held.on_release(checkpointer.close)
  start, state, finished = loop.resume(
      checkpointer, create_state(objective, jax.random.key(config.seed)), num_steps, workdir,
      log, budget="num_epochs", steps_per_unit=steps_per_epoch, unit="epoch")
  if finished:
    return finished
  loop.commit(held, workdir, start)  # epochs after the checkpoint are trained (and logged) again
  writer = writers.MetricWriter(workdir, purge_step=start + 1)
  held.on_release(writer.close)
  write_figure = _figure_writer(workdir, writer, objective, heldout, heldout_images,
                                _heldout_key(config.seed))
  step_fn = jax.jit(functools.partial(train_step, objective), donate_argnums=0)
  rng = _train_key(config.seed)
  losses, started = [], time.perf_counter()
  for step in range(start, num_steps):
    batch = to_unit_interval(train.batch(step, config.batch_size, config.seed)["image"])
    state, metrics = step_fn(state, batch, rng)
    metrics = jax.device_get(metrics)
    done = step + 1
    if metrics["finite"] != 1.0:
      kept = checkpointer.steps()
      raise NonFiniteError(
          f"Training stopped at step {done}: the loss or its gradient became non-finite. The "
          f"last good checkpoint ({'step ' + str(kept[-1]) if kept else 'none yet'}) is kept "
          "and nothing was written after it. Lower config.learning_rate.")
    losses.append(float(metrics["loss"]))
    if done % steps_per_epoch:
      continue
    epoch = done // steps_per_epoch
    scores = heldout_metrics(objective, state.params, heldout_images, _heldout_key(config.seed))
    rate = len(losses) / max(time.perf_counter() - started, 1e-9)
    row = dict(epoch=epoch, train_loss=float(np.mean(losses)),
               **{f"heldout_{k}": v for k, v in scores.items()}, steps_per_sec=rate)
    writer.scalars(done, row)
    log(f"epoch {epoch}/{config.num_epochs} " +
        " ".join(f"{k}={v:.4f}" for k, v in row.items() if k != "epoch"))
    if epoch in config.figure_epochs:
      write_figure(epoch, done, state.params, scores)
    if epoch % config.checkpoint_every_epochs == 0 or done == num_steps:
      checkpointer.save(done, state)
    losses, started = [], time.perf_counter()

  rows = _logged_rows(workdir)
  pick = lambda row: {k[len("heldout_"):]: v for k, v in row.items() if k.startswith("heldout_")}
  final = (pick(rows[config.num_epochs]) if config.num_epochs in rows else
           heldout_metrics(objective, state.params, heldout_images, _heldout_key(config.seed)))
  results = dict(
      epoch=config.num_epochs, step=num_steps, steps_per_epoch=steps_per_epoch,
      num_params=num_params(state.params), heldout=final,
      by_epoch={str(e): pick(rows[e]) for e in sorted(config.figure_epochs) if e in rows},
      figures=sorted(name for name in os.listdir(workdir) if name.endswith(".png")))
  return loop.finish(workdir, results, started, start)


def _figure_writer(workdir, writer, objective, heldout, heldout_images, heldout_key):
  """``write(epoch, step, params, scores)``: the epoch's figure, as a PNG and in TensorBoard.

  A plain autoencoder: ``reconstructions_epoch<E>.png``, held-out originals above their
  reconstructions. A denoising one: ``denoising_epoch<E>.png``, the noisy held-out input (its
  fixed held-out noise), the model's output and the clean digit.
  """
  shown = figure_digits(heldout)
  clean = heldout_images[shown]
  noisy = np.asarray(corrupt(jnp.asarray(clean), per_example_keys(heldout_key, jnp.asarray(shown)),
                             objective.noise_std))
  reconstruct = jax.jit(lambda params, x: models.reconstruct(objective.model, params, x))

  def write(epoch, step, params, scores):
    output = np.asarray(reconstruct(params, noisy))
    if objective.noise_std > 0:
      name = f"denoising_epoch{epoch:03d}.png"
      picture = denoising_figure(noisy, output, clean, (
          f"epoch {epoch}, noise std {objective.noise_std:g}; held-out: BCE {scores['loss']:.4f}, "
          f"MSE denoised {scores['mse']:.4f} vs noisy input {scores['identity_mse']:.4f}"))
    else:
      name = f"reconstructions_epoch{epoch:03d}.png"
      picture = reconstruction_figure(clean, output, (
          f"epoch {epoch}; held-out: BCE {scores['loss']:.4f}, MSE {scores['mse']:.4f}"))
    image_lib.save_png(picture, os.path.join(workdir, name))
    writer.image(step, name[:-len("_epoch000.png")], np.asarray(picture))

  return write


# ----------------------------------------------------------------------------------------------
# A trained run.


@dataclasses.dataclass(frozen=True)
class TrainedAutoencoder:
  """A trained autoencoder, restored: its config, objective, step and parameters."""
  workdir: str
  config: ml_collections.ConfigDict
  objective: Objective
  step: int
  params: Any

  def encode(self, images: np.ndarray, batch_size: int = 500, params: Any = None) -> np.ndarray:
    """The codes of ``images`` ``[N, H, W, C]`` in [0, 1] (clean inputs), ``[N, *code_shape]``;
    with ``params``, those of the same model with other parameters (e.g. a fresh init)."""
    encode = jax.jit(lambda p, x: self.objective.model.apply({"params": p}, x, method="encode"))
    params = self.params if params is None else params
    return batching.batched_apply(lambda x: encode(params, x), np.asarray(images, np.float32),
                                  min(batch_size, max(len(images), 1)))


def load_autoencoder(workdir: str) -> TrainedAutoencoder:
  """Opens a trained autoencoder run: its saved config and newest good checkpoint.

  Raises:
    ConfigError: ``workdir`` holds no autoencoder run.
    checkpointing.CheckpointError: no checkpoint yet, or none is usable.
  """
  config = ml_collections.ConfigDict(workdir_lib.read_config(workdir))
  if set(config.keys()) != set(FIELDS):
    raise ConfigError(f"--workdir {workdir} holds no autoencoder run (its config.json is not an "
                      "autoencoder config); pass the workdir given to experiments.autoencoder.")
  objective = build_objective(config)
  like = create_state(objective, jax.random.key(config.seed))
  checkpointer = checkpointing.Checkpointer(os.path.join(workdir, "checkpoints"),
                                            log=lambda message: None, read_only=True)
  try:
    step, state = checkpointer.restore_latest_good(like)
  finally:
    checkpointer.close()
  if step is None:
    raise checkpointing.CheckpointError(f"--workdir {workdir} has no checkpoint yet; train first "
                                        "(python -m experiments.autoencoder).")
  return TrainedAutoencoder(workdir, config, objective, int(step), state.params)
