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
import time
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
from gan import latent
from gan import parallel
from gan import step as step_lib
from gan import workdir as workdir_lib
from gan import writers
from gan.config import ConfigError

_SAMPLES_SALT = 0x5A3
RESULTS_FILE = "results.json"
# One line per evaluation during training (``eval_every``) and the final one: ``{"step": s,
# "eval_per_seed": [...], "wall_seconds": t}``. A step evaluated again after a resume is read as
# its last line.
EVAL_HISTORY_FILE = "eval.jsonl"


from gan.errors import NonFiniteError  # pylint: disable=unused-import


# ----------------------------------------------------------------------------------------------
# Samples.


def fixed_latents(config: ml_collections.ConfigDict, num_classes: int):
  """The z (and labels) every sample grid of a run is drawn from: fixed by the seed."""
  key = jax.random.fold_in(jax.random.key(config.seed), _SAMPLES_SALT)
  z = latent.sample(key, (config.num_samples, config.latent_dim),
                    config.get("latent_distribution", "normal"))
  labels = jnp.arange(config.num_samples) % num_classes if num_classes else None
  return z, labels


def _sample_picture(samples: np.ndarray, reference: Optional[np.ndarray]) -> np.ndarray:
  if samples.ndim == 4:
    return images.image_grid(samples, min_cell=images.SAMPLE_CELL)
  return images.scatter_plot(samples, reference)


# ----------------------------------------------------------------------------------------------
# The loop.


def _make_evaluator(config, gan, log):
  """``state -> result``: `gan.evaluation` of one seed's state, with the feature network and the
  real-data references prepared once."""
  from gan import evaluation  # pylint: disable=g-import-not-at-top
  evaluator = evaluation.Evaluator(config, log)
  return lambda state: evaluator(gan, state)


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


def seeds_of(config: ml_collections.ConfigDict) -> list[int]:
  """The seeds a run trains: ``seed, seed + 1, ..., seed + num_seeds - 1``."""
  return [int(config.seed) + i for i in range(int(config.get("num_seeds", 1)))]


def _seed_config(config: ml_collections.ConfigDict, seed: int) -> ml_collections.ConfigDict:
  one = ml_collections.ConfigDict(config.to_dict())
  one.seed = seed
  if "num_seeds" in one:
    one.num_seeds = 1
  return one


def _stack(trees: list):
  return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)


def _index(tree, i: int):
  return jax.tree.map(lambda x: x[i], tree)


def read_results(workdir: str) -> Optional[dict]:
  """The ``results.json`` a finished run wrote, or None; `ConfigError` if it is damaged."""
  path = os.path.join(workdir, RESULTS_FILE)
  if not os.path.lexists(path):
    return None
  return workdir_lib.read_json_object(path, "a run's results")


def read_eval_history(workdir: str) -> dict[int, dict]:
  """``{step: its last line of eval.jsonl}`` in step order (``eval_per_seed``, and
  ``wall_seconds`` where it was logged); empty without the file."""
  path = os.path.join(workdir, EVAL_HISTORY_FILE)
  rows = {}
  if os.path.isfile(path):
    with open(path, encoding="utf-8") as f:
      for line in f:
        if line.strip():
          row = json.loads(line)
          rows[int(row["step"])] = row
  return dict(sorted(rows.items()))


def read_eval_wall_seconds(workdir: str) -> dict[int, float]:
  """``{step: seconds}``: how long the run had been going (this invocation: data, compiling,
  training, earlier evaluations) when it evaluated that step; steps logged without it are left
  out."""
  return {step: row["wall_seconds"] for step, row in read_eval_history(workdir).items()
          if "wall_seconds" in row}


def _append_eval_history(workdir: str, step: int, results: list[dict],
                         wall_seconds: float) -> None:
  with open(os.path.join(workdir, EVAL_HISTORY_FILE), "a", encoding="utf-8") as f:
    f.write(json.dumps(dict(step=step, eval_per_seed=[r["model"] for r in results],
                            wall_seconds=round(wall_seconds, 1)), sort_keys=True) + "\n")


