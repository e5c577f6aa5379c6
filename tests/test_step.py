"""Tests for gan/step.py: one step against an independent reference, EMA, sampling, random keys,
the conv D with its dropout masks, weight clipping, schedules, non-finite handling, seeds.

The references here are written from the documented contract (the module docstring of
`gan.step`, `GAN`'s attributes, `train_step`'s batch layout), with `jax.grad` outside the step,
never with the step's private helpers.
"""

import dataclasses
import hashlib
import math
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from gan import augment
from gan import config as config_lib
from gan import losses
from gan import models
from gan import step as step_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The documented key contract of `gan.step`: example i of the iteration at `step` draws from
# fold_in(fold_in(fold_in(rng, step), i), salt); critic step j uses salts j * 8 + {0: z,
# 1: fake label, 2: D's dropout on real, 3: D's dropout on fake, 4: WGAN-GP mixing weight}, and
# the generator update draws its D dropout masks as critic step n_critic would.
SALTS_PER_CRITIC_STEP = 8
SALT_LATENT, SALT_LABEL, SALT_DROPOUT_REAL, SALT_DROPOUT_FAKE, SALT_MIX = range(5)
# DiffAugment: the reals of critic step j draw their transforms from salt j * 8 + 5, the fakes
# from j * 8 + 6; the generator update as critic step n_critic would.
SALT_AUGMENT_REAL, SALT_AUGMENT_FAKE = 5, 6


# ----------------------------------------------------------------------------------------------
# Helpers.


def _config(base: dict, args: dict, kw: dict) -> ml_collections.ConfigDict:
  """``base`` updated by ``kw``; the model family's settings (``args`` over its defaults, then
  those named in ``kw``) under ``model_args``."""
  base = dict(base)
  base.update({k: v for k, v in kw.items() if k not in models.default_args(base["model"])})
  args = dict(models.default_args(base["model"]), **args)
  args.update({k: v for k, v in kw.items() if k in args})
  return ml_collections.ConfigDict(dict(base, model_args=args))


def make_config(**kw):
  """A dcgan28 config (the seed's model)."""
  return _config(dict(model="dcgan28", data_shape=(28, 28, 1), loss="non_saturating",
                      optimizer="adam", g_learning_rate=2e-4, d_learning_rate=2e-4,
                      latent_dim=100, ema_decay=0.0), {}, kw)


def mlp_config(**kw):
  """A tiny MLP GAN trained by plain SGD (no momentum): small enough to re-derive by hand."""
  return _config(dict(model="mlp", data_shape=(2,), latent_dim=3, loss="non_saturating",
                      optimizer="sgd", adam_b1=0.0, g_learning_rate=0.1, d_learning_rate=0.05,
                      n_critic=1, num_classes=0), dict(hidden=(8,), output="linear", d_dropout=0.0),
                 kw)


_COMPILED_STEPS = {}


def jitted_step(config, schedule=None):
  """``(gan, jit_train_step(gan, schedule))``, one per config and schedule in this process (the
  dcgan28 step takes seconds to compile on a small CPU)."""
  schedule = config_lib.resolve_schedule(config) if schedule is None else schedule
  key = (config.to_json(), schedule)
  if key not in _COMPILED_STEPS:
    gan = config_lib.build_gan(config)
    _COMPILED_STEPS[key] = gan, step_lib.jit_train_step(gan, schedule, donate=False)
  return _COMPILED_STEPS[key]


def run_steps(config, num_steps, batch_size=8, seed=0, schedule=None):
  gan, step = jitted_step(config, schedule)
  state = step_lib.create_state(gan, jax.random.key(seed))
  metrics = None
  for i in range(num_steps):
    n = batch_size * gan.n_critic
    batch = {"image": jax.random.uniform(jax.random.key(100 + i), (n,) + tuple(config.data_shape),
                                         minval=-1, maxval=1)}
    if gan.num_classes:
      batch["label"] = jnp.arange(n) % gan.num_classes
    state, metrics = step(state, batch, jax.random.key(seed + 1))
  return state, metrics


def assert_trees_close(a, b, atol, rtol=0.0):
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  assert jax.tree.structure(a) == jax.tree.structure(b)
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol, rtol=rtol)


def max_abs_difference(a, b):
  return max(float(jnp.max(jnp.abs(x - y))) for x, y in zip(jax.tree.leaves(a),
                                                             jax.tree.leaves(b)))


def key_of(rng, step, example, salt):
  """The documented per-example key of one random draw."""
  return jax.random.fold_in(jax.random.fold_in(jax.random.fold_in(rng, step), example), salt)


def keys_of(rng, step, num_examples, salt):
  return jnp.stack([key_of(rng, step, i, salt) for i in range(num_examples)])


def mlp_batch(config, batch_size=8):
  n = batch_size * config.n_critic
  batch = {"image": 1.5 * jax.random.normal(jax.random.key(11), (n,) + tuple(config.data_shape))}
  if config.num_classes:
    batch["label"] = (jnp.arange(n) * 7) % config.num_classes
  return batch


