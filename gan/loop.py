"""The training loop: `train_and_evaluate(config, workdir)`, the library half of `experiments.train`.

It runs in named phases, one code path for 1..N seeds (`gan.seeds.Seeds`):

1. **the door** (`train_and_evaluate`): validates the config (`gan.config.check_config`, which
   also builds the objective and the schedule once) and claims the workdir (`gan.workdir.claim`:
   a saved ``config.json`` that differs in anything but the step budget is refused);
2. **start** (`_build`, then `resume` and `commit`, which the autoencoder's loop shares): the data
   source, the data-parallel step (`gan.parallel`: jit over a ``data`` mesh of every device of
   every process), the newest good checkpoint (`gan.checkpointing`); a run past its budget is
   refused and a finished one returns its stored results; only then does the workdir become this
   run's. A resumed run continues exactly as if never stopped: batches are a pure function of
   (seed, step) and random numbers are folded from (seed, step, example);
3. **the step loop** (`_step_loop`): steps are dispatched without waiting for the device; their
   metrics reach the host only when something is written (a log, sample, evaluation or checkpoint
   step), where the step's own finiteness flag is read (`_MetricWindow`): ``nan_policy='stop'``
   stops there, before anything is written after the last good checkpoint; ``'skip_step'`` has
   already left the state as it was on device and the window says so;
4. **outputs** (`_Outputs`): TensorBoard scalars and images, ``metrics.jsonl``, sample grids of one
   fixed z (`gan.sampling.fixed_latents`), evaluations (``eval.jsonl``);
5. **finish** (`_finish`, then `finish`): the last samples, ``progress.png``, the final evaluation
   and ``results.json``.

Only process 0 writes files other than checkpoints (which orbax coordinates across processes).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import time
from typing import Any, Callable, Optional

import jax
import ml_collections
import numpy as np
from PIL import Image

from gan import checkpointing
from gan import config as config_lib
from gan import data
from gan import images
from gan import parallel
from gan import sampling
from gan import step as step_lib
from gan import workdir as workdir_lib
from gan import writers
from gan.errors import ConfigError, NonFiniteError, WriteError
from gan.seeds import Seeds

# ----------------------------------------------------------------------------------------------
# Start and finish: shared with every loop that trains in a workdir (the autoencoder's too).


def resume(checkpointer: checkpointing.Checkpointer, like: Any, num_steps: int, workdir: str,
           log: Callable[[str], None], budget: str = "num_steps", steps_per_unit: int = 1,
           unit: str = "step") -> tuple[int, Any, Optional[dict]]:
  """``(start, state, finished)``: the newest good checkpoint's step and state (``(0, like)``
  without one), and the stored ``results.json`` when the run already finished at ``num_steps``
  (then there is nothing to do).

  ``budget`` names the config field that sets ``num_steps``, in ``unit``s of ``steps_per_unit``
  steps (e.g. ``num_epochs``, epochs), for the messages.

  Raises:
    ConfigError: the checkpoint is past ``num_steps`` (a run is not trained backwards).
    CheckpointError: checkpoints exist but none is usable.
  """
  start, state = checkpointer.restore_latest_good(like)
  if start is not None:
    where = f" ({unit} {start // steps_per_unit})" if steps_per_unit != 1 else ""
    log(f"Resuming from checkpoint step {start}{where} in {workdir}.")
  start = int(start or 0)
  if start > num_steps:
    raise ConfigError(
        f"--workdir {workdir} holds a run trained to step {start}, past --config.{budget}="
        f"{num_steps // steps_per_unit}; a run is not trained backwards, and its samples and "
        f"results stay as they are. To train further pass a larger {budget} (past "
        f"{start // steps_per_unit}); to look at it use experiments.evaluate or "
        "experiments.sample; or pass another --workdir.")
  stored = workdir_lib.read_results(workdir)
  if start == num_steps and stored and stored.get("step") == num_steps:
    log(f"Nothing to do: {workdir} finished at step {start}; its results are in "
        f"{os.path.join(workdir, workdir_lib.RESULTS_FILE)}.")
    return start, state, stored
  return start, state, None


def commit(held: workdir_lib.Claim, workdir: str, start: int, is_main: bool = True) -> None:
  """The run can start: the workdir becomes this experiment's (``config.json``), and the logs of
  the steps after the restored checkpoint (trained again from here) lose their rows."""
  held.commit()
  if is_main:
    for name in (workdir_lib.METRICS_FILE, workdir_lib.EVAL_FILE):
      workdir_lib.truncate_jsonl(os.path.join(workdir, name), start)


def finish(workdir: str, results: dict, started: float, start: int) -> dict:
  """Writes ``results.json``: ``results`` plus ``resumed_from`` (the step this invocation started
  at) and ``wall_seconds`` (this invocation, from the door to the results: data, compiling,
  training, samples, final evaluation; a resumed run counts only its last part)."""
  results = dict(results, resumed_from=start, wall_seconds=round(time.time() - started, 1))
  with writers.reporting_write_errors(os.path.join(workdir, workdir_lib.RESULTS_FILE)):
    workdir_lib.write_results(workdir, results)
  return results


# ----------------------------------------------------------------------------------------------
# The GAN's run.


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
    DatasetNotAvailableError: the dataset cannot be had offline.
    CheckpointError: checkpoints exist but none is usable, or one cannot be written.
    NonFiniteError: ``nan_policy='stop'`` and training produced a non-finite value.
    WriteError: a log, sample or results file could not be written (a full disk): the
      checkpoints written before are kept, and the same call resumes from them.
  """
  gan, schedule = config_lib.check_config(config)
  is_main = jax.process_index() == 0
  differences = lambda saved: config_lib.config_differences(saved, config.to_dict())
  with workdir_lib.claim(config, workdir, is_main, differences=differences) as held:
    try:
      return _train(config, workdir, held, gan, schedule,
                    log if is_main else (lambda message: None), progress)
    except WriteError as e:
      kept = checkpointing.Checkpointer.steps_on_disk(os.path.join(workdir, "checkpoints"))
      raise WriteError(
          f"Training stopped: {e} The checkpoints written so far ({kept or 'none'}) are kept; "
          "run the same command again to resume.") from e


