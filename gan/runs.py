"""A trained run, opened for a notebook, a script or a command: its config, models and state.

``run = gan.load_run("workdirs/dcgan_mnist"); x = run.sample(64)``. The run's files are read
through their owners: ``config.json`` by `gan.workdir` (upgraded to today's fields by
`gan.config.from_saved`), checkpoints by `gan.checkpointing`. Nothing here writes to the run:
a damaged newest checkpoint is reported and an older one read (training sets it aside when it
resumes), and a run that a trainer is writing is read at its newest complete checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Iterator, Optional

import jax
import ml_collections
import numpy as np

from gan import checkpointing
from gan import config as config_lib
from gan import sampling
from gan import step as step_lib
from gan import workdir as workdir_lib
from gan.errors import CheckpointError, ConfigError
from gan.seeds import Seeds


@dataclasses.dataclass(frozen=True)
class Run:
  """A trained run, restored: its saved config, the `GAN` it describes, and a checkpoint's state.

  Attributes:
    workdir: where the run lives.
    config: the config it was trained with (``<workdir>/config.json``).
    gan: the objective (models, optimizers, settings), built from ``config``.
    step: the restored checkpoint's step.
    state: the restored `gan.step.GANState` (one seed's).
  """
  workdir: str
  config: ml_collections.ConfigDict
  gan: step_lib.GAN
  step: int
  state: step_lib.GANState

  @property
  def uses_ema(self) -> bool:
    return self.gan.ema_decay > 0

  def sample(self, num: int, seed: int = 0, labels: Optional[Any] = None,
             use_ema: Optional[bool] = None, batch_size: int = 500) -> np.ndarray:
    """``num`` samples G(z) (float32, data in the model's range, [-1, 1] for images).

    Args:
      num: how many.
      seed: z (and, for a conditional run without ``labels``, the labels) are a pure function
        of it.
      labels: class labels for a conditional run: ``[num]`` ints, or one int for all.
      use_ema: sample from the EMA params; default: when the run keeps an EMA.
      batch_size: samples per jitted call.
    """
    use_ema = self.uses_ema if use_ema is None else use_ema
    return sampling.generate_samples(self.gan, self.state, num, seed, self.gan.num_classes,
                                     use_ema=use_ema, batch_size=batch_size, labels=labels)

  def sample_chunks(self, num: int, chunk_rows: int, seed: int = 0,
                    labels: Optional[Any] = None, use_ema: Optional[bool] = None,
                    batch_size: int = 500) -> Iterator[np.ndarray]:
    """The rows of `sample` (same arguments), ``chunk_rows`` at a time: for writing many
    samples in bounded memory."""
    use_ema = self.uses_ema if use_ema is None else use_ema
    return sampling.sample_chunks(self.gan, self.state, num, seed, self.gan.num_classes,
                                  use_ema=use_ema, batch_size=batch_size, labels=labels,
                                  chunk_rows=chunk_rows)


def no_checkpoint_yet(workdir: str, train_command: str) -> str:
  """What a reader says of a run without a checkpoint: being trained, or never trained."""
  trainer = workdir_lib.trainer_holding(workdir)
  if trainer:
    return (f"--workdir {workdir} has no checkpoint yet: a trainer (process {trainer}) is "
            "training it now and has not written its first one. Read it again after its first "
            "checkpoint (config.checkpoint_every).")
  return f"--workdir {workdir} has no checkpoint yet; train first ({train_command})."


def restore_run(workdir: str, config: ml_collections.ConfigDict, step: Optional[int] = None,
                log: Callable[[str], None] = print):
  """``(gan, step, state)`` of a run: checkpoint ``step``, or the newest good one if None. The
  state of a run of several seeds carries a leading seed axis (`gan.seeds.Seeds.split`).

  Raises:
    CheckpointError: no checkpoint yet, ``step`` has none, or none is usable.
  """
  gan = config_lib.build_gan(config)
  like = Seeds.of(config).like(step_lib.create_state(gan, jax.random.key(config.seed)))
  checkpointer = checkpointing.Checkpointer(os.path.join(workdir, "checkpoints"), log=log,
                                            read_only=True)
  try:
    if step is None:
      step, state = checkpointer.restore_latest_good(like)
      if step is None:
        raise CheckpointError(no_checkpoint_yet(workdir, "python -m experiments.train"))
    else:
      available = checkpointer.steps()
      if step not in available:
        raise CheckpointError(
            f"--step {step} has no checkpoint in {workdir}; available steps: "
            f"{', '.join(map(str, available)) or 'none'}.")
      state = checkpointer.restore(step, like)
  finally:
    checkpointer.close()
  return gan, int(step), state


def load_run(workdir: str, step: Optional[int] = None, seed_index: int = 0,
             log: Callable[[str], None] = lambda message: None) -> Run:
  """Opens a trained run: its config, models and checkpoint ``step`` (newest good if None).

  A run of several seeds trained together (``num_seeds > 1``) holds one state per seed;
  ``seed_index`` picks one (seed ``config.seed + seed_index``).

  Raises:
    ConfigError: ``workdir`` holds no training run, or no such seed.
    CheckpointError: no checkpoint yet, ``step`` has none, or none is usable.
  """
  config = config_lib.load_saved(workdir)
  seeds = Seeds.of(config)
  if not 0 <= seed_index < len(seeds):
    raise ConfigError(f"seed_index={seed_index}: {workdir} trained {len(seeds)} seed(s); pick "
                      f"an index in [0, {len(seeds)}).")
  gan, step, state = restore_run(workdir, config, step, log)
  return Run(workdir=workdir, config=config, gan=gan, step=step,
             state=seeds.index(state, seed_index))