# ----------------------------------------------------------------------------------------------
# The reference step: n_critic SGD updates of D, then one of G, from the documented losses.


def reference_step(config, gan, state, batch, rng):
  """One iteration of `train_step` for SGD without momentum, re-derived from its documentation.

  Returns ``(d_params, g_params, metrics)``; metrics as the step reports them.
  """
  kind, n_critic = config.loss, config.n_critic
  num_classes = config.num_classes
  step = int(state.step)
  images = batch["image"]
  num_examples = images.shape[0] // n_critic
  sgd = lambda params, grads, lr: jax.tree.map(lambda p, g: p - lr * g, params, grads)

  def generator(g_params, z, labels):
    return gan.generator.apply({"params": g_params}, z, labels, train=True)

  def discriminator(d_params, x, labels, keys):
    return gan.discriminator.apply({"params": d_params}, x, labels, train=True, dropout_keys=keys)

  def input_gradients(d_params, x, labels, keys):
    """d D(x_i) / d x_i, example by example (D on one-example batches, vmapped)."""
    def one(xi, label, key):
      label = None if label is None else label[None]
      return jax.grad(lambda v: discriminator(d_params, v[None], label, key[None])[0])(xi)
    if labels is None:
      return jax.vmap(lambda xi, key: one(xi, None, key))(x, keys)
    return jax.vmap(one)(x, labels, keys)

  def augmented(x, keys):
    """DiffAugment of every sample, sample i from keys[i] (identity when off)."""
    if not gan.diffaugment:
      return x
    return augment.diff_augment(x, keys, gan.diffaugment, gan.diffaugment_strength)

  d_params, g_params = state.d_params, state.g_params
  metrics = {}
  for j in range(n_critic):
    keys = lambda salt: keys_of(rng, step, num_examples, j * SALTS_PER_CRITIC_STEP + salt)
    z = jnp.stack([jax.random.normal(k, (config.latent_dim,)) for k in keys(SALT_LATENT)])
    fake_labels = None
    if num_classes:
      fake_labels = jnp.stack([jax.random.randint(k, (), 0, num_classes)
                               for k in keys(SALT_LABEL)])
    # Row b * n_critic + j of the batch is real example b of D update j.
    real = images[j::n_critic]
    real_labels = batch["label"][j::n_critic] if num_classes else None
    real = augmented(real, keys(SALT_AUGMENT_REAL))
    fake = augmented(generator(g_params, z, fake_labels), keys(SALT_AUGMENT_FAKE))
    real_keys, fake_keys = keys(SALT_DROPOUT_REAL), keys(SALT_DROPOUT_FAKE)
    alpha = jnp.stack([jax.random.uniform(k) for k in keys(SALT_MIX)])

    def d_loss(params):
      real_logits = discriminator(params, real, real_labels, real_keys)
      fake_logits = discriminator(params, fake, fake_labels, fake_keys)
      loss = losses.discriminator_loss(real_logits, fake_logits, kind)
      parts = dict(d_loss=loss, d_real=jnp.mean(jax.nn.sigmoid(real_logits)),
                   d_fake=jnp.mean(jax.nn.sigmoid(fake_logits)))
      if config.get("r1_gamma", 0.0):
        grads = input_gradients(params, real, real_labels, real_keys)
        parts["r1"] = jnp.mean(jnp.sum(grads ** 2, axis=tuple(range(1, grads.ndim))))
        loss = loss + config.r1_gamma / 2 * parts["r1"]
      if config.get("gp_weight", 0.0):
        a = alpha.reshape((-1,) + (1,) * (real.ndim - 1))
        mixes = a * real + (1 - a) * fake
        grads = input_gradients(params, mixes, real_labels, real_keys)
        norms = jnp.sqrt(jnp.sum(grads ** 2, axis=tuple(range(1, grads.ndim))))
        parts["gp"] = jnp.mean((norms - 1.0) ** 2)
        loss = loss + config.gp_weight * parts["gp"]
      return loss, parts

    grads, metrics = jax.grad(d_loss, has_aux=True)(d_params)
    metrics["d_grad_norm"] = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(grads)))
    d_params = sgd(d_params, grads, config.d_learning_rate)
    if config.get("d_weight_clip", 0.0):
      c = config.d_weight_clip
      d_params = jax.tree.map(lambda p: jnp.clip(p, -c, c), d_params)

  # G's update: the z (and fake labels) of the last critic step, against the updated D.
  keys = lambda salt: keys_of(rng, step, num_examples, n_critic * SALTS_PER_CRITIC_STEP + salt)
  real_logits = None
  if losses.get(kind).generator_uses_real:
    last_real = images[n_critic - 1::n_critic]  # the last D update's real batch, as sampled
    real_logits = discriminator(d_params, augmented(last_real, keys(SALT_AUGMENT_REAL)),
                                real_labels, keys(SALT_DROPOUT_REAL))

  def g_loss(params):
    fake = augmented(generator(params, z, fake_labels), keys(SALT_AUGMENT_FAKE))
    fake_logits = discriminator(d_params, fake, fake_labels, keys(SALT_DROPOUT_FAKE))
    return losses.generator_loss(fake_logits, kind, real_logits)

  metrics["g_loss"], grads = jax.value_and_grad(g_loss)(g_params)
  metrics["g_grad_norm"] = jnp.sqrt(sum(jnp.sum(g ** 2) for g in jax.tree.leaves(grads)))
  g_params = sgd(g_params, grads, config.g_learning_rate)
  return d_params, g_params, metrics


