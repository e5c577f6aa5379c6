"""Tests for gan/augment.py (DiffAugment) and its use in the step."""

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import common
from gan import augment
from gan import config as config_lib
from gan import step as step_lib


def images(batch=4, size=16, channels=1, seed=0):
  return jax.random.uniform(jax.random.key(seed), (batch, size, size, channels), minval=-1.0,
                            maxval=1.0)


def keys(batch=4, seed=1):
  return jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(jnp.arange(batch))


@pytest.mark.parametrize("policy", [("translation",), ("cutout",), ("translation", "cutout")])
def test_strength_zero_is_the_identity(policy):
  x = images()
  np.testing.assert_array_equal(augment.diff_augment(x, keys(), policy, strength=0.0), x)


def test_translation_is_a_zero_filled_shift_by_the_drawn_offsets():
  x = images(batch=1, size=16)
  key = keys(batch=1)[0]
  out = np.asarray(augment.translate(x[0], key))
  # The offsets drawn as the function draws them: up to round(16 / 8) = 2 pixels each way.
  key_y, key_x = jax.random.split(key)
  dy, dx = int(jax.random.randint(key_y, (), -2, 3)), int(jax.random.randint(key_x, (), -2, 3))
  expected = np.zeros_like(out)
  src = np.asarray(x[0])
  for i in range(16):
    for j in range(16):
      if 0 <= i - dy < 16 and 0 <= j - dx < 16:
        expected[i, j] = src[i - dy, j - dx]
  np.testing.assert_array_equal(out, expected)
  # Over many keys every column offset in [-2, 2] turns up, and nothing else: with pixel value
  # column + 1, the centre pixel reads src[8 - dy, 8 - dx] = 9 - dx.
  ramp = jnp.broadcast_to(jnp.arange(1.0, 17.0)[None, :, None], (16, 16, 1))
  offsets = {9 - int(augment.translate(ramp, k)[8, 8, 0]) for k in keys(batch=200, seed=3)}
  assert offsets == {-2, -1, 0, 1, 2}


def test_cutout_zeroes_one_square_of_half_the_side_and_nothing_else():
  x = jnp.ones((16, 16, 3))
  sizes = []
  for k in keys(batch=50, seed=5):
    out = np.asarray(augment.cutout(x, k))
    zero = out[..., 0] == 0
    assert np.all(out[zero] == 0) and np.all(out[~zero] == 1)
    rows, cols = np.nonzero(zero)
    if rows.size:  # a rectangle (the square, clipped at the border)
      assert zero[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
      assert rows.max() - rows.min() + 1 <= 8 and cols.max() - cols.min() + 1 <= 8
      sizes.append(rows.size)
  assert max(sizes) == 64  # a whole 8 x 8 square when it lies inside


@pytest.mark.parametrize("policy", [("translation",), ("cutout",), ("translation", "cutout")])
def test_gradients_are_those_of_the_linear_map_it_is(policy):
  """For fixed keys the augmentation is a linear map A (a shift, a mask): the gradient of
  <A x, w> with respect to x is A^T w, so <A x, w> = <x, grad> for every x, and no gradient
  reaches a pixel the map dropped."""
  w = images(seed=7)
  aug = lambda x: augment.diff_augment(x, keys(), policy)
  grad = jax.grad(lambda x: jnp.sum(aug(x) * w))(images(seed=8))
  for seed in (9, 10):
    x = images(seed=seed)
    np.testing.assert_allclose(jnp.sum(aug(x) * w), jnp.sum(x * grad), rtol=1e-5)
  dropped = np.asarray(aug(jnp.ones_like(w)) == 0)  # cut out (or shifted in from the border)
  assert dropped.any() and not np.asarray(grad == 0).all()


def test_draws_are_per_example():
  x = images(batch=6)
  both = augment.diff_augment(x, keys(batch=6), ("translation", "cutout"))
  first = augment.diff_augment(x[:2], keys(batch=6)[:2], ("translation", "cutout"))
  np.testing.assert_array_equal(both[:2], first)


def test_unknown_names_and_non_images_are_refused():
  with pytest.raises(ValueError, match="Unknown augmentation 'flip'; registered: translation, "
                     "cutout"):
    augment.parse_policy("translation,flip")
  assert augment.parse_policy("") == ()
  with pytest.raises(ValueError, match=r"takes images \[B, H, W, C\]"):
    augment.diff_augment(jnp.zeros((4, 2)), keys(), ("translation",))


# ----------------------------------------------------------------------------------------------
# In the step.


def small_config(**overrides):
  c = common.base_config()
  common.update(c, model="dcgan28", batch_size=8, d_dropout=0.0)
  return common.update(c, **overrides)


def one_step(config, schedule=None):
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(0))
  real = images(batch=8, size=28, seed=11)
  schedule = schedule or step_lib.Schedule(share_generator_forward=True)
  return step_lib.train_step(gan, state, {"image": real}, jax.random.key(3), schedule=schedule)


@pytest.mark.slow  # three eager dcgan28 steps, each primitive compiled on first use
def test_the_step_at_strength_zero_is_the_step_without_augmentation():
  off, _ = one_step(small_config())
  zero, _ = one_step(small_config(diffaugment="translation,cutout", diffaugment_strength=0.0))
  on, _ = one_step(small_config(diffaugment="translation,cutout"))
  for a, b in zip(jax.tree.leaves(off), jax.tree.leaves(zero)):
    np.testing.assert_array_equal(a, b)
  assert any(not np.array_equal(a, b) for a, b in
             zip(jax.tree.leaves(off.d_params), jax.tree.leaves(on.d_params)))
  assert any(not np.array_equal(a, b) for a, b in
             zip(jax.tree.leaves(off.g_params), jax.tree.leaves(on.g_params)))


@pytest.mark.slow  # two eager dcgan28 steps, each primitive compiled on first use
def test_g_gradient_flows_through_the_augmentation_in_both_schedules():
  """G's update pulls its gradient back through DiffAugment, whether G's forward pass is shared
  with the last D update or run again: both compute the same numbers."""
  config = small_config(diffaugment="translation,cutout")
  shared, _ = one_step(config, step_lib.Schedule(share_generator_forward=True))
  again, _ = one_step(config, step_lib.Schedule(share_generator_forward=False))
  for a, b in zip(jax.tree.leaves(shared.g_params), jax.tree.leaves(again.g_params)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_a_config_asking_augmentation_of_points_is_refused():
  c = small_config(dataset="toy_ring", model="mlp", output="linear", latent_dim=2,
                   diffaugment="translation")
  with pytest.raises(config_lib.ConfigError, match=re.escape(
      "config.diffaugment='translation' transforms images [H, W, C], but the data holds points "
      "of shape (2,). Set diffaugment=''.")):
    config_lib.check_config(c)
  # One rule, one owner: the objective refuses it however it is built.
  with pytest.raises(config_lib.ConfigError, match="transforms images"):
    dataclasses.replace(config_lib.build_gan(common.update(c, diffaugment="")),
                        diffaugment=("translation",))
  gan = config_lib.build_gan(small_config())
  with pytest.raises(ValueError, match="Unknown augmentation"):
    dataclasses.replace(gan, diffaugment=("mixup",))
