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
  """A config of ``model`` (default dcgan28) for ``data_shape``; the family's settings by name."""
  config = {"model": "dcgan28", "data_shape": (28, 28, 1), **kw}
  args = models.default_args(config["model"])
  args.update({k: config.pop(k) for k in list(config) if k in args})
  return ml_collections.ConfigDict(dict(config, model_args=args))


def test_dcgan28_parameter_counts_match_keras():
  generator, discriminator = models.make_models(_config())
  g = generator.init(jax.random.key(0), jnp.zeros((1, 100)), train=False)
  d = discriminator.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)), train=False)
  assert _count(g["params"]) == 852_609
  assert _count(g["params"]) + _count(g["batch_stats"]) == 865_281  # Keras' total
  assert _count(d["params"]) == 212_865


def test_dcgan28_takes_any_channel_count():
  """Stacked MNIST (28x28x3): G's last conv makes 3 channels, D's first takes 3; only those two
  layers grow (G: 2 x (5*5*64 + 1), D: 2 x 5*5*64), everything else is the seed's model."""
  generator, discriminator = models.make_models(_config(data_shape=(28, 28, 3)))
  z = jnp.zeros((2, 100))
  g = generator.init(jax.random.key(0), z, train=False)
  samples = generator.apply(g, z, train=False)
  assert samples.shape == (2, 28, 28, 3)
  d = discriminator.init(jax.random.key(0), samples, train=False)
  assert discriminator.apply(d, samples, train=False).shape == (2,)
  assert _count(g["params"]) == 852_609 + 2 * (5 * 5 * 64 + 1) == 855_811
  assert _count(d["params"]) == 212_865 + 2 * 5 * 5 * 64 == 216_065
  assert g["params"]["upconv_1"]["kernel"].shape == (5, 5, 64, 3)
  assert d["params"]["conv_0"]["kernel"].shape == (5, 5, 3, 64)
  # Data of one channel still builds the seed's one-channel model (same names, shapes, init).
  one, _ = models.make_models(_config())
  seed = models.DCGAN28Generator()
  for a, b in zip(jax.tree.leaves(one.init(jax.random.key(0), z, train=False)),
                  jax.tree.leaves(seed.init(jax.random.key(0), z, train=False))):
    np.testing.assert_array_equal(a, b)


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
@pytest.mark.slow
def test_families_shapes_and_class_conditioning(family, shape):
  args = dict(output="linear") if family == "mlp" else {}
  generator, discriminator = models.make_models(
      _config(model=family, data_shape=shape, num_classes=10, **args))
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
  with pytest.raises(ValueError, match="Unknown model family 'resnet'; registered: mlp, dcgan28"):
    models.make_models(ml_collections.ConfigDict(dict(model="resnet", model_args={},
                                                      data_shape=(28, 28, 1))))
  with pytest.raises(ValueError, match="28x28"):
    models.make_models(_config(data_shape=(32, 32, 3)))


def test_every_family_keeps_the_contract_and_registration_checks_it():
  assert models.names() == ("mlp", "dcgan28", "dcgan32", "dcgan64", "pacgan_mlp")
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
  with pytest.raises(ValueError, match=r"config.model_args.output='sigmoid' must be 'tanh'"):
    models.make_models(_config(model="mlp", data_shape=(2,), output="sigmoid"))
  with pytest.raises(ValueError, match=r"config.model_args.width=0 must be a positive integer"):
    models.make_models(_config(model="dcgan32", data_shape=(32, 32, 3), width=0))
  with pytest.raises(ValueError, match="'dcgan64' makes 64x64 images"):
    models.make_models(_config(model="dcgan64", data_shape=(32, 32, 3)))


# ---------------------------------------------------------------------------------------------
# PacGAN's toy models (gan/models/pacgan.py).


