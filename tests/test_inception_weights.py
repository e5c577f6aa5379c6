"""Tests for gan/inception/weights.py: tensor names and shapes, the Flax mapping, weight files.

No real weights are needed: random weights with the real names and shapes, written in every file
format the reader accepts (``.npz``, and ``torch.save``'s zip and legacy formats written here
without PyTorch), go through every path.
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


def test_random_state_dict_follows_its_documented_distributions(state_dict):
  conv = state_dict["Mixed_7b.branch3x3dbl_1.conv.weight"]  # 448 x 1280: 573,440 draws.
  np.testing.assert_allclose(conv.mean(), 0.0, atol=5e-3 * np.sqrt(2.0 / 1280))
  np.testing.assert_allclose(conv.std(), np.sqrt(2.0 / 1280), rtol=5e-3)  # He-normal.
  fc = state_dict["fc.weight"]
  np.testing.assert_allclose(fc.std(), np.sqrt(1.0 / 2048), rtol=5e-3)
  scale = state_dict["Mixed_7c.branch1x1.bn.weight"]  # 320 channels.
  var = state_dict["Mixed_7c.branch1x1.bn.running_var"]
  assert 0.8 <= scale.min() and scale.max() <= 1.2 and abs(scale.mean() - 1.0) < 0.02
  assert 0.5 <= var.min() and var.max() <= 1.5 and abs(var.mean() - 1.0) < 0.05
  np.testing.assert_allclose(state_dict["fc.bias"].std(), 0.1, rtol=0.1)
  assert all(v.dtype == np.float32 for v in state_dict.values())


def test_random_state_dict_is_a_function_of_its_seed(state_dict):
  again, other = inception.random_inception_state_dict(0), inception.random_inception_state_dict(1)
  name = "Mixed_6c.branch7x7_1.conv.weight"
  np.testing.assert_array_equal(again[name], state_dict[name])
  assert np.abs(other[name] - state_dict[name]).max() > 0.1


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
  assert "experiments.evaluate" in message and "--inception_weights=" in message
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