def check_against_reference(config, schedule=step_lib.DEFAULT_SCHEDULE, step_number=5):
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(0)).replace(step=jnp.int32(step_number))
  batch, rng = mlp_batch(config), jax.random.key(2)
  new_state, metrics = step_lib.train_step(gan, state, batch, rng, schedule=schedule)
  d_params, g_params, expected = reference_step(config, gan, state, batch, rng)
  # Both halves moved by far more than the tolerance, so "not updated" cannot pass.
  assert max_abs_difference(d_params, state.d_params) > 1e-3
  assert max_abs_difference(g_params, state.g_params) > 1e-3
  assert_trees_close(new_state.d_params, d_params, rtol=1e-6, atol=1e-7)
  assert_trees_close(new_state.g_params, g_params, rtol=1e-6, atol=1e-7)
  assert int(new_state.step) == step_number + 1
  for name, value in expected.items():
    np.testing.assert_allclose(metrics[name], value, rtol=1e-5, atol=1e-7, err_msg=name)
  return gan, state, new_state, metrics


VARIANTS = {
    "plain": {},
    "r1": dict(r1_gamma=3.0),
    "gp": dict(gp_weight=3.0),
    "n_critic": dict(n_critic=3),
    # Class conditional, per-example dropout in D, two critic steps, both penalties.
    "everything": dict(n_critic=2, r1_gamma=3.0, gp_weight=3.0, num_classes=3, d_dropout=0.25),
}


@pytest.mark.parametrize("variant", ["plain", "everything"])
@pytest.mark.parametrize("kind", losses.names())
def test_sgd_step_moves_params_by_minus_lr_times_the_documented_gradients(kind, variant):
  check_against_reference(mlp_config(loss=kind, **VARIANTS[variant]))


@pytest.mark.parametrize("variant", ["r1", "gp", "n_critic"])
def test_sgd_step_with_each_regulariser_alone(variant):
  check_against_reference(mlp_config(loss="non_saturating", **VARIANTS[variant]))


SCHEDULES = {
    "two_generator_forwards": step_lib.Schedule(share_generator_forward=False),
    # [real; fake] in one D call, in pieces of 3: 16 rows -> 3 x 5 + 1; R1 and GP's 8 -> 3, 3, 2.
    "concat_and_chunks": step_lib.Schedule(concat_real_fake=True, d_chunk_size=3),
}


@pytest.mark.parametrize("kind", ["non_saturating"] + [
    k for k in losses.names() if losses.get(k).generator_uses_real])
@pytest.mark.slow
@pytest.mark.parametrize("schedule", list(SCHEDULES))
def test_every_schedule_computes_the_reference_step(schedule, kind):
  check_against_reference(mlp_config(loss=kind, **VARIANTS["everything"]), SCHEDULES[schedule])


@pytest.mark.parametrize("kind", ["non_saturating", "relativistic_average"])
@pytest.mark.parametrize("variant", ["plain", "everything"])
def test_sgd_step_with_diffaugment_is_the_reference_step(kind, variant):
  """Issue 28: with DiffAugment on, D sees reals and fakes each through their own transforms
  (keys of their own salts), G's update judges augmented fakes with gradients through the
  transforms; one SGD step equals the reference written above, for a loss whose G half uses
  real logits too."""
  if kind not in losses.names():
    pytest.skip(f"no {kind} loss registered")
  config = mlp_config(**VARIANTS[variant], data_shape=(6, 6, 1), loss=kind,
                      diffaugment="translation,cutout")
  check_against_reference(config)


def jitted_mlp_step():
  """`jit_train_step` of the "everything" MLP config, with ``skip_nonfinite`` (compiled once)."""
  config = mlp_config(**VARIANTS["everything"])
  key = (config.to_json(), "skip_nonfinite")
  if key not in _COMPILED_STEPS:
    gan = config_lib.build_gan(config)
    _COMPILED_STEPS[key] = gan, step_lib.jit_train_step(gan, donate=False, skip_nonfinite=True)
  return config, *_COMPILED_STEPS[key]


def test_jitted_step_is_the_reference_step():
  # With skip_nonfinite on, which must not touch a finite step.
  config, gan, step = jitted_mlp_step()
  state = step_lib.create_state(gan, jax.random.key(0)).replace(step=jnp.int32(5))
  batch, rng = mlp_batch(config), jax.random.key(2)
  new_state, metrics = step(state, batch, rng)
  assert float(metrics["finite"]) == 1.0
  d_params, g_params, _ = reference_step(config, gan, state, batch, rng)
  assert_trees_close(new_state.d_params, d_params, rtol=1e-6, atol=1e-7)
  assert_trees_close(new_state.g_params, g_params, rtol=1e-6, atol=1e-7)


