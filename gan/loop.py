"""The training loop: `train_and_evaluate(config, workdir)`, the library half of `experiments.train`.

What it does, in order:

1. validates the config (`gan.config.check_config`: one clear message per mistake) and the
   workdir;
2. refuses a workdir whose saved ``config.json`` differs from this config in anything but the step
   budget (``num_steps``), naming the fields that differ;
3. builds the data source, the models and the data-parallel step (`gan.parallel`: jit over a
   ``data`` mesh of every device of every process);
4. resumes from the newest good checkpoint (`gan.checkpointing`), so a run started again with the
   same workdir continues exactly as if never stopped: batches are a pure function of
   (seed, step) and random numbers are folded from (seed, step, example);
5. trains, stopping (``nan_policy='stop'``) or skipping the update (``'skip_step'``) when a loss,
   gradient or parameter is non-finite; a stopped run writes nothing after its last good
   checkpoint;
6. writes TensorBoard scalars and images, ``metrics.jsonl``, sample grids of one fixed z every
   ``sample_every`` steps, checkpoints every ``checkpoint_every`` steps and at the end, and
   finally ``progress.png``.

Only process 0 writes files other than checkpoints (which orbax coordinates across processes).
"""

from __future__ import annotations

import glob
import json
import os
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from PIL import Image

from gan import checkpointing
from gan import config as config_lib
from gan import data
from gan import images
from gan import parallel
from gan import step as step_lib
from gan import writers
from gan.config import ConfigError

_SAMPLES_SALT = 0x5A3


class NonFiniteError(RuntimeError):
  """Training produced a non-finite loss, gradient or parameter under ``nan_policy='stop'``."""


