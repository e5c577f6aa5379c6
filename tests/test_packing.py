"""Tests for PacGAN packing in gan/step.py (``GAN.pack``): against references written from the
documentation, with D applied to hand-concatenated inputs and `jax.grad` outside the step.

Packing, as documented in `gan.step`: each D update's N samples become N / m packed inputs,
packed input i = samples i m .. i m + m - 1 concatenated along the last axis; z is drawn per
sample, D's dropout masks and the GP mixing weight per packed input from the key of its first
sample; a G with BatchNorm is normalised per pack slot (rows j, j + m, ...).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan import config as config_lib
from gan import losses
from gan import models
from gan import parallel
from gan import step as step_lib
from test_step import (SALT_DROPOUT_FAKE, SALT_DROPOUT_REAL, SALT_LATENT, SALT_MIX,
                       SALTS_PER_CRITIC_STEP, assert_trees_close, jitted_step, key_of, keys_of,
                       make_config, max_abs_difference, mlp_batch, mlp_config,
                       reference_dcgan28_discriminator)


def hand_pack(x, m):
  """Packed input i = concatenate(x[i m], ..., x[i m + m - 1]) on the last axis, one by one."""
  return jnp.stack([jnp.concatenate([x[i * m + j] for j in range(m)], axis=-1)
                    for i in range(x.shape[0] // m)])


def first_sample_keys(rng, step, num_samples, m, salt, sample=0):
  """The documented key of each packed input: its first sample's (sample i m); ``sample=s``
  takes sample i m + s's instead (to show that the choice is pinned)."""
  return jnp.stack([key_of(rng, step, i * m + sample, salt) for i in range(num_samples // m)])


# ----------------------------------------------------------------------------------------------
# pack_samples and the shapes.


def test_pack_samples_concatenates_consecutive_samples_on_the_last_axis():
  flat = np.arange(6 * 2, dtype=np.float32).reshape(6, 2)
  np.testing.assert_array_equal(step_lib.pack_samples(flat, 2),
                                [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]])
  np.testing.assert_array_equal(step_lib.pack_samples(flat, 3), hand_pack(flat, 3))
  images = jax.random.normal(jax.random.key(0), (6, 4, 5, 3))
  packed = step_lib.pack_samples(images, 3)
  assert packed.shape == (2, 4, 5, 9)
  np.testing.assert_array_equal(packed, hand_pack(images, 3))
  np.testing.assert_array_equal(packed[1, :, :, 3:6], images[4])  # channels [j C, (j + 1) C)
  assert step_lib.pack_samples(images, 1) is images
  with pytest.raises(ValueError, match="6 samples cannot be packed 4 at a time"):
    step_lib.pack_samples(images, 4)
  assert step_lib.packed_shape((2,), 3) == (6,)
  assert step_lib.packed_shape((28, 28, 1), 2) == (28, 28, 2)


def test_d_is_initialised_on_the_packed_shape_and_g_is_not():
  for pack in (1, 3):
    gan = config_lib.build_gan(mlp_config(pack=pack))
    state = step_lib.create_state(gan, jax.random.key(0))
    assert state.d_params["hidden_0"]["kernel"].shape == (2 * pack, 8)
    assert state.g_params["out"]["kernel"].shape == (8, 2)


def test_gan_refuses_bad_packing():
  gan = config_lib.build_gan(mlp_config())
  for bad in (0, 1.0, True):
    with pytest.raises(ValueError, match="must be a positive integer"):
      step_lib.GAN(**{**gan.__dict__, "pack": bad})
  with pytest.raises(ValueError, match="needs an unconditional GAN"):
    config_lib.build_gan(mlp_config(pack=2, num_classes=3))


# ----------------------------------------------------------------------------------------------
# One SGD step against the reference: D on hand-concatenated inputs, jax.grad outside the step.


def reference_packed_step(config, gan, state, batch, rng, m, key_sample=0):
  """One iteration of `train_step` with packing m, for SGD and an unconditional MLP GAN.

  D's dropout keys and GP mixing weights come from sample ``i m + key_sample`` of packed input i
  (0 is the documented choice)."""
  kind, n_critic = config.loss, config.n_critic
  step = int(state.step)
  images = batch["image"]
  num_samples = images.shape[0] // n_critic
  sgd = lambda params, grads, lr: jax.tree.map(lambda p, g: p - lr * g, params, grads)
  generator = lambda params, z: gan.generator.apply({"params": params}, z, train=True)
  discriminator = lambda params, x, keys: gan.discriminator.apply(
      {"params": params}, x, train=True, dropout_keys=keys)

  def input_gradients(params, x, keys):
    one = lambda xi, key: jax.grad(lambda v: discriminator(params, v[None], key[None])[0])(xi)
    return jax.vmap(one)(x, keys)

  d_params, g_params = state.d_params, state.g_params
  metrics = {}
  for j in range(n_critic):
    base = j * SALTS_PER_CRITIC_STEP
    z = jnp.stack([jax.random.normal(k, (config.latent_dim,))
                   for k in keys_of(rng, step, num_samples, base + SALT_LATENT)])
    real = hand_pack(images[j::n_critic], m)
    fake = hand_pack(generator(g_params, z), m)
    real_keys = first_sample_keys(rng, step, num_samples, m, base + SALT_DROPOUT_REAL,
                                  key_sample)
    fake_keys = first_sample_keys(rng, step, num_samples, m, base + SALT_DROPOUT_FAKE,
                                  key_sample)
    alpha = jnp.stack([jax.random.uniform(k) for k in first_sample_keys(
        rng, step, num_samples, m, base + SALT_MIX, key_sample)])

    def d_loss(params):
      real_logits = discriminator(params, real, real_keys)
      fake_logits = discriminator(params, fake, fake_keys)
      assert real_logits.shape == (num_samples // m,)
      loss = losses.discriminator_loss(real_logits, fake_logits, kind)
      parts = dict(d_loss=loss, d_real=jnp.mean(jax.nn.sigmoid(real_logits)),
                   d_fake=jnp.mean(jax.nn.sigmoid(fake_logits)))
      if config.get("r1_gamma", 0.0):
        parts["r1"] = jnp.mean(jnp.sum(input_gradients(params, real, real_keys) ** 2, axis=-1))
        loss = loss + config.r1_gamma / 2 * parts["r1"]
      if config.get("gp_weight", 0.0):
        mixes = alpha[:, None] * real + (1 - alpha[:, None]) * fake
        grads = input_gradients(params, mixes, real_keys)
        parts["gp"] = jnp.mean((jnp.sqrt(jnp.sum(grads ** 2, axis=-1)) - 1.0) ** 2)
        loss = loss + config.gp_weight * parts["gp"]
      return loss, parts

    grads, metrics = jax.grad(d_loss, has_aux=True)(d_params)
    d_params = sgd(d_params, grads, config.d_learning_rate)

  base = n_critic * SALTS_PER_CRITIC_STEP
  real_logits = None
  if losses.get(kind).generator_uses_real:
    real_logits = discriminator(d_params, real, first_sample_keys(
        rng, step, num_samples, m, base + SALT_DROPOUT_REAL, key_sample))
  fake_keys = first_sample_keys(rng, step, num_samples, m, base + SALT_DROPOUT_FAKE, key_sample)

  def g_loss(params):
    logits = discriminator(d_params, hand_pack(generator(params, z), m), fake_keys)
    return losses.generator_loss(logits, kind, real_logits)

  metrics["g_loss"], grads = jax.value_and_grad(g_loss)(g_params)
  return d_params, sgd(g_params, grads, config.g_learning_rate), metrics


# Unconditional (packing refuses labels): dropout in D, two critic steps, both penalties.
EVERYTHING = dict(n_critic=2, r1_gamma=3.0, gp_weight=3.0, d_dropout=0.25)


def check_packed_step(config, m, schedule=step_lib.DEFAULT_SCHEDULE):
  gan = config_lib.build_gan(config)
  assert gan.pack == m
  state = step_lib.create_state(gan, jax.random.key(0)).replace(step=jnp.int32(5))
  batch, rng = mlp_batch(config, batch_size=12), jax.random.key(2)
  new_state, metrics = step_lib.train_step(gan, state, batch, rng, schedule=schedule)
  d_params, g_params, expected = reference_packed_step(config, gan, state, batch, rng, m)
  assert max_abs_difference(d_params, state.d_params) > 1e-3
  assert max_abs_difference(g_params, state.g_params) > 1e-3
  assert_trees_close(new_state.d_params, d_params, rtol=1e-6, atol=1e-7)
  assert_trees_close(new_state.g_params, g_params, rtol=1e-6, atol=1e-7)
  for name, value in expected.items():
    np.testing.assert_allclose(metrics[name], value, rtol=1e-5, atol=1e-7, err_msg=name)
  return gan, state, batch, rng, new_state


@pytest.mark.slow
@pytest.mark.parametrize("m", [2, 3])
@pytest.mark.parametrize("kind", ["non_saturating", "relativistic_average"])
def test_packed_sgd_step_moves_params_by_minus_lr_times_the_reference_gradients(kind, m):
  check_packed_step(mlp_config(loss=kind, pack=m, **EVERYTHING), m)


@pytest.mark.slow
def test_packed_step_under_every_schedule():
  config = mlp_config(pack=2, **EVERYTHING)
  for schedule in (step_lib.Schedule(share_generator_forward=False),
                   step_lib.Schedule(concat_real_fake=True, d_chunk_size=2)):
    check_packed_step(config, 2, schedule)


@pytest.mark.slow  # the eager step and two eager references, with per-example input gradients
def test_packing_draws_d_keys_from_each_packed_inputs_first_sample():
  # The same step with the D-side keys of the *second* sample of each packed input gives other
  # params: the reference's key choice is what the test pins (dropout and GP both bite).
  config = mlp_config(pack=2, **EVERYTHING)
  gan, state, batch, rng, new_state = check_packed_step(config, 2)
  d_params, _, _ = reference_packed_step(config, gan, state, batch, rng, 2, key_sample=1)
  assert max_abs_difference(d_params, new_state.d_params) > 1e-4


def test_pack_one_is_the_unpacked_step():
  without = config_lib.build_gan(mlp_config(**EVERYTHING))
  with_one = config_lib.build_gan(mlp_config(pack=1, **EVERYTHING))
  assert without.pack == with_one.pack == 1
  state = step_lib.create_state(without, jax.random.key(0))
  batch = mlp_batch(mlp_config(**EVERYTHING))
  a, metrics_a = step_lib.train_step(without, state, batch, jax.random.key(2))
  b, metrics_b = step_lib.train_step(with_one, state, batch, jax.random.key(2))
  assert_trees_close(a, b, atol=0)
  for name in metrics_a:
    np.testing.assert_array_equal(metrics_a[name], metrics_b[name])


@pytest.mark.slow
def test_packed_step_on_eight_devices_is_the_one_device_step():
  # 16 samples, 2 per device: each device packs its own pair; keys are global, so the masks and
  # mixing weights are those of one device.
  config = mlp_config(pack=2, optimizer="sgd", **EVERYTHING)
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(0))
  batch = mlp_batch(config, batch_size=16)
  single, _ = step_lib.train_step(gan, state, batch, jax.random.key(3))
  step = parallel.pmap_train_step(gan, donate=False)
  # Row b * n_critic + j of the global batch is sample b of D update j: split contiguously.
  replicated, _ = step(parallel.replicate_for_pmap(state, 8), parallel.split_for_pmap(batch, 8),
                       jax.random.key(3))
  assert_trees_close(parallel.unreplicate(replicated).d_params, single.d_params, atol=1e-6)
  assert_trees_close(parallel.unreplicate(replicated).g_params, single.g_params, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# The conv D packs on the channel axis; a BatchNorm G is normalised per pack slot.


def test_conv_discriminator_judges_channel_stacked_samples():
  config = make_config(optimizer="sgd", xla_cpu_options="", pack=2)
  gan, step = jitted_step(config)
  state = step_lib.create_state(gan, jax.random.key(0)).replace(step=jnp.int32(3))
  assert state.d_params["conv_0"]["kernel"].shape == (5, 5, 2, 64)
  real = jax.random.uniform(jax.random.key(1), (8, 28, 28, 1), minval=-1, maxval=1)
  rng = jax.random.key(5)
  _, metrics = step(state, {"image": real}, rng)
  keys = first_sample_keys(rng, 3, 8, 2, SALT_DROPOUT_REAL)
  logits, _ = reference_dcgan28_discriminator(state.d_params, hand_pack(real, 2), keys, 0.3)
  assert logits.shape == (4,)
  np.testing.assert_allclose(metrics["d_real"], np.mean(jax.nn.sigmoid(logits)), rtol=1e-6)


@pytest.mark.slow
def test_batchnorm_generator_is_normalised_per_pack_slot():
  m, latent = 2, 3
  generator = models.PacGANGenerator((2,), hidden=(8, 8))
  discriminator = models.PacGANDiscriminator(units=4, num_pieces=2, num_layers=1)
  sgd = step_lib.make_optimizer("sgd", 0.1, 0.0)
  gan = step_lib.GAN(generator, discriminator, sgd, sgd, (2,), latent_dim=latent, pack=m)
  state = step_lib.create_state(gan, jax.random.key(0))
  state = state.replace(g_batch_stats=jax.tree.map(lambda x: x + 0.5, state.g_batch_stats))
  batch = {"image": jax.random.normal(jax.random.key(1), (12, 2))}
  rng = jax.random.key(2)
  new_state, metrics = step_lib.train_step(gan, state, batch, rng)

  z = jnp.stack([jax.random.normal(k, (latent,)) for k in keys_of(rng, 0, 12, SALT_LATENT)])
  variables = {"params": state.g_params, "batch_stats": state.g_batch_stats}
  run = lambda z: generator.apply(variables, z, train=True, mutable=["batch_stats"])
  (fake_0, stats_0), (fake_1, stats_1) = run(z[0::2]), run(z[1::2])
  fake = jnp.stack([fake_0, fake_1], axis=1).reshape(12, 2)  # slot j holds rows j, j + 2, ...
  d = lambda x: discriminator.apply({"params": state.d_params}, x, train=True)
  np.testing.assert_allclose(metrics["d_fake"], jnp.mean(jax.nn.sigmoid(d(hand_pack(fake, m)))),
                             rtol=1e-6)
  expected_stats = jax.tree.map(lambda a, b: (a + b) / 2, stats_0["batch_stats"],
                                stats_1["batch_stats"])
  assert_trees_close(new_state.g_batch_stats, expected_stats, rtol=1e-6, atol=1e-7)
  # Normalising all 12 samples at once is another function: the check bites.
  whole, _ = run(z)
  assert float(jnp.max(jnp.abs(whole - fake))) > 1e-3