def test_maxout_takes_the_max_of_consecutive_pieces():
  x = np.random.default_rng(0).normal(size=(4, 3, 12)).astype(np.float32)
  expected = np.empty((4, 3, 4), np.float32)
  for unit in range(4):  # unit u: inputs 3u, 3u + 1, 3u + 2
    expected[..., unit] = np.maximum(np.maximum(x[..., 3 * unit], x[..., 3 * unit + 1]),
                                     x[..., 3 * unit + 2])
  np.testing.assert_array_equal(models.maxout(jnp.asarray(x), 3), expected)
  with pytest.raises(ValueError, match="multiple of the pieces"):
    models.maxout(jnp.asarray(x), 5)


def _pacgan_models(**kw):
  return models.make_models(_config(model="pacgan_mlp", data_shape=(2,), d_dropout=0.0, **kw))


@pytest.mark.parametrize("pack", [1, 2, 3, 4])
def test_pacgan_parameter_counts_by_hand(pack):
  generator, discriminator = _pacgan_models()
  g = generator.init(jax.random.key(0), jnp.zeros((2, 2)), train=False)
  # 2 x 400 (no bias) + 4 x BatchNorm(scale, shift) + 3 x 400 x 400 + 400 x 2 + 2.
  assert _count(g["params"]) == 2 * 400 + 4 * 800 + 3 * 400 * 400 + 400 * 2 + 2 == 484_802
  assert _count(g["batch_stats"]) == 4 * 800
  d = discriminator.init(jax.random.key(0), jnp.zeros((2, 2 * pack)), train=False)
  # Maxout layers Linear(d -> 200 x 5): (2 pack + 1) x 1000, then 2 x 201 x 1000, then 200 + 1.
  assert _count(d["params"]) == (2 * pack + 1) * 1000 + 2 * 201 * 1000 + 201 == \
      2000 * pack + 403_201


def test_pacgan_initialisers_are_the_authors():
  generator, discriminator = _pacgan_models()
  g = generator.init(jax.random.key(0), jnp.zeros((2, 2)), train=False)["params"]
  d = discriminator.init(jax.random.key(1), jnp.zeros((2, 4)), train=False)["params"]
  assert "bias" not in g["hidden_0"]  # hidden Linear layers have no bias; BatchNorm shifts
  np.testing.assert_array_equal(g["bn_0"]["scale"], 1.0)
  np.testing.assert_array_equal(g["bn_0"]["bias"], 0.0)
  for params in (g["hidden_1"], g["out"], d["maxout_1"], d["out"]):
    np.testing.assert_allclose(np.std(params["kernel"]), 0.02, rtol=0.2)
    np.testing.assert_allclose(np.mean(params["kernel"]), 0.0, atol=0.01)
  for params in (g["out"], d["maxout_0"], d["maxout_2"], d["out"]):
    np.testing.assert_array_equal(params["bias"], 0.0)


def _pacgan_generator_by_hand(params, stats, z, train):
  """4 x [z W (no bias) -> BatchNorm (biased two-pass variance + 1e-4) -> ReLU] -> W z + b."""
  h, new_stats = np.asarray(z, np.float64), {}
  for i in range(4):
    h = h @ np.asarray(params[f"hidden_{i}"]["kernel"], np.float64)
    bn = params[f"bn_{i}"]
    if train:
      mean, var = h.mean(0), ((h - h.mean(0)) ** 2).mean(0)
      old = stats[f"bn_{i}"]
      new_stats[f"bn_{i}"] = dict(mean=0.95 * old["mean"] + 0.05 * mean,
                                  var=0.95 * old["var"] + 0.05 * var)
    else:
      mean, var = stats[f"bn_{i}"]["mean"], stats[f"bn_{i}"]["var"]
    h = np.maximum((h - mean) / np.sqrt(var + 1e-4) * bn["scale"] + bn["bias"], 0.0)
  return h @ params["out"]["kernel"] + params["out"]["bias"], new_stats