def test_weight_clipping_clips_every_d_update():
  c = 0.3
  config = mlp_config(loss="wasserstein", d_weight_clip=c, n_critic=2)
  _, state, new_state, _ = check_against_reference(config)
  before = np.concatenate([np.ravel(p) for p in jax.tree.leaves(state.d_params)])
  after = np.concatenate([np.ravel(p) for p in jax.tree.leaves(new_state.d_params)])
  assert np.all(np.abs(after) <= c)
  # The bound binds (some params sat outside it), and not everything is at the bound.
  assert np.any(np.abs(before) > c) and np.any(np.abs(after) == c)
  assert np.any(np.abs(after) < c - 1e-3)


# ----------------------------------------------------------------------------------------------
# Random numbers.


@pytest.mark.parametrize("distribution", ["normal", "uniform"])
def test_latents_are_drawn_per_example_from_the_configured_prior(distribution):
  gan = dataclasses.replace(config_lib.build_gan(mlp_config()), latent_distribution=distribution)
  rng = jax.random.key(4)
  z4, _ = step_lib._latents(gan, step_lib.example_keys(rng, jnp.int32(3), 4), critic_step=1)
  z2, _ = step_lib._latents(gan, step_lib.example_keys(rng, jnp.int32(3), 2), critic_step=1)
  for i in range(4):
    key = key_of(rng, 3, i, SALTS_PER_CRITIC_STEP + SALT_LATENT)
    expected = (jax.random.normal(key, (gan.latent_dim,)) if distribution == "normal" else
                jax.random.uniform(key, (gan.latent_dim,), minval=-1.0, maxval=1.0))
    np.testing.assert_array_equal(z4[i], expected)
  np.testing.assert_array_equal(z2, z4[:2])  # an example's z does not depend on the batch
  if distribution == "uniform":
    assert -1.0 <= float(z4.min()) and float(z4.max()) <= 1.0 and float(z4.min()) < -0.5


def test_an_unknown_latent_distribution_is_refused():
  with pytest.raises(ValueError, match="Unknown latent distribution 'cauchy'; registered: "
                     "normal, uniform"):
    dataclasses.replace(config_lib.build_gan(mlp_config()), latent_distribution="cauchy")


def test_random_draws_differ_across_steps_critic_steps_and_examples():
  rng = jax.random.key(2)
  keys = step_lib.example_keys(rng, jnp.int32(5), 3)
  for i in range(3):  # the public per-example keys are the documented ones
    expected = jax.random.fold_in(jax.random.fold_in(rng, 5), i)
    np.testing.assert_array_equal(jax.random.key_data(keys[i]), jax.random.key_data(expected))

  def z(step, example, critic_step):
    key = key_of(rng, step, example, critic_step * SALTS_PER_CRITIC_STEP + SALT_LATENT)
    return np.asarray(jax.random.normal(key, (3,)))

  draws = {"base": z(0, 0, 0), "next step": z(1, 0, 0), "next example": z(0, 1, 0),
           "next critic step": z(0, 0, 1)}
  names = list(draws)
  for a in range(len(names)):
    for b in range(a + 1, len(names)):
      assert np.min(np.abs(draws[names[a]] - draws[names[b]])) > 1e-4, (names[a], names[b])

  # The step folds its own step number in: same rng and batch, state.step 0 or 1, other numbers.
  # (The reference tests above also pin the step's draws to these keys, at step 5.)
  config = mlp_config()
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(0))
  batch = mlp_batch(config)
  at_0, metrics_0 = step_lib.train_step(gan, state, batch, rng)
  at_1, metrics_1 = step_lib.train_step(gan, state.replace(step=jnp.int32(1)), batch, rng)
  assert max_abs_difference(at_0.g_params, at_1.g_params) > 1e-4
  assert abs(float(metrics_0["d_fake"]) - float(metrics_1["d_fake"])) > 1e-5


# ----------------------------------------------------------------------------------------------
# EMA and sampling.


def test_ema_is_decay_times_ema_plus_one_minus_decay_times_params():
  decay = 0.9
  config = mlp_config(ema_decay=decay)
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(0))
  assert_trees_close(state.ema_g_params, state.g_params, atol=0)
  batch = mlp_batch(config)
  ema = state.g_params
  for _ in range(2):
    state, _ = step_lib.train_step(gan, state, batch, jax.random.key(2))
    ema = jax.tree.map(lambda e, p: decay * e + (1 - decay) * p, ema, state.g_params)
    assert_trees_close(state.ema_g_params, ema, rtol=1e-6, atol=1e-7)
  # The EMA lags the params by a visible amount (so the formula, not equality, is tested).
  assert max_abs_difference(state.ema_g_params, state.g_params) > 1e-3

  # With EMA off the "EMA" is the params themselves.
  off = config_lib.build_gan(mlp_config(ema_decay=0.0))
  new_state, _ = step_lib.train_step(off, step_lib.create_state(off, jax.random.key(0)), batch,
                                     jax.random.key(2))
  assert_trees_close(new_state.ema_g_params, new_state.g_params, atol=0)