@dataclasses.dataclass(frozen=True)
class _Run:
  """What the phases of one GAN run share, built once at its start."""
  config: ml_collections.ConfigDict
  workdir: str
  log: Callable[[str], None]
  is_main: bool
  started: float
  seeds: Seeds
  gan: step_lib.GAN
  mesh: Any
  source: Any
  rows: int  # examples drawn per step and seed: batch_size x n_critic
  step_fn: Callable
  rng: jax.Array
  checkpointer: checkpointing.Checkpointer

  def batch(self, step: int) -> dict:
    """The global batch of ``step``: each seed's rows of this process, stacked by seed."""
    local = [self.source.batch(step, self.rows, seed, jax.process_index(), jax.process_count())
             for seed in self.seeds]
    local = self.seeds.stack([{"image": b["image"], "label": b["label"]} for b in local])
    return parallel.global_batch(local, self.mesh, seed_axis=self.seeds.stacked)


def _train(config, workdir, held, gan, schedule, log, progress) -> dict:
  run, state = _build(config, workdir, held, gan, schedule, log)
  start, state, finished = resume(run.checkpointer, state, config.num_steps, workdir, log)
  if finished:
    return finished["train_mean"]
  if start == config.num_steps:
    log(f"Nothing to train: the checkpoint is at step {start} = num_steps; finishing its "
        "samples and results.")
  _refuse_a_batch_the_data_cannot_give(run, start)
  commit(held, workdir, start, run.is_main)
  outputs = _Outputs(run, start, progress)
  held.on_release(outputs.close)
  window = _MetricWindow(run, last=(workdir_lib.read_results(workdir) or {}).get("train_per_seed"))
  try:
    state = _step_loop(run, outputs, window, state, start)
  finally:
    outputs.bar.close()
  return _finish(run, outputs, window, state, start)