def prepare_workdir(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Creates the workdir, or checks that an existing one belongs to this config."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise ConfigError(f"--workdir {workdir} is a file, not a directory; pass a directory path.")
  try:
    os.makedirs(workdir, exist_ok=True)
  except OSError as e:
    raise ConfigError(f"--workdir {workdir} cannot be created ({e.strerror}); pass a path you "
                      f"can write to.") from e
  if not os.access(workdir, os.W_OK | os.X_OK):
    raise ConfigError(f"--workdir {workdir} is not writable; pass a directory you can write to.")
  path = os.path.join(workdir, "config.json")
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      saved = json.load(f)
    diffs = config_lib.config_differences(saved, config.to_dict())
    if diffs:
      raise ConfigError(
          f"--workdir {workdir} holds a run with a different config; resuming it with this one "
          f"would mix two experiments. Differing fields: {'; '.join(diffs)}. Use a new workdir, "
          f"or the saved config ({path}).")
  elif jax.process_index() == 0:
    with open(path + ".tmp", "w", encoding="utf-8") as f:
      f.write(config.to_json(indent=2, sort_keys=True))
    os.replace(path + ".tmp", path)


# ----------------------------------------------------------------------------------------------
# Samples.


def fixed_latents(config: ml_collections.ConfigDict, num_classes: int):
  """The z (and labels) every sample grid of a run is drawn from: fixed by the seed."""
  key = jax.random.fold_in(jax.random.key(config.seed), _SAMPLES_SALT)
  z = jax.random.normal(key, (config.num_samples, config.latent_dim))
  labels = jnp.arange(config.num_samples) % num_classes if num_classes else None
  return z, labels


def _sample_picture(samples: np.ndarray, reference: Optional[np.ndarray]) -> np.ndarray:
  if samples.ndim == 4:
    return images.image_grid(samples)
  return images.scatter_plot(samples, reference)


# ----------------------------------------------------------------------------------------------
# The loop.


def _make_evaluator(config, gan, log):
  """``state -> {'eval/<metric>': value}``: `gan.evaluation` every ``eval_every`` steps, with
  the feature network and the real-data references prepared once."""
  from gan import evaluation  # pylint: disable=g-import-not-at-top
  evaluator = evaluation.Evaluator(config, log)

  def evaluate(state):
    result = evaluator(gan, state)
    return {f"eval/{k}": float(v) for k, v in result["model"].items()}

  return evaluate


def _make_source(config):
  """The training split; on several processes, process 0 prepares it first (TFDS preparation
  into one data dir is not safe to run concurrently)."""
  make = lambda: data.make_source(config.dataset, "train", data_dir=config.data_dir or None)
  if jax.process_count() == 1:
    return make()
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
  source = make() if jax.process_index() == 0 else None
  multihost_utils.sync_global_devices("jaxgan: training data prepared")
  return source or make()


def _nonfinite_quantity(metrics: dict) -> str:
  names = {"d_loss": "the discriminator loss", "g_loss": "the generator loss",
           "d_grad_norm": "the discriminator gradient", "g_grad_norm": "the generator gradient"}
  for key, name in names.items():
    if not np.isfinite(metrics[key]):
      return name
  return "a parameter" if metrics.get("params_finite", 1.0) != 1.0 else "a checked quantity"


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       log: Callable[[str], None] = print, progress: bool = True) -> dict:
  """Trains (or resumes) the GAN ``config`` describes in ``workdir``; returns the last metrics.

  Raises:
    ConfigError: a config value or the workdir cannot work.
    data.DatasetNotAvailableError: the dataset cannot be had offline.
    checkpointing.CheckpointError: checkpoints exist but none is usable, or one cannot be written.
    NonFiniteError: ``nan_policy='stop'`` and training produced a non-finite value.
  """
  config_lib.check_config(config)
  prepare_workdir(config, workdir)
  is_main = jax.process_index() == 0
  if not is_main:
    log = lambda message: None
  spec = data.get(config.dataset)
  source = _make_source(config)
  gan = config_lib.build_gan(config)
  mesh = parallel.data_mesh()
  schedule = config_lib.resolve_schedule(config, num_devices=mesh.size)
  step_fn = parallel.sharded_train_step(gan, mesh, schedule,
                                        skip_nonfinite=config.nan_policy == "skip_step")
  state = parallel.replicate(step_lib.create_state(gan, jax.random.key(config.seed)), mesh)
  rng = jax.random.fold_in(jax.random.key(config.seed), 1)

  checkpointer = checkpointing.Checkpointer(os.path.join(workdir, "checkpoints"),
                                            keep=config.keep_checkpoints, log=log)
  start, restored = checkpointer.restore_latest_good(state)
  if start is not None:
    state = restored
    log(f"Resuming from checkpoint step {start} in {workdir}.")
  start = int(start or 0)
  if start >= config.num_steps:
    log(f"Nothing to do: the checkpoint is at step {start} >= num_steps={config.num_steps}.")

  writer = writers.MetricWriter(workdir, enabled=is_main)
  samples_dir = os.path.join(workdir, "samples")
  if is_main:
    os.makedirs(samples_dir, exist_ok=True)
  z_fixed, labels_fixed = fixed_latents(config, gan.num_classes)
  sample_fn = jax.jit(lambda s: step_lib.generate(gan, s, z_fixed, labels_fixed,
                                                  use_ema=config.ema_decay > 0))
  reference = spec.sample_reference(source) if spec.sample_reference else None

  def write_samples(step, state):
    picture = _sample_picture(checkpointing.host_array(sample_fn(state)), reference)
    if is_main:
      images.save_png(picture, os.path.join(samples_dir, f"step_{step:06d}.png"))
      writer.image(step, "samples", picture)

  evaluator = _make_evaluator(config, gan, log) if config.get("eval_every", 0) else None
  rows = config.batch_size * config.n_critic
  bar = writers.Progress(config.num_steps, start, enabled=is_main and progress)
  window, skipped, metrics = [], 0, {}
  if start == 0 and config.sample_every:
    write_samples(0, state)
  try:
    for step in range(start, config.num_steps):
      local = source.batch(step, rows, config.seed, jax.process_index(), jax.process_count())
      batch = parallel.global_batch({"image": local["image"], "label": local["label"]}, mesh)
      state, device_metrics = step_fn(state, batch, rng)
      metrics = {k: float(v) for k, v in jax.device_get(device_metrics).items()}
      done = step + 1
      if metrics["finite"] != 1.0:
        if config.nan_policy == "stop":
          kept = checkpointer.steps()
          raise NonFiniteError(
              f"Training stopped at step {done}: {_nonfinite_quantity(metrics)} became "
              f"non-finite (NaN or inf). The last good checkpoint "
              f"({'step ' + str(kept[-1]) if kept else 'none yet'}) is kept and nothing was "
              f"written after it. Lower the learning rates, or set "
              f"--config.nan_policy=skip_step to skip such updates.")
        skipped += 1
        log(f"WARNING: step {done}: {_nonfinite_quantity(metrics)} is non-finite; the update was "
            f"skipped ({skipped} so far).")
        continue
      window.append(metrics)
      if done % config.log_every == 0 or done == config.num_steps:
        mean = {k: float(np.mean([m[k] for m in window])) for k in window[0]}
        mean["steps_per_sec"] = bar.update(done, mean)
        if skipped:
          mean["skipped_steps"] = skipped
        writer.scalars(done, mean)
        window = []
      if config.sample_every and done % config.sample_every == 0:
        write_samples(done, state)
      if evaluator and done % config.eval_every == 0:
        writer.scalars(done, evaluator(state))
      if done % config.checkpoint_every == 0 or done == config.num_steps:
        checkpointer.save(done, state)
  finally:
    bar.close()
    writer.flush()
    checkpointer.close()

  if config.sample_every == 0 or config.num_steps % config.sample_every:
    write_samples(config.num_steps, state)
  if is_main:
    _write_progress(samples_dir, workdir)
  writer.close()
  return metrics


def _write_progress(samples_dir: str, workdir: str) -> None:
  paths = sorted(glob.glob(os.path.join(samples_dir, "step_*.png")))
  if not paths:
    return
  grids = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
  steps = [int(os.path.basename(p)[len("step_"):-len(".png")]) for p in paths]
  images.save_png(images.progress_image(grids, steps), os.path.join(workdir, "progress.png"))
  images.save_png(grids[-1], os.path.join(workdir, "samples.png"))
