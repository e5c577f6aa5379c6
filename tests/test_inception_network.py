"""Tests for gan/inception/network.py: the FID Inception's forward pass, resize and pools.

No real weights are needed: random weights with the real names and shapes (see
`gan.inception.weights.random_inception_state_dict`) go through every layer. The forward pass is
checked against an independent float64 NumPy re-implementation of pytorch-fid's
``fid_inception_v3``, written from its PyTorch code and using the PyTorch-layout (OIHW) weights as
they are, so a wrong layout, branch order, pool kind or padding shows up as a wrong number.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan import inception
from gan.inception import network


@pytest.fixture(scope="module")
def state_dict():
  return inception.random_inception_state_dict(seed=0)


@pytest.fixture(scope="module")
def variables(state_dict):
  return inception.state_dict_to_params(state_dict)


@pytest.fixture(scope="module")
def images():
  return np.random.default_rng(1).uniform(-1.0, 1.0, (2, 32, 32, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def forward(variables, images):
  """One compiled forward pass of the batch, shared by the tests that need it."""
  fn = jax.jit(inception.inception_features, static_argnames="return_logits")
  pool3, logits = fn(variables, jnp.asarray(images), return_logits=True)
  return np.asarray(pool3), np.asarray(logits), fn


# ------------------------------------------------------------------------------------------------
# An independent NumPy reference of pytorch-fid's network (float64, NHWC activations, PyTorch
# OIHW weights used as they are).
# ------------------------------------------------------------------------------------------------


def np_basic_conv(x, sd, name, stride=1, padding=(0, 0)):
  w = sd[name + ".conv.weight"].astype(np.float64)
  _, _, kh, kw = w.shape
  x = np.pad(x, ((0, 0), (padding[0],) * 2, (padding[1],) * 2, (0, 0)))
  oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
  out = 0.0
  for a in range(kh):
    for b in range(kw):
      patch = x[:, a:a + stride * (oh - 1) + 1:stride, b:b + stride * (ow - 1) + 1:stride]
      out = out + np.tensordot(patch, w[:, :, a, b], axes=([3], [1]))  # BLAS, unlike strided @.
  mean, var = sd[name + ".bn.running_mean"], sd[name + ".bn.running_var"]
  out = (out - mean) / np.sqrt(var.astype(np.float64) + 1e-3) * sd[name + ".bn.weight"] \
      + sd[name + ".bn.bias"]
  return np.maximum(out, 0.0)


def np_pool3x3(x, stride, padding, mode):
  """mode: 'max' (padding never wins) or 'avg_valid' (count_include_pad=False)."""
  fill = -np.inf if mode == "max" else 0.0
  xp = np.pad(x, ((0, 0), (padding,) * 2, (padding,) * 2, (0, 0)), constant_values=fill)
  ones = np.pad(np.ones(x.shape[1:3]), padding)
  oh, ow = (xp.shape[1] - 3) // stride + 1, (xp.shape[2] - 3) // stride + 1
  windows = [xp[:, a:a + stride * (oh - 1) + 1:stride, b:b + stride * (ow - 1) + 1:stride]
             for a in range(3) for b in range(3)]
  if mode == "max":
    return np.max(windows, axis=0)
  counts = sum(ones[a:a + stride * (oh - 1) + 1:stride, b:b + stride * (ow - 1) + 1:stride]
               for a in range(3) for b in range(3))
  return np.sum(windows, axis=0) / counts[None, :, :, None]


def np_torch_bilinear(x, size):
  """torch.nn.functional.interpolate(mode='bilinear', align_corners=False), by gathers."""

  def axis(n_in):
    src = np.maximum((np.arange(size) + 0.5) * (n_in / size) - 0.5, 0.0)
    i0 = np.floor(src).astype(int)
    i1 = i0 + (i0 < n_in - 1)
    return i0, i1, (src - i0)

  h0, h1, lh = axis(x.shape[1])
  w0, w1, lw = axis(x.shape[2])
  lw = lw[None, None, :, None]
  top = x[:, h0][:, :, w0] * (1 - lw) + x[:, h0][:, :, w1] * lw
  bottom = x[:, h1][:, :, w0] * (1 - lw) + x[:, h1][:, :, w1] * lw
  return top * (1 - lh)[None, :, None, None] + bottom * lh[None, :, None, None]


def np_block_a(x, sd, m):
  b1 = np_basic_conv(x, sd, m + ".branch1x1")
  b5 = np_basic_conv(np_basic_conv(x, sd, m + ".branch5x5_1"), sd, m + ".branch5x5_2", 1, (2, 2))
  b3 = np_basic_conv(x, sd, m + ".branch3x3dbl_1")
  b3 = np_basic_conv(b3, sd, m + ".branch3x3dbl_2", 1, (1, 1))
  b3 = np_basic_conv(b3, sd, m + ".branch3x3dbl_3", 1, (1, 1))
  bp = np_basic_conv(np_pool3x3(x, 1, 1, "avg_valid"), sd, m + ".branch_pool")
  return np.concatenate([b1, b5, b3, bp], -1)


def np_block_b(x, sd, m):
  b3 = np_basic_conv(x, sd, m + ".branch3x3", 2)
  bd = np_basic_conv(x, sd, m + ".branch3x3dbl_1")
  bd = np_basic_conv(bd, sd, m + ".branch3x3dbl_2", 1, (1, 1))
  bd = np_basic_conv(bd, sd, m + ".branch3x3dbl_3", 2)
  return np.concatenate([b3, bd, np_pool3x3(x, 2, 0, "max")], -1)


def np_block_c(x, sd, m):
  b1 = np_basic_conv(x, sd, m + ".branch1x1")
  b7 = np_basic_conv(x, sd, m + ".branch7x7_1")
  b7 = np_basic_conv(b7, sd, m + ".branch7x7_2", 1, (0, 3))
  b7 = np_basic_conv(b7, sd, m + ".branch7x7_3", 1, (3, 0))
  bd = np_basic_conv(x, sd, m + ".branch7x7dbl_1")
  for i, pad in zip(range(2, 6), [(3, 0), (0, 3), (3, 0), (0, 3)]):
    bd = np_basic_conv(bd, sd, f"{m}.branch7x7dbl_{i}", 1, pad)
  bp = np_basic_conv(np_pool3x3(x, 1, 1, "avg_valid"), sd, m + ".branch_pool")
  return np.concatenate([b1, b7, bd, bp], -1)


def np_block_d(x, sd, m):
  b3 = np_basic_conv(np_basic_conv(x, sd, m + ".branch3x3_1"), sd, m + ".branch3x3_2", 2)
  b7 = np_basic_conv(x, sd, m + ".branch7x7x3_1")
  b7 = np_basic_conv(b7, sd, m + ".branch7x7x3_2", 1, (0, 3))
  b7 = np_basic_conv(b7, sd, m + ".branch7x7x3_3", 1, (3, 0))
  b7 = np_basic_conv(b7, sd, m + ".branch7x7x3_4", 2)
  return np.concatenate([b3, b7, np_pool3x3(x, 2, 0, "max")], -1)


def np_block_e(x, sd, m, pool):
  b1 = np_basic_conv(x, sd, m + ".branch1x1")
  b3 = np_basic_conv(x, sd, m + ".branch3x3_1")
  b3 = np.concatenate([np_basic_conv(b3, sd, m + ".branch3x3_2a", 1, (0, 1)),
                       np_basic_conv(b3, sd, m + ".branch3x3_2b", 1, (1, 0))], -1)
  bd = np_basic_conv(x, sd, m + ".branch3x3dbl_1")
  bd = np_basic_conv(bd, sd, m + ".branch3x3dbl_2", 1, (1, 1))
  bd = np.concatenate([np_basic_conv(bd, sd, m + ".branch3x3dbl_3a", 1, (0, 1)),
                       np_basic_conv(bd, sd, m + ".branch3x3dbl_3b", 1, (1, 0))], -1)
  bp = np_basic_conv(np_pool3x3(x, 1, 1, pool), sd, m + ".branch_pool")
  return np.concatenate([b1, b3, bd, bp], -1)


def np_fid_inception(images, sd):
  """pytorch-fid's forward (resize, stem, Mixed_5b..7c, global average) and fc."""
  x = np_torch_bilinear(images.astype(np.float64), 299)
  x = np_basic_conv(x, sd, "Conv2d_1a_3x3", 2)
  x = np_basic_conv(x, sd, "Conv2d_2a_3x3")
  x = np_basic_conv(x, sd, "Conv2d_2b_3x3", 1, (1, 1))
  x = np_pool3x3(x, 2, 0, "max")
  x = np_basic_conv(x, sd, "Conv2d_3b_1x1")
  x = np_basic_conv(x, sd, "Conv2d_4a_3x3")
  x = np_pool3x3(x, 2, 0, "max")
  for m in ("Mixed_5b", "Mixed_5c", "Mixed_5d"):
    x = np_block_a(x, sd, m)
  x = np_block_b(x, sd, "Mixed_6a")
  for m in ("Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"):
    x = np_block_c(x, sd, m)
  x = np_block_d(x, sd, "Mixed_7a")
  x = np_block_e(x, sd, "Mixed_7b", "avg_valid")
  x = np_block_e(x, sd, "Mixed_7c", "max")
  pool3 = x.mean(axis=(1, 2))
  return pool3, pool3 @ sd["fc.weight"].T.astype(np.float64) + sd["fc.bias"]


