"""Tests for gan/train.py: the exact reformulations, n_critic, EMA, non-finite handling, seeds."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gan import train

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_config(**kw):
  base = dict(model="dcgan28", data_shape=(28, 28, 1), loss="non_saturating", optimizer="adam",
              g_learning_rate=2e-4, d_learning_rate=2e-4, latent_dim=100, ema_decay=0.0)
  base.update(kw)
  return ml_collections.ConfigDict(base)


def run_steps(config, num_steps, batch_size=8, seed=0):
  gan = train.build_gan(config)
  state = train.create_state(gan, jax.random.key(seed))
  step = train.jit_train_step(gan, donate=False)
  metrics = None
  for i in range(num_steps):
    images = jax.random.uniform(jax.random.key(100 + i), (batch_size * gan.n_critic,) +
                                tuple(config.data_shape), minval=-1, maxval=1)
    state, metrics = step(state, {"image": images}, jax.random.key(seed + 1))
  return state, metrics


def assert_trees_close(a, b, atol):
  leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
  assert len(leaves_a) == len(leaves_b)
  for x, y in zip(leaves_a, leaves_b):
    np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=atol, rtol=0)


def test_shared_generator_forward_and_concat_are_exact_reformulations():
  # SGD keeps rounding differences (different op orders) at rounding size; Adam divides tiny
  # gradients by their own magnitude and would amplify them, hiding what is being compared.
  # (The phase-decomposed upsample is compared in test_models.py: its rounding-level output
  # differences can flip a LeakyReLU kink, so whole-step gradients are not comparable at 1e-6.)
  reference, ref_metrics = run_steps(make_config(share_generator_forward=False,
                                                 concat_real_fake=False, optimizer="sgd"), 3)
  fast, fast_metrics = run_steps(make_config(share_generator_forward=True,
                                             concat_real_fake=True, optimizer="sgd"), 3)
  assert_trees_close(reference, fast, atol=1e-6)
  for key in ("d_loss", "g_loss", "d_real", "d_fake"):
    np.testing.assert_allclose(ref_metrics[key], fast_metrics[key], rtol=1e-5)


def test_xla_cpu_options_default_by_family_and_override():
  conv = train.build_gan(make_config())
  assert train.compiler_options(conv) == {
      "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}
  mlp = train.build_gan(make_config(model="mlp", data_shape=(2,), latent_dim=2,
                                    mlp_output="linear"))
  assert train.compiler_options(mlp) is None  # XLA's own defaults
  assert train.compiler_options(train.build_gan(make_config(xla_cpu_options={}))) is None
  chosen = train.build_gan(make_config(xla_cpu_options={"xla_cpu_use_onednn": True}))
  assert train.compiler_options(chosen) == {"xla_cpu_use_onednn": True}


def test_xla_cpu_options_change_kernels_not_the_step():
  # Convolutions by XLA's own kernels (the dcgan default) or by YNNPACK (XLA's default): the same
  # arithmetic, rounded in another order.
  ours, ours_metrics = run_steps(make_config(optimizer="sgd"), 2)
  xla_default, default_metrics = run_steps(make_config(optimizer="sgd", xla_cpu_options={}), 2)
  assert_trees_close(ours, xla_default, atol=1e-5)
  for key in ("d_loss", "g_loss", "d_real", "d_fake"):
    np.testing.assert_allclose(ours_metrics[key], default_metrics[key], rtol=1e-5)


def test_d_chunks_compute_the_whole_batch_function():
  # 10 examples in chunks of 4 (the last one short), class conditional, dropout on: the logits and
  # the gradients (parameters and input) of a chunked D equal those of one call on the batch.
  config = make_config(num_classes=10, d_chunk_size=4)
  chunked = train.build_gan(config)
  whole = train.build_gan(make_config(num_classes=10, d_chunk_size=0))
  assert chunked.d_chunk_size == 4 and whole.d_chunk_size == 0
  state = train.create_state(whole, jax.random.key(0))
  x = jax.random.uniform(jax.random.key(1), (10, 28, 28, 1), minval=-1, maxval=1)
  labels = jnp.arange(10) % 10
  keys = train.example_keys(jax.random.key(2), jnp.int32(0), 10)

  run_discriminator = train._run_discriminator  # pylint: disable=protected-access

  def logits_and_grads(gan):
    def total(params, x):
      logits, _ = run_discriminator(gan, params, {}, x, labels, keys, None)
      return jnp.sum(jnp.sin(logits)), logits
    (_, logits), grads = jax.value_and_grad(total, argnums=(0, 1), has_aux=True)(
        state.d_params, x)
    return logits, grads

  chunked_out, whole_out = logits_and_grads(chunked), logits_and_grads(whole)
  np.testing.assert_allclose(chunked_out[0], whole_out[0], rtol=1e-5, atol=1e-6)
  assert_trees_close(chunked_out[1], whole_out[1], atol=1e-5)


def test_d_chunk_size_defaults_and_refusals():
  assert jax.default_backend() == "cpu"  # the default is a CPU one
  assert train.build_gan(make_config()).d_chunk_size == 64  # dcgan28: no BatchNorm in D
  assert train.build_gan(make_config(model="mlp", data_shape=(2,), latent_dim=2,
                                     mlp_output="linear")).d_chunk_size == 0
  with pytest.raises(ValueError, match="needs a discriminator without BatchNorm"):
    train.build_gan(make_config(model="dcgan32", data_shape=(32, 32, 3), d_chunk_size=64))
  with pytest.raises(ValueError, match="must be a non-negative integer"):
    train.build_gan(make_config(d_chunk_size=-1))


def test_metrics_are_probabilities_and_losses_move():
  state, metrics = run_steps(make_config(), 2)
  assert int(state.step) == 2
  assert 0.0 < float(metrics["d_real"]) < 1.0 and 0.0 < float(metrics["d_fake"]) < 1.0
  assert float(metrics["finite"]) == 1.0
  # Near initialisation D is unsure: the D loss is close to 2 log 2 and G's close to log 2.
  np.testing.assert_allclose(metrics["d_loss"], 2 * np.log(2), atol=0.3)
  np.testing.assert_allclose(metrics["g_loss"], np.log(2), atol=0.3)


def test_n_critic_runs_k_discriminator_updates():
  config = make_config(model="mlp", data_shape=(2,), latent_dim=2, mlp_hidden=(16,),
                       mlp_output="linear", loss="wasserstein", gp_weight=10.0, n_critic=3)
  gan = train.build_gan(config)
  state = train.create_state(gan, jax.random.key(0))
  step = train.jit_train_step(gan, donate=False)
  new_state, metrics = step(state, {"image": jnp.ones((12, 2))}, jax.random.key(1))
  # Adam's first-moment count advances once per update: 3 for D, 1 for G.
  assert int(new_state.d_opt_state[0].count) == 3
  assert int(new_state.g_opt_state[0].count) == 1
  assert float(metrics["gp"]) >= 0.0 and np.isfinite(float(metrics["gp"]))


def test_r1_penalty_is_applied():
  _, metrics = run_steps(make_config(r1_gamma=10.0), 1)
  assert float(metrics["r1"]) > 0.0


def test_ema_tracks_the_generator():
  config = make_config(ema_decay=0.5)
  gan = train.build_gan(config)
  state = train.create_state(gan, jax.random.key(0))
  new_state, _ = train.jit_train_step(gan, donate=False)(
      state, {"image": jnp.zeros((4, 28, 28, 1))}, jax.random.key(1))
  expected = jax.tree.map(lambda e, p: 0.5 * e + 0.5 * p, state.ema_g_params, new_state.g_params)
  assert_trees_close(new_state.ema_g_params, expected, atol=1e-7)


def test_nonfinite_batch_is_flagged_and_can_be_skipped():
  config = make_config()
  gan = train.build_gan(config)
  state = train.create_state(gan, jax.random.key(0))
  bad = {"image": jnp.full((4, 28, 28, 1), jnp.nan)}
  poisoned, metrics = train.jit_train_step(gan, donate=False)(state, bad, jax.random.key(1))
  assert float(metrics["finite"]) == 0.0
  assert not np.isfinite(float(metrics["d_loss"]))
  skipped, metrics = train.jit_train_step(gan, donate=False, skip_nonfinite=True)(
      state, bad, jax.random.key(1))
  assert float(metrics["finite"]) == 0.0
  assert int(skipped.step) == 1
  assert_trees_close(skipped.replace(step=state.step), state, atol=0)


def test_generate_is_deterministic_in_inference_mode():
  config = make_config()
  gan = train.build_gan(config)
  state = train.create_state(gan, jax.random.key(0))
  z = jax.random.normal(jax.random.key(1), (5, 100))
  a = train.generate(gan, state, z)
  np.testing.assert_array_equal(a, train.generate(gan, state, z))
  np.testing.assert_array_equal(a[:2], train.generate(gan, state, z[:2]))


def test_bad_optimizer_and_loss_names():
  with pytest.raises(ValueError, match="valid optimizers are: adam, rmsprop, sgd"):
    train.build_gan(make_config(optimizer="adagrad"))
  with pytest.raises(ValueError, match="valid kinds are"):
    train.build_gan(make_config(loss="minimax"))


_REPRO_SCRIPT = """
import hashlib, sys, jax, numpy as np
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
from test_train import make_config, run_steps
state, _ = run_steps(make_config(), 20, batch_size=8, seed=3)
digest = hashlib.sha256()
for leaf in jax.tree.leaves(state):
  digest.update(np.asarray(leaf).tobytes())
print(digest.hexdigest())
"""


def test_same_seed_is_bitwise_identical_in_two_processes():
  script = _REPRO_SCRIPT.format(root=ROOT, tests=os.path.join(ROOT, "tests"))
  digests = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True).stdout.strip() for _ in range(2)]
  assert len(digests[0]) == 64
  assert digests[0] == digests[1]