def test_ema_warmup_uses_min_of_decay_and_one_plus_t_over_ten_plus_t():
  decay = 0.999
  config = mlp_config(ema_decay=decay, ema_warmup=True)
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(0))
  batch = mlp_batch(config)
  ema = state.g_params
  for t in range(3):  # decays 1/10, 2/11, 3/12: far from 0.999, so the warm-up is what is tested
    state, _ = step_lib.train_step(gan, state, batch, jax.random.key(2))
    d = min(decay, (1 + t) / (10 + t))
    ema = jax.tree.map(lambda e, p: d * e + (1 - d) * p, ema, state.g_params)
    assert_trees_close(state.ema_g_params, ema, rtol=1e-6, atol=1e-7)


def test_generate_uses_the_ema_params_only_when_asked():
  gan = config_lib.build_gan(mlp_config(hidden=(8, 8)))
  state = step_lib.create_state(gan, jax.random.key(0))
  state = state.replace(ema_g_params=jax.tree.map(lambda p: 0.5 * p + 0.1, state.g_params))
  z = jax.random.normal(jax.random.key(1), (5, 3))

  def by_hand(params):  # the MLP generator: ReLU hidden layers, linear output
    h = z
    for name in ("hidden_0", "hidden_1"):
      h = np.maximum(h @ params[name]["kernel"] + params[name]["bias"], 0.0)
    return h @ params["out"]["kernel"] + params["out"]["bias"]

  from_ema, from_params = by_hand(state.ema_g_params), by_hand(state.g_params)
  assert np.max(np.abs(from_ema - from_params)) > 1e-2
  np.testing.assert_allclose(step_lib.generate(gan, state, z), from_ema, rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(step_lib.generate(gan, state, z, use_ema=True), from_ema,
                             rtol=1e-5, atol=1e-6)
  np.testing.assert_allclose(step_lib.generate(gan, state, z, use_ema=False), from_params,
                             rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------------
# The conv discriminator in training mode, with its per-example dropout masks.


def _fmix32(x):
  x = x ^ (x >> np.uint32(16))
  x = x * np.uint32(0x85EBCA6B)
  x = x ^ (x >> np.uint32(13))
  x = x * np.uint32(0xC2B2AE35)
  return x ^ (x >> np.uint32(16))


def reference_keep_mask(keys, salt, shape, rate):
  """`example_dropout`'s documented mask, in NumPy: per example two threefry seeds from
  fold_in(key, salt), then two MurmurHash3 finaliser rounds over the element index."""
  index = np.arange(math.prod(shape), dtype=np.uint32).reshape(shape)
  threshold = np.uint32(min(int((1.0 - rate) * 2.0 ** 32), 2 ** 32 - 1))
  masks = []
  for key in keys:
    seed_0, seed_1 = np.asarray(jax.random.bits(jax.random.fold_in(key, salt), (2,), jnp.uint32))
    bits = _fmix32((index * np.uint32(0x9E3779B9)) ^ seed_0)
    masks.append(_fmix32(bits ^ seed_1) < threshold)
  return np.stack(masks)


def reference_dcgan28_discriminator(params, x, keys, rate):
  """Conv 64 k5 s2 -> LeakyReLU(0.2) -> dropout -> Conv 128 k5 s2 -> LeakyReLU -> dropout ->
  Dense 1, by hand; ``keys=None`` is inference (no dropout). Returns (logits, keep masks)."""
  masks = []

  def conv(h, layer):
    return jax.lax.conv_general_dilated(h, params[layer]["kernel"], (2, 2), "SAME",
                                        dimension_numbers=("NHWC", "HWIO", "NHWC")
                                        ) + params[layer]["bias"]

  h = x
  for salt, layer in enumerate(("conv_0", "conv_1")):
    h = conv(h, layer)
    h = np.where(h > 0, h, 0.2 * h)
    if keys is not None:
      masks.append(reference_keep_mask(keys, salt, h.shape[1:], rate))
      h = np.where(masks[-1], h / (1.0 - rate), 0.0)
  h = h.reshape(h.shape[0], -1)
  return h @ params["out"]["kernel"][:, 0] + params["out"]["bias"][0], masks


def test_conv_discriminator_in_training_mode_by_hand():
  x = jax.random.uniform(jax.random.key(1), (3, 28, 28, 1), minval=-1, maxval=1)
  keys = jax.random.split(jax.random.key(2), 3)
  params = models.DCGAN28Discriminator().init(jax.random.key(0), x, train=False)["params"]
  outputs = {}
  for rate in (0.3, 0.5):
    d = models.DCGAN28Discriminator(dropout_rate=rate)
    outputs[rate] = d.apply({"params": params}, x, train=True, dropout_keys=keys)
    expected, masks = reference_dcgan28_discriminator(params, x, keys, rate)
    np.testing.assert_allclose(outputs[rate], expected, rtol=1e-5, atol=1e-6)
    for mask in masks:  # the rate is honoured, and each example has its own mask
      np.testing.assert_allclose(1.0 - mask.mean(), rate, atol=0.02)  # ~5 sigma
      assert not np.array_equal(mask[0], mask[1])
    # Each example's mask depends on its own key only, not on the rest of the batch.
    np.testing.assert_allclose(d.apply({"params": params}, x[1:], train=True,
                                       dropout_keys=keys[1:]), outputs[rate][1:],
                               rtol=1e-5, atol=1e-6)
  assert np.max(np.abs(outputs[0.3] - outputs[0.5])) > 1e-3
  inference, _ = reference_dcgan28_discriminator(params, x, None, 0.3)
  np.testing.assert_allclose(models.DCGAN28Discriminator().apply({"params": params}, x,
                                                                 train=False),
                             inference, rtol=1e-5, atol=1e-6)
  assert np.max(np.abs(outputs[0.3] - inference)) > 1e-3


def test_step_runs_the_conv_discriminator_with_the_documented_masks():
  # D(x) in a dcgan28 step (the d_real metric) is the hand-built D's with the masks of the
  # documented keys: step folded in, salt 2 (dropout on real) of critic step 0. (The MLP
  # reference tests pin the other salts.)
  config = make_config(optimizer="sgd", xla_cpu_options="")
  gan, step = jitted_step(config)
  state = step_lib.create_state(gan, jax.random.key(0)).replace(step=jnp.int32(3))
  real = jax.random.uniform(jax.random.key(1), (8, 28, 28, 1), minval=-1, maxval=1)
  rng = jax.random.key(5)
  _, metrics = step(state, {"image": real}, rng)
  real_logits, _ = reference_dcgan28_discriminator(state.d_params, real,
                                                   keys_of(rng, 3, 8, SALT_DROPOUT_REAL), 0.3)
  np.testing.assert_allclose(metrics["d_real"], np.mean(jax.nn.sigmoid(real_logits)), rtol=1e-6)
  # Masks drawn from any other key (here the fake side's) give other logits: the check bites.
  other, _ = reference_dcgan28_discriminator(state.d_params, real,
                                             keys_of(rng, 3, 8, SALT_DROPOUT_FAKE), 0.3)
  assert abs(np.mean(jax.nn.sigmoid(other)) - np.mean(jax.nn.sigmoid(real_logits))) > 1e-4


# ----------------------------------------------------------------------------------------------
# Schedules: how the step is laid out never changes what it computes.


def test_xla_cpu_options_change_kernels_not_the_step():
  # Convolutions by XLA's own kernels (the dcgan default) or by YNNPACK (XLA's default): the same
  # arithmetic, rounded in another order.
  ours, ours_metrics = run_steps(make_config(optimizer="sgd"), 2)
  xla_default, default_metrics = run_steps(make_config(optimizer="sgd", xla_cpu_options=""), 2)
  assert max_abs_difference(ours.g_params, xla_default.g_params) > 0  # other kernels indeed
  assert_trees_close(ours, xla_default, atol=1e-5)
  for key in ("d_loss", "g_loss", "d_real", "d_fake"):
    np.testing.assert_allclose(ours_metrics[key], default_metrics[key], rtol=1e-5)


def test_xla_cpu_options_default_by_family_and_override():
  options = lambda config, **kw: config_lib.resolve_schedule(config, **kw).compiler_options()
  ynn_matmuls_only = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}
  assert options(make_config()) == ynn_matmuls_only
  assert options(make_config(xla_cpu_options="auto")) == ynn_matmuls_only
  assert options(make_config(), backend="gpu") is None  # XLA:CPU options only on a CPU
  assert options(mlp_config()) is None  # XLA's own defaults
  assert options(make_config(xla_cpu_options="")) is None
  assert options(make_config(xla_cpu_options=" xla_b = 2,xla_a=1 ")) == {"xla_a": "1",
                                                                         "xla_b": "2"}
  with pytest.raises(config_lib.ConfigError, match="not of the form name=value"):
    config_lib.resolve_schedule(make_config(xla_cpu_options="xla_cpu_use_onednn"))
  with pytest.raises(config_lib.ConfigError, match="must be a string"):
    config_lib.resolve_schedule(make_config(xla_cpu_options={}))


def test_d_chunk_size_defaults_and_refusals():
  assert jax.default_backend() == "cpu"  # the family defaults are CPU ones
  chunk = lambda config, **kw: config_lib.resolve_schedule(config, **kw).d_chunk_size
  assert chunk(make_config()) == 64  # dcgan28: no BatchNorm in D, one CPU device
  assert chunk(make_config(d_chunk_size=-1)) == 64
  assert chunk(make_config(), num_devices=8) == 0  # pieces would straddle devices
  assert chunk(make_config(), backend="gpu") == 0
  assert chunk(make_config(d_chunk_size=5), num_devices=8) == 5  # as given
  assert chunk(mlp_config()) == 0
  dcgan32 = dict(model="dcgan32", data_shape=(32, 32, 3))
  assert chunk(make_config(**dcgan32)) == 0  # auto never chunks a BatchNorm D
  with pytest.raises(config_lib.ConfigError, match="needs a discriminator without BatchNorm"):
    config_lib.resolve_schedule(make_config(d_chunk_size=64, **dcgan32))
  for bad in (-2, 1.5, True):
    with pytest.raises(config_lib.ConfigError, match="must be an integer"):
      config_lib.resolve_schedule(make_config(d_chunk_size=bad))


# ----------------------------------------------------------------------------------------------
# Non-finite values, names, seeds.


def test_nonfinite_batch_is_flagged_and_can_be_skipped():
  config, gan, skipping_step = jitted_mlp_step()
  state = step_lib.create_state(gan, jax.random.key(0))
  bad = dict(mlp_batch(config), image=jnp.full((16, 2), jnp.nan))
  poisoned, metrics = step_lib.train_step(gan, state, bad, jax.random.key(1))
  assert float(metrics["finite"]) == 0.0 and float(metrics["params_finite"]) == 0.0
  assert not np.isfinite(float(metrics["d_loss"]))
  assert not np.all(np.isfinite(np.asarray(poisoned.d_params["out"]["kernel"])))
  skipped, metrics = skipping_step(state, bad, jax.random.key(1))
  assert float(metrics["finite"]) == 0.0
  assert int(skipped.step) == 1
  assert_trees_close(skipped.replace(step=state.step), state, atol=0)


def test_bad_optimizer_and_loss_names():
  with pytest.raises(ValueError, match="registered: adam, rmsprop, sgd"):
    config_lib.build_gan(make_config(optimizer="adagrad"))
  with pytest.raises(ValueError, match="Unknown loss 'minimax'; registered:"):
    config_lib.build_gan(make_config(loss="minimax"))


def state_digest(config, num_steps, seed):
  state, _ = run_steps(config, num_steps, seed=seed)
  digest = hashlib.sha256()
  for leaf in jax.tree.leaves(state):
    digest.update(np.asarray(leaf).tobytes())
  return digest.hexdigest()


_REPRO_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
from test_step import make_config, state_digest
print(state_digest(make_config(optimizer="sgd"), 10, seed=3))
"""


@pytest.mark.slow
def test_same_seed_is_bitwise_identical_in_another_process():
  # The child inherits this process's environment (conftest's XLA flags, the compilation cache),
  # so the two runs differ only in being two processes.
  script = _REPRO_SCRIPT.format(root=ROOT, tests=os.path.join(ROOT, "tests"))
  child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.strip()
  here = state_digest(make_config(optimizer="sgd"), 10, seed=3)
  assert len(here) == 64 and child == here
  assert state_digest(make_config(optimizer="sgd"), 10, seed=4) != here  # the seed matters


def test_optimizers_by_name_are_the_optax_ones_with_the_configs_moments():
  params = {"w": jnp.array([1.0, -2.0, 0.5])}
  grads = [{"w": jnp.array([0.3, -0.1, 2.0])}, {"w": jnp.array([-0.2, 0.4, 1.0])},
           {"w": jnp.array([0.5, 0.5, -1.0])}]

  def run(tx):
    p, state = params, tx.init(params)
    for g in grads:
      updates, state = tx.update(g, state, p)
      p = optax.apply_updates(p, updates)
    return np.asarray(p["w"])

  cases = [(("adam", 0.1, 0.5, 0.9), optax.adam(0.1, b1=0.5, b2=0.9)),
           (("sgd", 0.1, 0.5, 0.999), optax.sgd(0.1, momentum=0.5)),
           (("sgd", 0.1, 0.0, 0.999), optax.sgd(0.1)),
           (("rmsprop", 0.1, 0.5, 0.999), optax.rmsprop(0.1))]
  for args, reference in cases:
    np.testing.assert_allclose(run(step_lib.make_optimizer(*args)), run(reference), rtol=1e-6,
                               err_msg=str(args))
  # The moments matter over these three steps (so the checks above see them).
  assert not np.allclose(run(optax.adam(0.1, b1=0.5, b2=0.9)), run(optax.adam(0.1)))
  assert not np.allclose(run(optax.sgd(0.1, momentum=0.5)), run(optax.sgd(0.1)))
  with pytest.raises(ValueError, match="registered: adam, rmsprop, sgd"):
    step_lib.make_optimizer("adagrad", 0.1)


def test_create_state_starts_batchnorm_statistics_at_their_defaults():
  """Initialising in inference mode leaves running means 0 and variances 1 (training mode would
  already fold one batch of zeros into them)."""
  for model, shape in (("dcgan28", (28, 28, 1)), ("dcgan32", (32, 32, 3))):
    gan = config_lib.build_gan(make_config(model=model, data_shape=shape))
    state = step_lib.create_state(gan, jax.random.key(0))
    stats = jax.tree_util.tree_leaves_with_path(
        {"g": state.g_batch_stats, "d": state.d_batch_stats})
    assert stats
    for path, value in stats:
      expected = 0.0 if "mean" in jax.tree_util.keystr(path) else 1.0
      np.testing.assert_array_equal(value, expected, err_msg=jax.tree_util.keystr(path))


def test_jit_train_step_does_not_skip_unless_asked():
  config, gan, _ = jitted_mlp_step()
  state = step_lib.create_state(gan, jax.random.key(0))
  bad = dict(mlp_batch(config), image=jnp.full((16, 2), jnp.nan))
  poisoned, _ = step_lib.jit_train_step(gan, donate=False)(state, bad, jax.random.key(1))
  assert not np.all(np.isfinite(np.asarray(poisoned.d_params["out"]["kernel"])))


def test_generate_in_inference_mode_uses_the_running_batchnorm_statistics():
  """Inference: each sample depends on its own z only (running statistics), so one z alone and
  the same z in a batch give the same image; train=True normalises with the batch's own."""
  gan = config_lib.build_gan(make_config(latent_dim=8))
  state = step_lib.create_state(gan, jax.random.key(0))
  # Running statistics unlike a fresh batch's, so the two modes really differ.
  state = state.replace(g_batch_stats=jax.tree.map(lambda x: x + 0.5, state.g_batch_stats))
  z = jax.random.normal(jax.random.key(1), (4, 8))
  batch = step_lib.generate(gan, state, z, use_ema=False)
  alone = step_lib.generate(gan, state, z[:1], use_ema=False)
  np.testing.assert_allclose(alone[0], batch[0], atol=1e-5)
  expected = gan.generator.apply({"params": state.g_params, "batch_stats": state.g_batch_stats},
                                 z, None, train=False)
  np.testing.assert_allclose(batch, expected, atol=0)
  trained = step_lib.generate(gan, state, z, use_ema=False, train=True)
  assert not np.allclose(trained, batch, atol=1e-3)


def standing_stats_gan(model):
  """A GAN sampling with standing statistics, with a G with BatchNorm: dcgan28's conv G, or
  PacGAN's toy MLP G (the same contract at a small fraction of the arithmetic over the
  `STANDING_STATS_SAMPLES` z)."""
  if model == "dcgan28":
    return config_lib.build_gan(make_config(latent_dim=8, sample_batch_stats="standing"))
  sgd = step_lib.make_optimizer("sgd", 0.1, 0.0)
  return step_lib.GAN(models.PacGANGenerator((2,), hidden=(16, 16)),
                      models.PacGANDiscriminator(units=4, num_pieces=2, num_layers=1), sgd, sgd,
                      (2,), latent_dim=8, sample_batch_stats="standing")


@pytest.mark.parametrize("model", ["pacgan_mlp", pytest.param("dcgan28", marks=pytest.mark.slow)])
def test_standing_statistics_are_the_batch_statistics_of_the_sampled_params(model):
  """``sample_batch_stats='standing'``: inference normalises with the statistics the sampled
  params give over the fixed standing z, so G(those z) equals G in training mode on that very
  batch; the running statistics are not read, and the EMA params get their own."""
  gan = standing_stats_gan(model)
  state = step_lib.create_state(gan, jax.random.key(0))
  state = state.replace(
      g_batch_stats=jax.tree.map(lambda x: x + 0.5, state.g_batch_stats),
      ema_g_params=jax.tree.map(lambda p: 1.1 * p, state.g_params))
  key = jax.random.fold_in(jax.random.key(step_lib._STANDING_STATS_SALT), 0)
  z = jax.random.normal(key, (step_lib.STANDING_STATS_SAMPLES, 8))
  for params, use_ema in ((state.g_params, False), (state.ema_g_params, True)):
    in_training = gan.generator.apply({"params": params, "batch_stats": state.g_batch_stats}, z,
                                      None, train=True, mutable=["batch_stats"])[0]
    standing = step_lib.generate(gan, state, z, use_ema=use_ema)
    np.testing.assert_allclose(standing, in_training, atol=2e-4)
    running = dataclasses.replace(gan, sample_batch_stats="running")
    assert not np.allclose(step_lib.generate(running, state, z, use_ema=use_ema), in_training,
                           atol=1e-2)
  # Ignoring the running statistics, a state with other ones samples the same images.
  other = state.replace(g_batch_stats=jax.tree.map(jnp.zeros_like, state.g_batch_stats))
  np.testing.assert_allclose(step_lib.generate(gan, other, z[:16]),
                             step_lib.generate(gan, state, z[:16]), atol=0)


def test_sample_batch_stats_is_checked():
  with pytest.raises(ValueError, match="config.sample_batch_stats='stale' is not valid; choose "
                     "one of: running, "
                     "standing"):
    config_lib.build_gan(make_config(sample_batch_stats="stale"))