def _write_results(workdir: str, results: dict) -> None:
  path = os.path.join(workdir, RESULTS_FILE)
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    json.dump(results, f, indent=2, sort_keys=True)
  os.replace(path + ".tmp", path)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str,
                       log: Callable[[str], None] = print, progress: bool = True) -> dict:
  """Trains (or resumes) the GAN ``config`` describes in ``workdir``; returns the final metrics.

  With ``config.num_seeds = N > 1`` the N seeds ``seed .. seed + N - 1`` train together in one
  compiled program (the step ``vmap``-ed over the whole state): seed i draws exactly the
  parameters, batches and random numbers run ``seed = i`` would. The checkpoint holds all N
  states (a leading seed axis); samples, evaluation and results are per seed.

  At the end ``<workdir>/results.json`` holds, per seed, the last logged training metrics and
  (with ``config.final_eval``) the final evaluation beside its real-data reference. A finished
  run called again trains nothing and returns the stored metrics.

  Returns:
    The last logged training metrics, averaged over the seeds.

  Raises:
    ConfigError: a config value or the workdir cannot work.
    data.DatasetNotAvailableError: the dataset cannot be had offline.
    checkpointing.CheckpointError: checkpoints exist but none is usable, or one cannot be written.
    NonFiniteError: ``nan_policy='stop'`` and training produced a non-finite value.
    writers.WriteError: a log, sample or results file could not be written (a full disk): the
      checkpoints written before are kept, and the same call resumes from them.
  """
  config_lib.check_config(config)
  is_main = jax.process_index() == 0
  with workdir_lib.claim(config, workdir, is_main) as held:
    try:
      return _train(config, workdir, held, log if is_main else (lambda message: None), progress)
    except writers.WriteError as e:
      kept = checkpointing.Checkpointer.steps_on_disk(os.path.join(workdir, "checkpoints"))
      raise writers.WriteError(
          f"Training stopped: {e} The checkpoints written so far ({kept or 'none'}) are kept; "
          "run the same command again to resume.") from e


