"""Tests for gan/inception.py: the FID Inception's structure, numerics and weight files.

No real weights are needed: random weights with the real names and shapes go through every path.
The forward pass is checked against an independent float64 NumPy re-implementation of
pytorch-fid's ``fid_inception_v3``, written from its PyTorch code and using the PyTorch-layout
(OIHW) weights as they are, so a wrong layout, branch order, pool kind or padding shows up as a
wrong number.
"""

import collections
import io
import os
import pickle
import struct
import sys
import types
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan import inception

# torchvision documents 27,161,264 parameters for inception_v3 (1000 classes, with the auxiliary
# head). The FID Inception drops the aux head (conv0 768*128 + BN 2*128, conv1 128*768*5*5 +
# BN 2*768, fc 768*1000 + 1000 = 3,326,696) and has 1008 classes (+8 * (2048 + 1) = 16,392).
FID_INCEPTION_NUM_PARAMS = 27_161_264 - 3_326_696 + 16_392  # = 23,850,960
NUM_BASIC_CONV2D = 94


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
# Structure.
# ------------------------------------------------------------------------------------------------


def test_state_dict_names_and_shapes_match_pytorch_fid():
  shapes = inception.expected_state_dict_shapes()
  assert len(shapes) == 5 * NUM_BASIC_CONV2D + 2
  known = {  # From pytorch-fid / torchvision module definitions.
      "Conv2d_1a_3x3.conv.weight": (32, 3, 3, 3),
      "Conv2d_4a_3x3.bn.running_var": (192,),
      "Mixed_5b.branch_pool.conv.weight": (32, 192, 1, 1),
      "Mixed_5d.branch5x5_2.conv.weight": (64, 48, 5, 5),
      "Mixed_6a.branch3x3.conv.weight": (384, 288, 3, 3),
      "Mixed_6b.branch7x7_2.conv.weight": (128, 128, 1, 7),
      "Mixed_6e.branch7x7dbl_2.conv.weight": (192, 192, 7, 1),
      "Mixed_7a.branch3x3_2.conv.weight": (320, 192, 3, 3),
      "Mixed_7b.branch3x3dbl_1.conv.weight": (448, 1280, 1, 1),
      "Mixed_7c.branch3x3_2b.conv.weight": (384, 384, 3, 1),
      "Mixed_7c.branch_pool.conv.weight": (192, 2048, 1, 1),
      "fc.weight": (1008, 2048),
      "fc.bias": (1008,),
  }
  for name, shape in known.items():
    assert shapes[name] == shape, name
  assert list(shapes)[:5] == ["Conv2d_1a_3x3.conv.weight", "Conv2d_1a_3x3.bn.weight",
                              "Conv2d_1a_3x3.bn.bias", "Conv2d_1a_3x3.bn.running_mean",
                              "Conv2d_1a_3x3.bn.running_var"]
  assert not any(name.startswith("AuxLogits") for name in shapes)
  trainable = sum(int(np.prod(s)) for n, s in shapes.items() if "running" not in n)
  assert trainable == FID_INCEPTION_NUM_PARAMS == 23_850_960


def test_flax_tree_holds_every_tensor_in_flax_layout(state_dict, variables):
  params, stats = variables["params"], variables["batch_stats"]
  assert params["Conv2d_1a_3x3"]["conv"]["kernel"].shape == (3, 3, 3, 32)  # HWIO
  assert params["Mixed_6b"]["branch7x7_2"]["conv"]["kernel"].shape == (1, 7, 128, 128)
  assert params["fc"]["kernel"].shape == (2048, 1008)
  np.testing.assert_array_equal(stats["Mixed_5b"]["branch1x1"]["bn"]["var"],
                                state_dict["Mixed_5b.branch1x1.bn.running_var"])
  np.testing.assert_array_equal(params["Mixed_5b"]["branch1x1"]["bn"]["scale"],
                                state_dict["Mixed_5b.branch1x1.bn.weight"])
  num_params = sum(x.size for x in jax.tree_util.tree_leaves(params))
  num_stats = sum(x.size for x in jax.tree_util.tree_leaves(stats))
  assert num_params == FID_INCEPTION_NUM_PARAMS
  assert num_params + num_stats == sum(v.size for v in state_dict.values())
  assert len(jax.tree_util.tree_leaves(variables)) == len(state_dict)