def _build(config, workdir, held, gan, schedule, log) -> tuple[_Run, Any]:
  """The data source, the compiled step and the initial state of every seed."""
  seeds = Seeds.of(config)
  mesh = parallel.data_mesh()
  step_fn = parallel.sharded_train_step(gan, mesh, schedule,
                                        skip_nonfinite=config.nan_policy == "skip_step",
                                        num_seeds=len(seeds) if seeds.stacked else 0)
  state = seeds.stack([step_lib.create_state(gan, jax.random.key(s)) for s in seeds])
  rng = seeds.stack_keys([jax.random.fold_in(jax.random.key(s), 1) for s in seeds])
  checkpointer = checkpointing.Checkpointer(os.path.join(workdir, "checkpoints"),
                                            keep=config.keep_checkpoints, log=log)
  held.on_release(checkpointer.close)
  run = _Run(config=config, workdir=workdir, log=log, is_main=jax.process_index() == 0,
             started=time.time(), seeds=seeds, gan=gan, mesh=mesh, source=_make_source(config),
             rows=config.batch_size * config.n_critic, step_fn=step_fn, rng=rng,
             checkpointer=checkpointer)
  return run, parallel.replicate(state, mesh)


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


def _refuse_a_batch_the_data_cannot_give(run: _Run, start: int) -> None:
  """A batch larger than the split fails here, before the workdir is committed, not mid-run."""
  try:
    run.source.batch(start, run.rows, run.seeds.values[0], jax.process_index(),
                     jax.process_count())
  except ValueError as e:
    config = run.config
    raise ConfigError(f"config.batch_size={config.batch_size} (x n_critic={config.n_critic} = "
                      f"{run.rows} examples per step) cannot be drawn from {config.dataset!r}: "
                      f"{e} Lower batch_size.") from e


def _step_loop(run: _Run, outputs: "_Outputs", window: "_MetricWindow", state, start: int):
  """Trains from ``start`` to ``num_steps``; reads metrics only at steps that write something."""
  config = run.config
  every = lambda n, done: bool(n) and done % n == 0
  if start == 0 and config.sample_every:
    outputs.samples(0, state)
  for step in range(start, config.num_steps):
    state, metrics = run.step_fn(state, run.batch(step), run.rng)
    window.add(metrics)
    done = step + 1
    last = done == config.num_steps
    log_now = every(config.log_every, done) or last
    sample_now = every(config.sample_every, done)
    eval_now = every(config.eval_every, done)
    checkpoint_now = every(config.checkpoint_every, done) or last
    if not (log_now or sample_now or eval_now or checkpoint_now):
      continue
    window.read(done)  # raises NonFiniteError (nan_policy='stop') before anything is written
    if log_now:
      outputs.log(done, window)
    if sample_now:
      outputs.samples(done, state)
    if eval_now:
      outputs.evaluation(done, state)
    if checkpoint_now:
      run.checkpointer.save(done, state)
  return state


def _finish(run: _Run, outputs: "_Outputs", window: "_MetricWindow", state, start: int) -> dict:
  """The last samples, the progress pictures, the final evaluation and ``results.json``."""
  config = run.config
  if config.sample_every == 0 or config.num_steps % config.sample_every:
    outputs.samples(config.num_steps, state)
  outputs.progress()
  final_eval = outputs.evaluation(config.num_steps, state) if config.final_eval else None
  train_mean = window.mean()
  if run.is_main:
    results = dict(step=config.num_steps, seeds=list(run.seeds), train_per_seed=window.last,
                   train_mean=train_mean, skipped_steps=window.skipped)
    if final_eval is not None:
      results["eval_per_seed"] = [r["model"] for r in final_eval]
      results["eval_reference"] = final_eval[0]["reference"]
    finish(run.workdir, results, run.started, start)
  outputs.close()
  return train_mean


