"""Tests for gan/parallel.py: pmap and sharded jit give the one-device state, on 8 CPU devices."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan import config as config_lib
from gan import models
from gan import parallel
from gan import step as step_lib
from test_step import (VARIANTS, assert_trees_close, make_config, max_abs_difference, mlp_batch,
                       mlp_config)

NUM_DEVICES = 8
GLOBAL_BATCH = 16
NUM_STEPS = 5


def one_device_run(**overrides):
  """Five dcgan28 steps (dropout on, BatchNorm in G) on one device: the reference.

  The optimizer is SGD with momentum at a large learning rate. With Adam, the first update of each
  parameter is lr * sign(g): parameters whose gradient is zero in exact arithmetic (a bias that
  feeds BatchNorm) move by +-lr according to the sign of float32 rounding noise, which differs with
  the summation order of any data-parallel reduction. That compares noise, not the step.
  """
  assert jax.device_count() == NUM_DEVICES, "conftest.py should give 8 CPU devices"
  config = make_config(ema_decay=0.9, optimizer="sgd", g_learning_rate=0.02,
                       d_learning_rate=0.02, **overrides)
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(0))
  batches = [{"image": jax.random.uniform(jax.random.key(10 + i), (GLOBAL_BATCH, 28, 28, 1),
                                          minval=-1, maxval=1)} for i in range(NUM_STEPS)]
  rng = jax.random.key(7)
  step = step_lib.jit_train_step(gan, config_lib.resolve_schedule(config), donate=False)
  single = state
  for batch in batches:
    single, _ = step(single, batch, rng)
  # The schedule the data-parallel forms get: whole batches in D, XLA's default kernels.
  schedule = config_lib.resolve_schedule(config, num_devices=NUM_DEVICES)
  assert schedule == step_lib.Schedule()
  return gan, schedule, state, batches, rng, single


@pytest.fixture(scope="module")
def setup():
  # XLA's default kernels throughout, as jax.pmap (which takes no compiler options) uses. With
  # XLA's own convolution kernels (the dcgan default on CPU) the one-device batch of 16 and the
  # per-device batches of 2 round differently, and five steps at this learning rate carry that
  # past 1e-5 in one element of 6272 (a LeakyReLU kink flips): kernels, not parallelism.
  return one_device_run(xla_cpu_options="")


@pytest.mark.slow
def test_pmap_matches_one_device(setup):
  gan, schedule, state, batches, rng, single = setup
  step = parallel.pmap_train_step(gan, donate=False, schedule=schedule)
  replicated = parallel.replicate_for_pmap(state, NUM_DEVICES)
  for batch in batches:
    replicated, metrics = step(replicated, parallel.split_for_pmap(batch, NUM_DEVICES), rng)
  # Every device holds the same state, and it is the one-device state (BatchNorm stats included).
  for leaf in jax.tree.leaves(replicated):
    np.testing.assert_array_equal(np.asarray(leaf)[0], np.asarray(leaf)[-1])
  assert_trees_close(parallel.unreplicate(replicated), single, atol=1e-5)
  assert jax.tree.leaves(single.g_batch_stats)  # dcgan28 has BatchNorm statistics to compare
  # Far more than the tolerance moved, so a step that did nothing would not pass.
  assert max_abs_difference(single.g_batch_stats, state.g_batch_stats) > 1e-3
  assert max_abs_difference(single.d_params, state.d_params) > 1e-3


def test_sharded_jit_matches_one_device(setup):
  gan, schedule, state, batches, rng, single = setup
  mesh = parallel.data_mesh()
  step = parallel.sharded_train_step(gan, mesh, schedule, donate=False)
  sharded = parallel.replicate(state, mesh)
  for batch in batches:
    sharded, _ = step(sharded, parallel.global_batch(batch, mesh), rng)
  assert_trees_close(sharded, single, atol=1e-5)


@pytest.mark.slow
def test_batch_statistic_loss_is_taken_over_the_global_batch():
  # A relativistic loss compares each logit with the mean over the *global* batch: under pmap the
  # loss takes it through axis_name, on a mesh XLA does. The MLP "everything" config (dropout,
  # labels, two critic steps, R1 and GP), 8 examples per critic step, one per device.
  config = mlp_config(loss="relativistic_average", **VARIANTS["everything"])
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(0))
  batch = mlp_batch(config, batch_size=8)
  rng = jax.random.key(2)
  single, _ = step_lib.train_step(gan, state, batch, rng)
  assert max_abs_difference(single.g_params, state.g_params) > 1e-3
  mapped, _ = parallel.pmap_train_step(gan, donate=False)(
      parallel.replicate_for_pmap(state, NUM_DEVICES), parallel.split_for_pmap(batch, NUM_DEVICES),
      rng)
  assert_trees_close(parallel.unreplicate(mapped), single, atol=1e-6)
  mesh = parallel.data_mesh()
  sharded, _ = parallel.sharded_train_step(gan, mesh, donate=False)(
      parallel.replicate(state, mesh), parallel.global_batch(batch, mesh), rng)
  assert_trees_close(sharded, single, atol=1e-6)


def test_shards_draw_different_dropout_masks():
  per_device = 2

  def masks(step):
    keys = step_lib.example_keys(jax.random.key(0), step, per_device, axis_name="i")
    return models.example_dropout(jnp.ones((per_device, 14, 14, 64)), 0.3, keys, salt=0) > 0

  shards = np.asarray(jax.pmap(masks, axis_name="i")(jnp.zeros(NUM_DEVICES, jnp.int32)))
  flat = shards.reshape(NUM_DEVICES * per_device, -1)
  for i in range(len(flat)):
    for j in range(i + 1, len(flat)):
      assert not np.array_equal(flat[i], flat[j]), (i, j)
  # And they are the masks one device draws for the same global examples.
  keys = step_lib.example_keys(jax.random.key(0), jnp.int32(0), NUM_DEVICES * per_device)
  single = models.example_dropout(jnp.ones((NUM_DEVICES * per_device, 14, 14, 64)), 0.3, keys, 0)
  np.testing.assert_array_equal(flat, np.asarray(single > 0).reshape(len(flat), -1))


def test_split_for_pmap_rejects_uneven_batch():
  with pytest.raises(ValueError, match="divisible by 8"):
    parallel.split_for_pmap({"image": np.zeros((12, 2))}, NUM_DEVICES)
