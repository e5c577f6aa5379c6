"""jaxgan: a JAX/Flax functional research codebase for GANs.

The main names, for scripts and notebooks::

  import jax, gan
  config = ...                                  # an ml_collections config (experiments/configs)
  g = gan.build_gan(config)                     # the objective: models, optimizers, loss
  state = gan.create_state(g, jax.random.key(0))
  step = gan.jit_train_step(g, gan.resolve_schedule(config))
  run = gan.load_run("workdirs/dcgan_mnist")    # a trained run: config, models, newest state
  images = run.sample(64)

Modules: `gan.data` (datasets), `gan.models` (model families), `gan.losses` (named losses),
`gan.step` (the pure step), `gan.parallel` (pmap / sharded jit), `gan.config` (resolution and
validation), `gan.loop` (the training loop), `gan.runs` (a trained run: `load_run`),
`gan.checkpointing` and `gan.workdir` (storage), `gan.errors` (the error types),
`gan.evaluation` / `gan.metrics` (evaluation), `gan.latent` (latent-space tools), `gan.studies`
(the studies behind the README's figures).
"""

__version__ = "0.1.0"

from gan.runs import Run, load_run
from gan.config import build_gan, check_config, resolve_schedule
from gan.errors import ConfigError
from gan.data import make_source
from gan.loop import train_and_evaluate
from gan.step import (GAN, GANState, Schedule, create_state, d_step, g_step, generate,
                      jit_train_step, train_step)

__all__ = ["GAN", "GANState", "Schedule", "Run", "ConfigError", "build_gan", "check_config",
           "resolve_schedule", "create_state", "d_step", "g_step", "generate", "jit_train_step",
           "train_step", "train_and_evaluate", "load_run", "make_source"]