# ----------------------------------------------------------------------------------------------
# Metrics: read from the device in windows.


_QUANTITIES = {"d_loss": "the discriminator loss", "g_loss": "the generator loss",
               "d_grad_norm": "the discriminator gradient",
               "g_grad_norm": "the generator gradient"}


def _nonfinite_quantity(metrics: dict) -> str:
  for key, name in _QUANTITIES.items():
    if not np.isfinite(metrics[key]):
      return name
  return "a parameter" if metrics.get("params_finite", 1.0) != 1.0 else "a checked quantity"


class _MetricWindow:
  """The steps' metrics since the last log: kept on device until `read`, then per seed on the
  host; `last` holds each seed's means over its last logged window."""

  def __init__(self, run: _Run, last: Optional[list]):
    self._run = run
    self._pending: list = []  # device metrics of steps not read yet
    self._rows: list = []  # per step read: per seed a dict, or None for a skipped update
    self.last = last  # per seed, the last logged window's means (from results.json on resume)
    self.skipped = 0

  def add(self, device_metrics: dict) -> None:
    self._pending.append(device_metrics)

  def read(self, done: int) -> None:
    """Copies the pending steps' metrics to the host (steps ``done - len(pending) + 1 .. done``)
    and acts on a non-finite one by ``config.nan_policy``."""
    run, pending = self._run, jax.device_get(self._pending)
    self._pending = []
    for offset, metrics in enumerate(pending):
      step = done - len(pending) + 1 + offset
      per_seed = np.stack([np.atleast_1d(np.asarray(v, np.float64)) for v in metrics.values()],
                          axis=1)
      per_seed = [dict(zip(metrics, row)) for row in per_seed]
      bad = [i for i, m in enumerate(per_seed) if m["finite"] != 1.0]
      if bad:
        where = ((f"seed {run.seeds.values[bad[0]]}: " if run.seeds.stacked else "") +
                 _nonfinite_quantity(per_seed[bad[0]]))
        if run.config.nan_policy == "stop":
          kept = run.checkpointer.steps()
          raise NonFiniteError(
              f"Training stopped at step {step}: {where} became non-finite (NaN or inf). The "
              f"last good checkpoint ({'step ' + str(kept[-1]) if kept else 'none yet'}) is "
              "kept and nothing was written after it. Lower the learning rates, or set "
              "--config.nan_policy=skip_step to skip such updates.")
        self.skipped += 1
        run.log(f"WARNING: step {step}: {where} is non-finite; the update was skipped "
                f"({self.skipped} so far).")
      # A skipped (non-finite) update left its seed's state as it was and is not logged.
      self._rows.append([None if i in bad else {k: float(v) for k, v in m.items()}
                         for i, m in enumerate(per_seed)])

  def close(self) -> Optional[dict]:
    """Ends the window: `last` becomes each seed's means over it; returns their mean over seeds
    (None when no update of the window was applied)."""
    self.last = [_window_mean([row[i] for row in self._rows]) or
                 (self.last[i] if self.last else None) for i in range(len(self._run.seeds))]
    self._rows = []
    return self.mean() or None

  def mean(self) -> dict:
    """The mean over seeds of `last` (empty when nothing was logged)."""
    logged = [m for m in (self.last or []) if m]
    return {k: float(np.mean([m[k] for m in logged])) for k in logged[0]} if logged else {}


def _window_mean(window: list) -> Optional[dict]:
  """Means of the logged metrics over a window, skipping updates that were not applied."""
  window = [m for m in window if m is not None]
  if not window:
    return None
  return {k: float(np.mean([m[k] for m in window])) for k in window[0]}


# ----------------------------------------------------------------------------------------------
# Outputs: logs, sample grids, evaluations.


