"""Tests for gan/models: registry and contract, parameter counts, exact upsampling, dropout."""

import jax
import flax.linen as nn
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gan import models


def _count(tree):
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(tree))


def _config(**kw):
  return ml_collections.ConfigDict(dict(dict(model="dcgan28", data_shape=(28, 28, 1)), **kw))


def test_dcgan28_parameter_counts_match_keras():
  generator, discriminator = models.make_models(_config())
  g = generator.init(jax.random.key(0), jnp.zeros((1, 100)), train=False)
  d = discriminator.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)), train=False)
  assert _count(g["params"]) == 852_609
  assert _count(g["params"]) + _count(g["batch_stats"]) == 865_281  # Keras' total
  assert _count(d["params"]) == 212_865


@pytest.mark.parametrize("kernel_size", [3, 5, 7])
def test_phase_decomposed_upsample_conv_equals_plain(kernel_size):
  x = jax.random.normal(jax.random.key(0), (2, 7, 6, 5))
  fast = models.UpsampleConv(4, kernel_size, phase_decomposed=True)
  plain = models.UpsampleConv(4, kernel_size, phase_decomposed=False)
  params = fast.init(jax.random.key(1), x)
  y_fast, y_plain = fast.apply(params, x), plain.apply(params, x)
  assert y_fast.shape == (2, 14, 12, 4)
  np.testing.assert_allclose(y_fast, y_plain, atol=2e-5)
  loss = lambda m: lambda p, x: jnp.sum(jnp.sin(m.apply(p, x)))
  g_fast = jax.grad(loss(fast), argnums=(0, 1))(params, x)
  g_plain = jax.grad(loss(plain), argnums=(0, 1))(params, x)
  for a, b in zip(jax.tree.leaves(g_fast), jax.tree.leaves(g_plain)):
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-5)


def test_phase_kernel_is_36_of_100_taps_for_5x5():
  kernel = jnp.ones((5, 5, 1, 1))
  phase = models.upsample_phase_kernel(kernel)
  assert phase.shape == (3, 3, 1, 4)
  # Every phase still sums all 25 taps of the original kernel.
  np.testing.assert_allclose(jnp.sum(phase, axis=(0, 1, 2)), [25.0] * 4)


def test_dcgan28_generator_forms_agree():
  g_fast, _ = models.make_models(_config(phase_decomposed_upsample=True))
  g_plain, _ = models.make_models(_config(phase_decomposed_upsample=False))
  z = jax.random.normal(jax.random.key(0), (3, 100))
  variables = g_fast.init(jax.random.key(1), z, train=False)
  out_fast, _ = g_fast.apply(variables, z, train=True, mutable=["batch_stats"])
  out_plain, _ = g_plain.apply(variables, z, train=True, mutable=["batch_stats"])
  assert out_fast.shape == (3, 28, 28, 1)
  assert float(jnp.max(jnp.abs(out_fast))) <= 1.0
  np.testing.assert_allclose(out_fast, out_plain, atol=1e-5)


def test_example_dropout_rate_and_independence():
  x = jnp.ones((4, 50, 50))
  keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(0), i))(jnp.arange(4))
  y = models.example_dropout(x, 0.3, keys, salt=0)
  kept = np.asarray(y > 0)
  np.testing.assert_allclose(kept.mean(), 0.7, atol=0.01)
  np.testing.assert_allclose(np.asarray(y)[kept], 1 / 0.7, rtol=1e-6)
  # Masks differ between examples and between salts, and depend only on the example's key.
  assert not np.array_equal(kept[0], kept[1])
  assert not np.array_equal(kept, np.asarray(models.example_dropout(x, 0.3, keys, 1) > 0))
  alone = models.example_dropout(x[2:3], 0.3, keys[2:3], salt=0)
  np.testing.assert_array_equal(alone[0], y[2])
  # Pairwise agreement of independent masks is p^2 + (1-p)^2 = 0.58, not 1.
  np.testing.assert_allclose((kept[0] == kept[1]).mean(), 0.58, atol=0.03)
  assert models.example_dropout(x, 0.3, None, 0) is x