def test_random_state_dict_is_deterministic(state_dict):
  a, b = state_dict, inception.random_inception_state_dict(0)
  c = inception.random_inception_state_dict(1)
  name = "Mixed_6c.branch7x7_1.conv.weight"
  np.testing.assert_array_equal(a[name], b[name])
  assert not np.array_equal(a[name], c[name])
  assert all(v.dtype == np.float32 for v in a.values())


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
  np.testing.assert_allclose(inception._avg_pool_3x3_valid_only(jnp.ones((1, 4, 5, 2))), 1.0)
  np.testing.assert_allclose(inception._avg_pool_3x3_valid_only(x),
                             np_pool3x3(np.asarray(x), 1, 1, "avg_valid"), rtol=1e-6, atol=1e-6)
  # Max pool with padding: padding never wins, even over negative inputs.
  np.testing.assert_array_equal(inception._max_pool_3x3_same(-jnp.ones((1, 3, 3, 1))), -1.0)
  np.testing.assert_array_equal(inception._max_pool_3x3_same(x), np_pool3x3(np.asarray(x), 1, 1,
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


# ------------------------------------------------------------------------------------------------
# Weight files.
# ------------------------------------------------------------------------------------------------


def _assert_same_state_dict(got, want):
  assert set(got) == set(want)
  for name in want:
    np.testing.assert_array_equal(got[name], want[name], err_msg=name)


def test_npz_round_trip(tmp_path, state_dict):
  path = tmp_path / "inception.npz"
  inception.save_npz(path, state_dict)
  loaded = inception.load_inception_params(path)
  _assert_same_state_dict(inception.params_to_state_dict(loaded), state_dict)


class _FakeStorage:

  def __init__(self, key, storage_class, values):
    self.key, self.storage_class, self.values = key, storage_class, values


class _FakeTensor:
  """Pickles exactly as a torch.Tensor does: _rebuild_tensor_v2(storage, offset, size, stride,
  requires_grad, backward_hooks)."""

  def __init__(self, rebuild, storage, offset, size, stride):
    self.args = (storage, offset, size, stride, False, collections.OrderedDict())
    self.rebuild = rebuild

  def __reduce_ex__(self, protocol):
    return self.rebuild, self.args


def _fake_torch_modules():
  """Just enough of a `torch` module for pickle to write torch's global names."""
  torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

  def _rebuild_tensor_v2(*args):  # Never called: only its name is pickled.
    raise AssertionError(args)

  _rebuild_tensor_v2.__module__ = "torch._utils"
  _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
  utils._rebuild_tensor_v2 = _rebuild_tensor_v2
  torch._utils = utils
  for name in ("FloatStorage", "LongStorage"):
    setattr(torch, name, type(name, (), {"__module__": "torch"}))
  return {"torch": torch, "torch._utils": utils}


def _fake_torch_objects(state_dict, modules):
  """State dict of fake tensors, with the storage tricks real files contain."""
  torch = modules["torch"]
  rebuild = modules["torch._utils"]._rebuild_tensor_v2
  storages, tensors = [], collections.OrderedDict()

  def storage(storage_class, values):
    storages.append(_FakeStorage(str(len(storages)), storage_class, np.ascontiguousarray(values)))
    return storages[-1]

  for name, value in state_dict.items():
    if name == "fc.weight":  # Stored transposed: a non-contiguous view, stride (1, 1008).
      s = storage(torch.FloatStorage, value.T.ravel())
      tensors[name] = _FakeTensor(rebuild, s, 0, value.shape, (1, value.shape[0]))
    elif name == "fc.bias":  # Lives at an offset inside a larger storage.
      s = storage(torch.FloatStorage, np.concatenate([np.full(5, 7.0, np.float32), value]))
      tensors[name] = _FakeTensor(rebuild, s, 5, value.shape, (1,))
    else:
      s = storage(torch.FloatStorage, value.ravel())
      strides = tuple(int(np.prod(value.shape[i + 1:])) for i in range(value.ndim))
      tensors[name] = _FakeTensor(rebuild, s, 0, value.shape, strides)
    if name.endswith("bn.running_var"):  # PyTorch >= 0.4.1 adds a 0-d int64 counter per BN.
      counter = storage(torch.LongStorage, np.array([12345], np.int64))
      tensors[name.replace("running_var", "num_batches_tracked")] = _FakeTensor(
          rebuild, counter, 0, (), ())
  tensors._metadata = collections.OrderedDict([("", {"version": 1})])
  return tensors, storages


def write_fake_pth(path, state_dict, legacy):
  """Writes what torch.save(state_dict, path) writes, without torch.

  Zip format (PyTorch >= 1.6): archive/data.pkl (protocol 2, storages as persistent ids
  ('storage', torch.FloatStorage, key, 'cpu', numel)), archive/data/<key> raw little-endian bytes,
  archive/version, archive/byteorder. Legacy format: pickles of the magic number, protocol
  version 1001 and sys info, then the object (persistent ids with a 6th view_metadata entry), the
  list of storage keys, and for each storage an int64 element count and its raw bytes.
  """
  modules = _fake_torch_modules()
  saved = {name: sys.modules.get(name) for name in modules}
  sys.modules.update(modules)
  try:
    tensors, storages = _fake_torch_objects(state_dict, modules)

    class Pickler(pickle.Pickler):

      def persistent_id(self, obj):
        if isinstance(obj, _FakeStorage):
          pid = ("storage", obj.storage_class, obj.key, "cpu", obj.values.size)
          return pid + (None,) if legacy else pid
        return None

    data = io.BytesIO()
    if legacy:
      for header in (0x1950A86A20F9469CFC6C, 1001,
                     {"protocol_version": 1001, "little_endian": True,
                      "type_sizes": {"short": 2, "int": 4, "long": 4}}):
        pickle.dump(header, data, protocol=2)
    Pickler(data, protocol=2).dump(tensors)
    if legacy:
      pickle.dump([s.key for s in storages], data, protocol=2)
      for s in storages:
        data.write(struct.pack("<q", s.values.size) + s.values.tobytes())  # A little-endian host.
      path.write_bytes(data.getvalue())
      return
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
      archive.writestr("archive/data.pkl", data.getvalue())
      archive.writestr("archive/byteorder", "little")
      for s in storages:
        archive.writestr(f"archive/data/{s.key}", s.values.tobytes())
      archive.writestr("archive/version", "3\n")
  finally:
    for name, module in saved.items():
      if module is None:
        del sys.modules[name]
      else:
        sys.modules[name] = module


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_pth_without_torch(tmp_path, state_dict, legacy):
  path = tmp_path / inception.FID_WEIGHTS_FILENAME
  write_fake_pth(path, state_dict, legacy)
  raw = inception.read_state_dict(path)
  assert raw["Mixed_5b.branch1x1.bn.num_batches_tracked"].shape == ()
  assert raw["Mixed_5b.branch1x1.bn.num_batches_tracked"] == 12345
  _assert_same_state_dict(inception.params_to_state_dict(inception.load_inception_params(path)),
                          state_dict)


@pytest.mark.parametrize("use_new_zipfile_serialization", [True, False], ids=["zip", "legacy"])
def test_pth_written_by_torch(tmp_path, state_dict, use_new_zipfile_serialization):
  torch = pytest.importorskip("torch", reason="PyTorch is not installed; the torch-free reader "
                              "is tested on hand-written files in test_pth_without_torch")
  path = tmp_path / "real.pth"
  torch.save({k: torch.from_numpy(v) for k, v in state_dict.items()}, path,
             _use_new_zipfile_serialization=use_new_zipfile_serialization)
  _assert_same_state_dict(inception.read_state_dict(path), state_dict)


def test_pth_with_other_globals_is_refused(tmp_path):
  if "torch" in sys.modules or _torch_importable():
    pytest.skip("with PyTorch installed such files go to torch.load instead")
  path = tmp_path / "evil.pth"
  with zipfile.ZipFile(path, "w") as archive:
    archive.writestr("archive/data.pkl", pickle.dumps({"x": os.system}, protocol=2))
  with pytest.raises(ValueError, match="torch-free reader"):
    inception.read_state_dict(path)


def _torch_importable():
  try:
    import torch  # pylint: disable=import-outside-toplevel,unused-import
  except ImportError:
    return False
  return True


def test_missing_file_says_what_to_download(tmp_path):
  path = tmp_path / "nowhere" / inception.FID_WEIGHTS_FILENAME
  with pytest.raises(FileNotFoundError) as info:
    inception.load_inception_params(path)
  message = str(info.value)
  assert str(path) in message and inception.FID_WEIGHTS_URL in message
  assert "config.inception_weights" in message
  with pytest.raises(FileNotFoundError, match="No Inception weights file"):
    inception.load_inception_params("")
  with pytest.raises(FileNotFoundError, match="directory"):
    inception.load_inception_params(tmp_path)


def test_wrong_shape_names_the_tensor(tmp_path, state_dict):
  bad = dict(state_dict)
  name = "Mixed_6b.branch7x7_2.conv.weight"
  bad[name] = np.zeros((128, 128, 7, 1), np.float32)  # Height and width swapped.
  path = tmp_path / "bad.npz"
  inception.save_npz(path, bad)
  with pytest.raises(ValueError) as info:
    inception.load_inception_params(path)
  message = str(info.value)
  assert name in message and "(128, 128, 7, 1)" in message and "(128, 128, 1, 7)" in message
  assert str(path) in message


def test_wrong_names_are_named(state_dict):
  renamed = dict(state_dict)
  renamed["Mixed_5b.branch1x1.conv.kernel"] = renamed.pop("Mixed_5b.branch1x1.conv.weight")
  with pytest.raises(ValueError, match=r"missing tensor 'Mixed_5b.branch1x1.conv.weight'.*"
                     r"1 of the 472"):
    inception.state_dict_to_params(renamed)
  extra = dict(state_dict, **{"Mixed_5b.extra.weight": np.zeros(3, np.float32)})
  with pytest.raises(ValueError, match="unexpected tensor 'Mixed_5b.extra.weight'"):
    inception.state_dict_to_params(extra)
  torchvision = dict(state_dict, **{"AuxLogits.fc.weight": np.zeros((1000, 768), np.float32),
                                    "fc.weight": np.zeros((1000, 2048), np.float32)})
  with pytest.raises(ValueError, match=r"'fc.weight' has shape \(1000, 2048\).*torchvision"):
    inception.state_dict_to_params(torchvision)


def test_unreadable_file(tmp_path):
  path = tmp_path / "garbage.pth"
  path.write_bytes(b"definitely not weights")
  with pytest.raises(ValueError, match="Cannot read Inception weights"):
    inception.load_inception_params(path)