class _Outputs:
  """Everything the loop writes besides checkpoints: scalars, sample grids, evaluations."""

  def __init__(self, run: _Run, start: int, progress: bool):
    config, gan, seeds = run.config, run.gan, run.seeds
    self._run = run
    self.writer = writers.MetricWriter(run.workdir, enabled=run.is_main, purge_step=start + 1)
    self.bar = writers.Progress(config.num_steps, start, enabled=run.is_main and progress)
    self._dirs = [os.path.join(run.workdir, "samples", seeds.label(i)) for i in range(len(seeds))]
    if run.is_main:
      for folder in self._dirs:
        os.makedirs(folder, exist_ok=True)
    latents = [sampling.fixed_latents(s, config.num_samples, config.latent_dim,
                                      gan.latent_distribution, gan.num_classes) for s in seeds]
    z = seeds.stack([z for z, _ in latents])
    labels = seeds.stack([l for _, l in latents]) if gan.num_classes else None
    generate = lambda state, z, labels: step_lib.generate(gan, state, z, labels,
                                                          use_ema=config.ema_decay > 0)
    generate = jax.vmap(generate) if seeds.stacked else generate
    self._sample_fn = jax.jit(lambda state: generate(state, z, labels))
    spec = data.get(config.dataset)
    self._reference = spec.sample_reference(run.source) if spec.sample_reference else None
    self._evaluator = None
    if config.eval_every or config.final_eval:
      from gan import evaluation  # pylint: disable=g-import-not-at-top (feature networks)
      self._evaluator = evaluation.Evaluator(config, run.log)
    self._evaluated: dict[int, list] = {}  # the last evaluation, reused by the final one

  def log(self, done: int, window: _MetricWindow) -> None:
    mean = window.close()
    if mean:
      mean["steps_per_sec"] = self.bar.update(done, mean)
      if window.skipped:
        mean["skipped_steps"] = window.skipped
      self.writer.scalars(done, mean)

  def samples(self, step: int, state) -> None:
    run = self._run
    samples = checkpointing.host_array(self._sample_fn(state))
    for i, folder in enumerate(self._dirs):
      one = samples[i] if run.seeds.stacked else samples
      picture = (images.image_grid(one, min_cell=images.SAMPLE_CELL) if one.ndim == 4 else
                 images.scatter_plot(one, self._reference))
      if run.is_main:
        images.save_png(picture, os.path.join(folder, f"step_{step:06d}.png"))
        self.writer.image(step, "/".join(filter(None, ["samples", run.seeds.label(i)])),
                          picture)

  def evaluation(self, step: int, state) -> list[dict]:
    """Every seed's evaluation at ``step`` (logged to ``eval.jsonl`` and TensorBoard)."""
    if step in self._evaluated:
      return self._evaluated[step]
    run = self._run
    wall_seconds = time.time() - run.started  # the run's time to get here, not this evaluation's
    results = [self._evaluator(run.gan, one) for one in run.seeds.split(state)]
    if run.is_main:
      workdir_lib.append_eval(run.workdir, step, [r["model"] for r in results], wall_seconds)
    self.writer.scalars(step, {f"eval/{k}": float(np.mean([r["model"][k] for r in results]))
                               for k in results[0]["model"]})
    self._evaluated = {step: results}
    return results

  def progress(self) -> None:
    """``progress.png`` (the grids over training) and ``samples.png`` (the last), per seed."""
    if not self._run.is_main:
      return
    for i, folder in enumerate(self._dirs):
      paths = sorted(glob.glob(os.path.join(folder, "step_*.png")))
      if not paths:
        continue
      grids = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
      steps = [int(os.path.basename(p)[len("step_"):-len(".png")]) for p in paths]
      suffix = self._run.seeds.label(i, prefix="_seed")
      images.save_png(images.progress_image(grids, steps),
                      os.path.join(self._run.workdir, f"progress{suffix}.png"))
      images.save_png(grids[-1], os.path.join(self._run.workdir, f"samples{suffix}.png"))

  def close(self) -> None:
    self.writer.close()