@pytest.mark.parametrize("family,shape", [("mlp", (2,)), ("dcgan28", (28, 28, 1)),
                                          ("dcgan32", (32, 32, 3)), ("dcgan64", (64, 64, 3))])
def test_families_shapes_and_class_conditioning(family, shape):
  generator, discriminator = models.make_models(
      ml_collections.ConfigDict(dict(model=family, data_shape=shape, num_classes=10,
                                     mlp_output="linear")))
  z = jnp.zeros((2, 100))
  labels = jnp.array([1, 7])
  g_vars = generator.init(jax.random.key(0), z, labels, train=False)
  samples = generator.apply(g_vars, z, labels, train=False)
  assert samples.shape == (2,) + shape
  d_vars = discriminator.init(jax.random.key(1), samples, labels, train=False)
  logits = discriminator.apply(d_vars, samples, labels, train=False)
  assert logits.shape == (2,)
  # The label changes D's output through the projection term.
  other = discriminator.apply(d_vars, samples, jnp.array([2, 3]), train=False)
  assert not np.allclose(logits, other)
  with pytest.raises(ValueError, match="pass labels"):
    generator.apply(g_vars, z, None, train=False)


def test_bad_model_configs_say_what_is_right():
  with pytest.raises(ValueError, match="valid models are: mlp, dcgan28"):
    models.make_models(_config(model="resnet"))
  with pytest.raises(ValueError, match="28x28"):
    models.make_models(_config(data_shape=(32, 32, 3)))


def test_every_family_keeps_the_contract_and_registration_checks_it():
  assert models.names() == ("mlp", "dcgan28", "dcgan32", "dcgan64")
  for name in models.names():
    family = models.get(name)
    models.check_contract(family.generator, family.discriminator)  # what register ran
  assert models.get("dcgan32").discriminator.uses_batchnorm
  assert not models.get("dcgan28").discriminator.uses_batchnorm

  class NoAxisName(nn.Module):
    @nn.compact
    def __call__(self, z, labels=None, train=True):
      return z

  class WrongCall(nn.Module):
    axis_name: str = None
    uses_batchnorm = False

    @nn.compact
    def __call__(self, x, train=True):
      return x

  class NoBatchNormFlag(nn.Module):
    axis_name: str = None

    @nn.compact
    def __call__(self, x, labels=None, train=True, dropout_keys=None):
      return x

  with pytest.raises(TypeError, match="needs a field `axis_name"):
    models.check_contract(NoAxisName, models.MLPDiscriminator)
  with pytest.raises(TypeError, match=r"takes \(x, train\); the step calls it as \(x, labels"):
    models.check_contract(models.MLPGenerator, WrongCall)
  with pytest.raises(TypeError, match="uses_batchnorm"):
    models.check_contract(models.MLPGenerator, NoBatchNormFlag)
  with pytest.raises(TypeError, match="uses_batchnorm"):
    models.register(models.ModelFamily("broken", models.MLPGenerator, NoBatchNormFlag,
                                       build=lambda *a: None))
  assert "broken" not in models.names()
  with pytest.raises(ValueError, match="already registered"):
    models.register(models.get("mlp"))


def test_family_settings_are_validated_by_the_family():
  with pytest.raises(ValueError, match="mlp_output='sigmoid' must be 'tanh'"):
    models.make_models(_config(model="mlp", data_shape=(2,), mlp_output="sigmoid"))
  with pytest.raises(ValueError, match="model_width=0 must be a positive integer"):
    models.make_models(_config(model="dcgan32", data_shape=(32, 32, 3), model_width=0))
  with pytest.raises(ValueError, match="'dcgan64' makes 64x64 images"):
    models.make_models(_config(model="dcgan64", data_shape=(32, 32, 3)))