def test_pacgan_generator_by_hand():
  generator, _ = _pacgan_models()
  z = jax.random.normal(jax.random.key(0), (16, 2))
  variables = generator.init(jax.random.key(1), z, train=False)
  # Non-trivial BatchNorm parameters and running statistics, so each term is exercised.
  noise = lambda tree, seed, scale: jax.tree.map(
      lambda x: x + scale * jax.random.uniform(jax.random.key(seed), x.shape), tree)
  params = noise(variables["params"], 2, 0.5)
  stats = noise(variables["batch_stats"], 3, 0.5)
  out, mutated = generator.apply({"params": params, "batch_stats": stats}, z, train=True,
                                 mutable=["batch_stats"])
  expected, expected_stats = _pacgan_generator_by_hand(params, stats, z, train=True)
  np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
  for layer, moments in expected_stats.items():
    for name, value in moments.items():
      np.testing.assert_allclose(mutated["batch_stats"][layer][name], value, rtol=1e-5,
                                 atol=1e-6)
  inference = generator.apply({"params": params, "batch_stats": stats}, z, train=False)
  np.testing.assert_allclose(inference, _pacgan_generator_by_hand(params, stats, z, False)[0],
                             rtol=1e-4, atol=1e-5)
  assert np.max(np.abs(np.asarray(inference) - np.asarray(out))) > 1e-2


def test_pacgan_discriminator_by_hand():
  _, discriminator = _pacgan_models()
  x = jax.random.normal(jax.random.key(0), (5, 6))  # three packed 2-d samples each
  params = discriminator.init(jax.random.key(1), x, train=False)["params"]
  params = jax.tree.map(lambda p: p + 0.01 * jax.random.normal(jax.random.key(2), p.shape),
                        params)  # non-zero biases
  h = np.asarray(x, np.float64)
  for i in range(3):
    h = h @ params[f"maxout_{i}"]["kernel"] + params[f"maxout_{i}"]["bias"]
    h = h.reshape(5, 200, 5).max(-1)
  expected = (h @ params["out"]["kernel"] + params["out"]["bias"])[:, 0]
  np.testing.assert_allclose(discriminator.apply({"params": params}, x, train=True), expected,
                             rtol=1e-4, atol=1e-6)
  assert not models.get("pacgan_mlp").discriminator.uses_batchnorm


def test_pacgan_models_are_unconditional():
  with pytest.raises(ValueError, match="pacgan_mlp is unconditional"):
    models.make_models(_config(model="pacgan_mlp", data_shape=(2,), num_classes=3))



def test_initialisers_are_the_papers():
  """dcgan28: Keras's glorot_uniform kernels (U(+-sqrt(6 / (fan_in + fan_out)))) and zero
  biases; dcgan32: Radford et al.'s N(0, 0.02)."""
  generator, discriminator = models.make_models(_config())
  d = discriminator.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))["params"]
  g = generator.init(jax.random.key(1), jnp.zeros((1, 100)), train=False)["params"]
  kernels = {"d.conv_0": (d["conv_0"]["kernel"], 25 * 1, 25 * 64),
             "d.conv_1": (d["conv_1"]["kernel"], 25 * 64, 25 * 128),
             "d.out": (d["out"]["kernel"], 7 * 7 * 128, 1),
             "g.dense": (g["dense"]["kernel"], 100, 128 * 7 * 7),
             "g.upconv_0": (g["upconv_0"]["kernel"], 25 * 128, 25 * 64)}
  for name, (kernel, fan_in, fan_out) in kernels.items():
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    kernel = np.asarray(kernel)
    assert np.abs(kernel).max() <= limit, name
    # Uniform on [-limit, limit]: standard deviation limit / sqrt(3).
    np.testing.assert_allclose(kernel.std(), limit / np.sqrt(3), rtol=0.1, err_msg=name)
  assert all(not np.any(d[layer]["bias"]) for layer in ("conv_0", "conv_1", "out"))
  _, dcgan32_d = models.make_models(_config(model="dcgan32", data_shape=(32, 32, 3)))
  d32 = dcgan32_d.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))["params"]
  for layer in ("conv_1", "conv_2", "out"):
    np.testing.assert_allclose(np.asarray(d32[layer]["kernel"]).std(), 0.02, rtol=0.1,
                               err_msg=layer)