# ------------------------------------------------------------------------------------------------
# Numerics.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(32, 32), (7, 5), (400, 350), (299, 299)])
def test_resize_matches_torch_bilinear(size):
  x = np.random.default_rng(0).standard_normal((1, *size, 3)).astype(np.float32)
  got = np.asarray(jax.jit(inception.resize_to_inception_input)(x))
  np.testing.assert_allclose(got, np_torch_bilinear(x.astype(np.float64), 299), atol=2e-5)


def test_pool_branches():
  x = jnp.asarray(np.random.default_rng(0).standard_normal((1, 4, 5, 2)), jnp.float32)
  # count_include_pad=False: a constant stays constant at the border too.
  np.testing.assert_allclose(network._avg_pool_3x3_valid_only(jnp.ones((1, 4, 5, 2))), 1.0)
  np.testing.assert_allclose(network._avg_pool_3x3_valid_only(x),
                             np_pool3x3(np.asarray(x), 1, 1, "avg_valid"), rtol=1e-6, atol=1e-6)
  # Max pool with padding: padding never wins, even over negative inputs.
  np.testing.assert_array_equal(network._max_pool_3x3_same(-jnp.ones((1, 3, 3, 1))), -1.0)
  np.testing.assert_array_equal(network._max_pool_3x3_same(x), np_pool3x3(np.asarray(x), 1, 1,
                                                                            "max"))


