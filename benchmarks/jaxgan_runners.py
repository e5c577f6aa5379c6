"""Benchmark runners for jaxgan's own train step: per dispatch, scanned over steps, vmapped over seeds.

Each runner is built from a batch size and a plain config dict (picklable, so a worker process can
receive it), owns its `GANState` and a fixed random real batch already on the device, and its
``step()`` returns only when the new state is ready (``jax.block_until_ready``). The config says
both what is computed (`gan.config.build_gan`) and how the step is laid out on this machine
(`gan.config.resolve_schedule`: ``share_generator_forward``, ``concat_real_fake``,
``d_chunk_size``, ``xla_cpu_options``), so a benchmark row that flips a speed setting is a config
override.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections

from gan import config as config_lib
from gan import models
from gan import step as step_lib


def make_config(config: dict) -> ml_collections.ConfigDict:
  """A `ConfigDict` from a plain dict (tuples kept as tuples). The model family's settings may
  be named flat (``d_dropout=0.0``), as a config saved before ``model_args`` names them
  (`gan.config.upgrade_saved`); the others are the family's defaults."""
  config = config_lib.upgrade_saved(config)
  config.setdefault("model_args", models.default_args(config["model"]))
  return ml_collections.ConfigDict(config)


def build(config: dict) -> tuple[step_lib.GAN, step_lib.Schedule]:
  """The objective and, for the default backend, the schedule that ``config`` describes."""
  config = make_config(config)
  return config_lib.build_gan(config), config_lib.resolve_schedule(config)


def _fake_data(key, shape):
  return jax.random.uniform(key, shape, jnp.float32, -1.0, 1.0)


class JaxganStep:
  """``jit_train_step(gan, schedule)``: one iteration per dispatch, the state donated.

  Args:
    batch_size: examples per D update.
    config: the model/loss/optimizer config as a dict, with any schedule fields (see `build`).
  """
  work = 1

  def __init__(self, batch_size: int, config: dict):
    self.gan, self.schedule = build(config)
    self.state = step_lib.create_state(self.gan, jax.random.key(0))
    self.batch = {"image": _fake_data(jax.random.key(1), (batch_size,) + self.gan.data_shape)}
    self.rng = jax.random.key(0)
    self.train_step = step_lib.jit_train_step(self.gan, self.schedule)

  def step(self):
    self.state, _ = self.train_step(self.state, self.batch, self.rng)
    jax.block_until_ready(self.state)


def scan_train_steps(gan: step_lib.GAN, state: step_lib.GANState, images: jax.Array,
                     rng: jax.Array, schedule: step_lib.Schedule = step_lib.DEFAULT_SCHEDULE):
  """``images.shape[0]`` iterations of `gan.step.train_step` in one `jax.lax.scan`.

  Args:
    gan: the objective.
    state: the starting state.
    images: ``[steps, batch, *data_shape]``, one real batch per iteration.
    rng: the run's base key (each iteration folds its step number in).
    schedule: how each iteration is laid out (`gan.step.Schedule`).

  Returns:
    ``(final_state, metrics)`` with every metric stacked over the iterations.
  """
  def body(carry, batch_images):
    return step_lib.train_step(gan, carry, {"image": batch_images}, rng, schedule=schedule)

  return jax.lax.scan(body, state, images)


class JaxganScan:
  """``steps_per_call`` iterations fused into one dispatch with `scan_train_steps`.

  Each iteration gets its own slice of a ``[steps_per_call, batch, ...]`` real array.
  """

  def __init__(self, batch_size: int, config: dict, steps_per_call: int = 100):
    self.work = steps_per_call
    self.gan, self.schedule = build(config)
    self.state = step_lib.create_state(self.gan, jax.random.key(0))
    self.images = _fake_data(jax.random.key(1),
                             (steps_per_call, batch_size) + self.gan.data_shape)
    self.rng = jax.random.key(0)
    self.run = jax.jit(functools.partial(scan_train_steps, self.gan, schedule=self.schedule),
                       donate_argnums=(0,), compiler_options=self.schedule.compiler_options())

  def step(self):
    self.state, _ = self.run(self.state, self.images, self.rng)
    jax.block_until_ready(self.state)


class JaxganVmap:
  """``seeds`` independent GANs trained at once: `gan.step.train_step` vmapped over a stacked state.

  Every seed has its own initial parameters, real batch and base key. With ``steps_per_call > 1``
  each dispatch also scans over that many iterations. ``work`` counts seed-iterations.
  """

  def __init__(self, batch_size: int, config: dict, seeds: int = 16, steps_per_call: int = 1):
    self.work = seeds * steps_per_call
    self.gan, self.schedule = build(config)
    keys = jax.random.split(jax.random.key(0), seeds)
    self.state = jax.vmap(functools.partial(step_lib.create_state, self.gan))(keys)
    self.rngs = jax.random.split(jax.random.key(1), seeds)
    if steps_per_call == 1:  # a plain step, no loop around it
      shape = (seeds, batch_size) + self.gan.data_shape
      run_one = lambda state, images, rng: step_lib.train_step(
          self.gan, state, {"image": images}, rng, schedule=self.schedule)
    else:
      shape = (seeds, steps_per_call, batch_size) + self.gan.data_shape
      run_one = functools.partial(scan_train_steps, self.gan, schedule=self.schedule)
    self.images = _fake_data(jax.random.key(2), shape)
    self.run = jax.jit(jax.vmap(run_one), donate_argnums=(0,),
                       compiler_options=self.schedule.compiler_options())

  def step(self):
    self.state, _ = self.run(self.state, self.images, self.rngs)
    jax.block_until_ready(self.state)