def _train(config, workdir, held, log, progress) -> dict:
  """`train_and_evaluate` inside a claimed workdir: builds, restores, commits, then trains."""
  started = time.time()
  is_main = jax.process_index() == 0
  spec = data.get(config.dataset)
  source = _make_source(config)
  gan = config_lib.build_gan(config)
  mesh = parallel.data_mesh()
  schedule = config_lib.resolve_schedule(config, num_devices=mesh.size)
  seeds = seeds_of(config)
  many = len(seeds) > 1  # a leading seed axis on the state, the batch and the rng
  step_fn = parallel.sharded_train_step(gan, mesh, schedule,
                                        skip_nonfinite=config.nan_policy == "skip_step",
                                        num_seeds=len(seeds) if many else 0)
  init = lambda seed: step_lib.create_state(gan, jax.random.key(seed))
  base_rng = lambda seed: jax.random.fold_in(jax.random.key(seed), 1)
  if many:
    state = _stack([init(s) for s in seeds])
    rng = jnp.stack([jax.random.key_data(base_rng(s)) for s in seeds])
    rng = jax.random.wrap_key_data(rng)
  else:
    state, rng = init(config.seed), base_rng(config.seed)
  state = parallel.replicate(state, mesh)

  checkpointer = checkpointing.Checkpointer(os.path.join(workdir, "checkpoints"),
                                            keep=config.keep_checkpoints, log=log)
  start, restored = checkpointer.restore_latest_good(state)
  if start is not None:
    state = restored
    log(f"Resuming from checkpoint step {start} in {workdir}.")
  start = int(start or 0)
  if start > config.num_steps:
    checkpointer.close()
    raise ConfigError(
        f"--workdir {workdir} holds a run trained to step {start}, past --config.num_steps="
        f"{config.num_steps}; a run is not trained backwards, and its samples and results stay "
        f"as they are. To train further pass num_steps > {start}; to look at it use "
        f"experiments.evaluate or experiments.sample; or pass another --workdir.")
  stored = read_results(workdir)
  if start == config.num_steps and stored and stored.get("step") == start:
    checkpointer.close()
    log(f"Nothing to do: {workdir} finished at step {start}; its results are in "
        f"{os.path.join(workdir, RESULTS_FILE)}.")
    return stored["train_mean"]
  if start == config.num_steps:
    log(f"Nothing to train: the checkpoint is at step {start} = num_steps; finishing its "
        "samples and results.")
  rows = config.batch_size * config.n_critic
  # A batch the data cannot give (larger than the split) fails here, before the workdir is
  # claimed, rather than at the first step.
  try:
    source.batch(start, rows, seeds[0], jax.process_index(), jax.process_count())
  except ValueError as e:
    raise ConfigError(f"config.batch_size={config.batch_size} (x n_critic={config.n_critic} = "
                      f"{rows} examples per step) cannot be drawn from {config.dataset!r}: {e} "
                      "Lower batch_size.") from e
  # The run can start: the workdir becomes this experiment's, and the steps after the restored
  # checkpoint (trained again from here) lose their rows from an interrupted attempt.
  held.commit()
  if is_main:
    for name in ("metrics.jsonl", EVAL_HISTORY_FILE):
      workdir_lib.truncate_jsonl(os.path.join(workdir, name), start)

  writer = writers.MetricWriter(workdir, enabled=is_main, purge_step=start + 1)
  held.on_release(writer.close)
  samples_dirs = [os.path.join(workdir, "samples", f"seed_{s}" if many else "") for s in seeds]
  if is_main:
    for folder in samples_dirs:
      os.makedirs(folder, exist_ok=True)
  latents = [fixed_latents(_seed_config(config, s), gan.num_classes) for s in seeds]
  generate = lambda s, z, labels: step_lib.generate(gan, s, z, labels,
                                                    use_ema=config.ema_decay > 0)
  if many:
    z_fixed = jnp.stack([z for z, _ in latents])
    labels_fixed = None if gan.num_classes == 0 else jnp.stack([l for _, l in latents])
    sample_fn = jax.jit(lambda s: jax.vmap(generate)(s, z_fixed, labels_fixed))
  else:
    sample_fn = jax.jit(lambda s: generate(s, *latents[0]))
  reference = spec.sample_reference(source) if spec.sample_reference else None

  def write_samples(step, state):
    samples = checkpointing.host_array(sample_fn(state))
    for i, folder in enumerate(samples_dirs):
      picture = _sample_picture(samples[i] if many else samples, reference)
      if is_main:
        images.save_png(picture, os.path.join(folder, f"step_{step:06d}.png"))
        writer.image(step, f"samples/seed_{seeds[i]}" if many else "samples", picture)

  evaluator = _make_evaluator(config, gan, log) if (
      config.get("eval_every", 0) or config.get("final_eval", False)) else None

  def evaluate(step, state) -> list[dict]:
    wall_seconds = time.time() - started  # the run's time to get here, not this evaluation's
    results = [evaluator(_index(state, i) if many else state) for i in range(len(seeds))]
    if is_main:
      _append_eval_history(workdir, step, results, wall_seconds)
    return results

  bar = writers.Progress(config.num_steps, start, enabled=is_main and progress)
  window, skipped, evaluated = [], 0, {}
  last = (stored or {}).get("train_per_seed")  # per seed, the last logged window's means
  if start == 0 and config.sample_every:
    write_samples(0, state)
  try:
    for step in range(start, config.num_steps):
      local = [source.batch(step, rows, s, jax.process_index(), jax.process_count())
               for s in seeds]
      local = _stack(local) if many else local[0]
      batch = parallel.global_batch({"image": local["image"], "label": local["label"]}, mesh,
                                    seed_axis=many)
      state, device_metrics = step_fn(state, batch, rng)
      per_seed = np.stack([np.atleast_1d(np.asarray(v, np.float64))
                           for v in jax.device_get(device_metrics).values()], axis=1)
      per_seed = [dict(zip(device_metrics, row)) for row in per_seed]
      done = step + 1
      bad = [i for i, m in enumerate(per_seed) if m["finite"] != 1.0]
      if bad:
        where = (f"seed {seeds[bad[0]]}: " if many else "") + _nonfinite_quantity(per_seed[bad[0]])
        if config.nan_policy == "stop":
          kept = checkpointer.steps()
          raise NonFiniteError(
              f"Training stopped at step {done}: {where} became "
              f"non-finite (NaN or inf). The last good checkpoint "
              f"({'step ' + str(kept[-1]) if kept else 'none yet'}) is kept and nothing was "
              f"written after it. Lower the learning rates, or set "
              f"--config.nan_policy=skip_step to skip such updates.")
        skipped += 1
        log(f"WARNING: step {done}: {where} is non-finite; the update was skipped "
            f"({skipped} so far).")
      # A skipped (non-finite) update leaves its seed's state as it was and is not logged.
      window.append([None if i in bad else {k: float(v) for k, v in m.items()}
                     for i, m in enumerate(per_seed)])
      if done % config.log_every == 0 or done == config.num_steps:
        last = [_window_mean([w[i] for w in window]) or (last[i] if last else None)
                for i in range(len(seeds))]
        logged = [m for m in last if m]
        if logged:
          mean = {k: float(np.mean([m[k] for m in logged])) for k in logged[0]}
          mean["steps_per_sec"] = bar.update(done, mean)
          if skipped:
            mean["skipped_steps"] = skipped
          writer.scalars(done, mean)
        window = []
      if config.sample_every and done % config.sample_every == 0:
        write_samples(done, state)
      if config.get("eval_every", 0) and done % config.eval_every == 0:
        results = evaluate(done, state)
        evaluated = {done: results}  # the last, reused by the final evaluation at the same step
        writer.scalars(done, {f"eval/{k}": float(np.mean([r["model"][k] for r in results]))
                              for k in results[0]["model"]})
      if done % config.checkpoint_every == 0 or done == config.num_steps:
        checkpointer.save(done, state)
  finally:
    bar.close()
    checkpointer.close()

  if config.sample_every == 0 or config.num_steps % config.sample_every:
    write_samples(config.num_steps, state)
  if is_main:
    for i, folder in enumerate(samples_dirs):
      suffix = f"_seed{seeds[i]}" if many else ""
      _write_progress(folder, workdir, suffix)
  final_eval = None
  if config.get("final_eval", False):
    final_eval = evaluated.get(config.num_steps) or evaluate(config.num_steps, state)
  logged = [m for m in (last or []) if m]
  train_mean = {k: float(np.mean([m[k] for m in logged])) for k in logged[0]} if logged else {}
  if is_main:
    # wall_seconds: this invocation, from the door to the results (data, compile, training,
    # samples, final evaluation); a resumed run counts only its last part.
    results = dict(step=config.num_steps, seeds=seeds, train_per_seed=last,
                   train_mean=train_mean, skipped_steps=skipped, resumed_from=start,
                   wall_seconds=round(time.time() - started, 1))
    if final_eval is not None:
      results["eval_per_seed"] = [r["model"] for r in final_eval]
      results["eval_reference"] = final_eval[0]["reference"]
      writer.scalars(config.num_steps, {
          f"eval/{k}": float(np.mean([r["model"][k] for r in final_eval]))
          for k in final_eval[0]["model"]})
    _write_results(workdir, results)
  writer.close()
  return train_mean


def _window_mean(window: list) -> Optional[dict]:
  """Means of the logged metrics over a window, skipping updates that were not applied."""
  window = [m for m in window if m is not None]
  if not window:
    return None
  return {k: float(np.mean([m[k] for m in window])) for k in window[0]}


def _write_progress(samples_dir: str, workdir: str, suffix: str = "") -> None:
  paths = sorted(glob.glob(os.path.join(samples_dir, "step_*.png")))
  if not paths:
    return
  grids = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
  steps = [int(os.path.basename(p)[len("step_"):-len(".png")]) for p in paths]
  images.save_png(images.progress_image(grids, steps),
                  os.path.join(workdir, f"progress{suffix}.png"))
  images.save_png(grids[-1], os.path.join(workdir, f"samples{suffix}.png"))