def test_basic_conv2d_uses_pytorch_weights_with_1x7_kernel(state_dict, variables):
  # A 1x7 kernel catches a height/width mix-up in the OIHW -> HWIO transpose.
  name = "Mixed_6b.branch7x7_2"
  x = np.random.default_rng(0).standard_normal((1, 3, 9, 128)).astype(np.float32)
  layer = inception.BasicConv2d(128, (1, 7), padding=(0, 3))
  got = layer.apply({"params": variables["params"]["Mixed_6b"]["branch7x7_2"],
                     "batch_stats": variables["batch_stats"]["Mixed_6b"]["branch7x7_2"]}, x)
  np.testing.assert_allclose(got, np_basic_conv(x.astype(np.float64), state_dict, name, 1, (0, 3)),
                             rtol=1e-4, atol=1e-4)


def test_features_shape_and_match_numpy_reference(state_dict, images, forward):
  pool3, logits, _ = forward
  assert pool3.shape == (2, inception.FEATURE_DIM) and logits.shape == (2, inception.NUM_LOGITS)
  assert np.isfinite(pool3).all() and (pool3 >= 0).all() and pool3.std() > 0.1
  ref_pool3, ref_logits = np_fid_inception(images[:1], state_dict)  # One image keeps it fast.
  pool3, logits = pool3[:1], logits[:1]
  np.testing.assert_allclose(pool3, ref_pool3, rtol=1e-3, atol=1e-3 * np.abs(ref_pool3).max())
  np.testing.assert_allclose(logits, ref_logits, rtol=1e-3, atol=1e-3 * np.abs(ref_logits).max())


def test_features_are_per_example(variables, images, forward):
  pool3, _, fn = forward
  # Same shapes and static arguments as the fixture: no recompilation.
  swapped = np.asarray(fn(variables, jnp.asarray(images[::-1]), return_logits=True)[0])
  np.testing.assert_allclose(swapped, pool3[::-1], rtol=1e-5, atol=1e-5)
  assert np.abs(pool3[0] - pool3[1]).max() > 1e-3


def test_features_reject_wrong_layouts(variables):
  with pytest.raises(ValueError, match="NCHW"):
    inception.inception_features(variables, jnp.zeros((2, 3, 32, 32)))
  with pytest.raises(ValueError, match="grayscale"):
    inception.inception_features(variables, jnp.zeros((2, 32, 32, 1)))
  with pytest.raises(ValueError, match="127.5"):
    inception.inception_features(variables, jnp.zeros((2, 32, 32, 3), jnp.uint8))