def test_dcgan32_layers_are_radford_et_al():
  """Widths 4f, 2f, f with f = 64; 4x4 kernels; no bias before BatchNorm; BatchNorm momentum
  0.9 (PyTorch's 0.1) with scale from N(1, 0.02)."""
  generator, discriminator = models.make_models(_config(model="dcgan32", data_shape=(32, 32, 3)))
  g_vars = generator.init(jax.random.key(0), jnp.zeros((1, 100)), train=False)
  d_vars = discriminator.init(jax.random.key(1), jnp.zeros((1, 32, 32, 3)), train=False)
  shapes = lambda tree: {jax.tree_util.keystr(p): tuple(x.shape)
                         for p, x in jax.tree_util.tree_leaves_with_path(tree)}
  assert shapes(g_vars["params"]) == {
      "['project']['kernel']": (100, 4 * 4 * 256), "['project']['bias']": (4 * 4 * 256,),
      "['bn_project']['scale']": (256,), "['bn_project']['bias']": (256,),
      "['deconv_0']['kernel']": (4, 4, 256, 128), "['deconv_0']['bias']": (128,),
      "['bn_0']['scale']": (128,), "['bn_0']['bias']": (128,),
      "['deconv_1']['kernel']": (4, 4, 128, 64), "['deconv_1']['bias']": (64,),
      "['bn_1']['scale']": (64,), "['bn_1']['bias']": (64,),
      "['deconv_out']['kernel']": (4, 4, 64, 3), "['deconv_out']['bias']": (3,)}
  assert shapes(d_vars["params"]) == {
      "['conv_0']['kernel']": (4, 4, 3, 64), "['conv_0']['bias']": (64,),
      "['conv_1']['kernel']": (4, 4, 64, 128), "['bn_1']['scale']": (128,),
      "['bn_1']['bias']": (128,), "['conv_2']['kernel']": (4, 4, 128, 256),
      "['bn_2']['scale']": (256,), "['bn_2']['bias']": (256,),
      "['out']['kernel']": (4 * 4 * 256, 1), "['out']['bias']": (1,)}
  scale = np.asarray(d_vars["params"]["bn_2"]["scale"])
  np.testing.assert_allclose(scale.mean(), 1.0, atol=0.01)
  np.testing.assert_allclose(scale.std(), 0.02, rtol=0.25)
  # One training-mode pass from the initial statistics: running mean = 0.1 * the batch mean.
  x = jax.random.uniform(jax.random.key(2), (8, 32, 32, 3), minval=-1, maxval=1)
  _, updated = discriminator.apply(d_vars, x, train=True, mutable=["batch_stats"])
  captured = {}

  def grab(module, args, kwargs, out):  # the input of bn_1 (conv_1's output)
    del args, kwargs
    if module.name == "conv_1":
      captured["h"] = out
    return out

  with nn.intercept_methods(lambda f, a, k, ctx: grab(ctx.module, a, k, f(*a, **k))
                            if ctx.method_name == "__call__" else f(*a, **k)):
    discriminator.apply(d_vars, x, train=True, mutable=["batch_stats"])
  batch_mean = np.asarray(captured["h"]).mean(axis=(0, 1, 2))
  np.testing.assert_allclose(updated["batch_stats"]["bn_1"]["mean"], 0.1 * batch_mean,
                             rtol=1e-4, atol=1e-7)


def test_generators_concatenate_a_16_dimensional_label_embedding():
  for generator, z_dim in ((models.MLPGenerator((2,), (8,), "linear", num_classes=5), 3),
                           (models.DCGAN28Generator(num_classes=5), 3)):
    params = generator.init(jax.random.key(0), jnp.zeros((1, z_dim)), jnp.zeros((1,), jnp.int32),
                            train=False)["params"]
    assert params["label_embed"]["embedding"].shape == (5, 16)
    first = params["hidden_0"] if "hidden_0" in params else params["dense"]
    assert first["kernel"].shape[0] == z_dim + 16


@pytest.mark.slow
def test_the_narrowest_dcgan_builds():
  generator, _ = models.make_models(_config(model="dcgan32", data_shape=(32, 32, 3),
                                            width=1))
  g = generator.init(jax.random.key(0), jnp.zeros((1, 100)), train=False)["params"]
  assert g["deconv_1"]["kernel"].shape == (4, 4, 2, 1)
