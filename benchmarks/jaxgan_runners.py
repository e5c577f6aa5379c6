"""Benchmark runners for jaxgan's own train step: per dispatch, scanned over steps, vmapped over seeds.

Each runner is built from a batch size and a plain config dict (picklable, so a worker process can
receive it), owns its `GANState` and a fixed random real batch already on the device, and its
``step()`` returns only when the new state is ready (``jax.block_until_ready``).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import ml_collections

from gan import train


def make_config(config: dict) -> ml_collections.ConfigDict:
  """A `ConfigDict` from a plain dict (tuples kept as tuples)."""
  return ml_collections.ConfigDict(dict(config))


def _fake_data(key, shape):
  return jax.random.uniform(key, shape, jnp.float32, -1.0, 1.0)


class JaxganStep:
  """``jit_train_step(gan)``: one iteration per dispatch, the state donated.

  Args:
    batch_size: examples per D update.
    config: the model/loss/optimizer config as a dict (see `gan.train.build_gan`).
  """
  work = 1

  def __init__(self, batch_size: int, config: dict):
    self.gan = train.build_gan(make_config(config))
    self.state = train.create_state(self.gan, jax.random.key(0))
    self.batch = {"image": _fake_data(jax.random.key(1), (batch_size,) + self.gan.data_shape)}
    self.rng = jax.random.key(0)
    self.train_step = train.jit_train_step(self.gan)

  def step(self):
    self.state, _ = self.train_step(self.state, self.batch, self.rng)
    jax.block_until_ready(self.state)


def scan_train_steps(gan: train.GAN, state: train.GANState, images: jax.Array, rng: jax.Array):
  """``images.shape[0]`` iterations of `train.train_step` in one `jax.lax.scan`.

  Args:
    gan: the static half of the GAN.
    state: the starting state.
    images: ``[steps, batch, *data_shape]``, one real batch per iteration.
    rng: the run's base key (each iteration folds its step number in).

  Returns:
    ``(final_state, metrics)`` with every metric stacked over the iterations.
  """
  def body(carry, batch_images):
    return train.train_step(gan, carry, {"image": batch_images}, rng)

  return jax.lax.scan(body, state, images)


class JaxganScan:
  """``steps_per_call`` iterations fused into one dispatch with `scan_train_steps`.

  Each iteration gets its own slice of a ``[steps_per_call, batch, ...]`` real array.
  """

  def __init__(self, batch_size: int, config: dict, steps_per_call: int = 100):
    self.work = steps_per_call
    self.gan = train.build_gan(make_config(config))
    self.state = train.create_state(self.gan, jax.random.key(0))
    self.images = _fake_data(jax.random.key(1),
                             (steps_per_call, batch_size) + self.gan.data_shape)
    self.rng = jax.random.key(0)
    self.run = jax.jit(functools.partial(scan_train_steps, self.gan), donate_argnums=(0,),
                       compiler_options=train.compiler_options(self.gan))

  def step(self):
    self.state, _ = self.run(self.state, self.images, self.rng)
    jax.block_until_ready(self.state)


class JaxganVmap:
  """``seeds`` independent GANs trained at once: `train.train_step` vmapped over a stacked state.

  Every seed has its own initial parameters, real batch and base key. With ``steps_per_call > 1``
  each dispatch also scans over that many iterations. ``work`` counts seed-iterations.
  """

  def __init__(self, batch_size: int, config: dict, seeds: int = 16, steps_per_call: int = 1):
    self.work = seeds * steps_per_call
    self.gan = train.build_gan(make_config(config))
    keys = jax.random.split(jax.random.key(0), seeds)
    self.state = jax.vmap(functools.partial(train.create_state, self.gan))(keys)
    self.rngs = jax.random.split(jax.random.key(1), seeds)
    if steps_per_call == 1:  # a plain step, no loop around it
      shape = (seeds, batch_size) + self.gan.data_shape
      run_one = lambda state, images, rng: train.train_step(self.gan, state, {"image": images}, rng)
    else:
      shape = (seeds, steps_per_call, batch_size) + self.gan.data_shape
      run_one = functools.partial(scan_train_steps, self.gan)
    self.images = _fake_data(jax.random.key(2), shape)
    self.run = jax.jit(jax.vmap(run_one), donate_argnums=(0,),
                       compiler_options=train.compiler_options(self.gan))

  def step(self):
    self.state, _ = self.run(self.state, self.images, self.rngs)
    jax.block_until_ready(self.state)
