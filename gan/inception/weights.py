"""The FID Inception's weights: reading the pytorch-fid file without PyTorch, and naming its tensors.

Two jobs, both about the file ``pt_inception-2015-12-05-6726825d.pth`` (`FID_WEIGHTS_URL`):

* reading it: a restricted unpickler rebuilds the tensors of ``torch.save``'s zip format
  (PyTorch >= 1.6) and of its older "legacy" format as NumPy arrays, and refuses every other
  global, so nothing in the file can run code; only a file using a construct that reader does not
  know goes to ``torch.load`` (if PyTorch is installed). A ``.npz`` of the same tensors
  (`save_npz`) reads too, fastest;
* mapping it: PyTorch names and layouts (``Mixed_6b.branch7x7_2.conv.weight``, OIHW) to the Flax
  variables of `gan.inception.network.InceptionV3` (``params["Mixed_6b"]["branch7x7_2"]["conv"]
  ["kernel"]``, HWIO) and back, checking every name and shape on the way in.

`load_inception_params` does both. This module never downloads anything.

References:
  Seitzer 2020, pytorch-fid, https://github.com/mseitzer/pytorch-fid (the weights file, ported
  from TF's inception-2015-12-05.tgz).
"""

from __future__ import annotations

import collections
import functools
import io
import os
import pickle
import struct
import sys
import zipfile
from typing import Any, Callable, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from gan.errors import BadFileError, MissingFileError
from gan.inception.network import INPUT_SIZE, InceptionV3

FID_WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
FID_WEIGHTS_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                   + FID_WEIGHTS_FILENAME)

_HOW_TO_GET_WEIGHTS = (
    f"FID and IS need the FID Inception weights: download {FID_WEIGHTS_FILENAME} from "
    f"{FID_WEIGHTS_URL} and pass its path, e.g. python -m experiments.evaluate --workdir=RUN "
    f"--inception_weights=/path/to/{FID_WEIGHTS_FILENAME} (a .npz of the same tensors, "
    "written by gan.inception.save_npz, works too).")

# ------------------------------------------------------------------------------------------------
# PyTorch names <-> Flax variables.
# ------------------------------------------------------------------------------------------------

# Flax leaf name -> (PyTorch suffix) by collection. Kernels also change layout.
_FLAX_TO_TORCH_LEAF = {
    ("params", "kernel"): "weight",
    ("params", "scale"): "weight",
    ("params", "bias"): "bias",
    ("batch_stats", "mean"): "running_mean",
    ("batch_stats", "var"): "running_var",
}
# PyTorch Conv2d weights are [out, in, kh, kw] (OIHW), Linear weights [out, in]; Flax kernels are
# HWIO and [in, out].
_TORCH_TO_FLAX_AXES = {4: (2, 3, 1, 0), 2: (1, 0)}
_FLAX_TO_TORCH_AXES = {4: (3, 2, 0, 1), 2: (1, 0)}


def _leaves_in_creation_order(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()):
  # jax.tree_util sorts dict keys; Flax dicts keep the order in which layers were created.
  for key, value in tree.items():
    if isinstance(value, Mapping):
      yield from _leaves_in_creation_order(value, prefix + (key,))
    else:
      yield prefix + (key,), value


@functools.lru_cache(maxsize=None)
def _name_table() -> tuple[tuple[str, str, tuple[str, ...], tuple[int, ...]], ...]:
  """(torch name, collection, flax path, torch shape) for every tensor, in network order."""
  creation_order = {}

  def init(key, images):
    variables = InceptionV3().init(key, images)
    # Inside the trace the dicts still list layers in creation (= PyTorch state-dict) order;
    # eval_shape's output would come back with sorted keys.
    for collection in ("params", "batch_stats"):
      for path, _ in _leaves_in_creation_order(variables[collection]):
        creation_order.setdefault(path[:-1], len(creation_order))
    return variables

  abstract = jax.eval_shape(init, jax.random.PRNGKey(0),
                            jax.ShapeDtypeStruct((1, INPUT_SIZE, INPUT_SIZE, 3), jnp.float32))
  table = []
  for collection in ("params", "batch_stats"):
    for path, leaf in _leaves_in_creation_order(abstract[collection]):
      suffix = _FLAX_TO_TORCH_LEAF[(collection, path[-1])]
      shape = tuple(leaf.shape)
      if path[-1] == "kernel":
        shape = tuple(shape[a] for a in _FLAX_TO_TORCH_AXES[len(shape)])
      table.append((".".join(path[:-1] + (suffix,)), collection, path, shape))
  # PyTorch's order within a BasicConv2d: conv.weight, bn.weight, bn.bias, bn.running_mean,
  # bn.running_var; within fc: weight, bias.
  within = {"kernel": 0, "scale": 1, "bias": 2, "mean": 3, "var": 4}
  table.sort(key=lambda row: (creation_order[row[2][:-1]], within[row[2][-1]]))
  return tuple(table)


def expected_state_dict_shapes() -> dict[str, tuple[int, ...]]:
  """The PyTorch tensor names and shapes of the FID Inception, in network order.

  472 tensors: for each of the 94 ``BasicConv2d`` layers ``<layer>.conv.weight`` (OIHW) and
  ``<layer>.bn.{weight,bias,running_mean,running_var}``, then ``fc.weight`` ``(1008, 2048)`` and
  ``fc.bias``. (``*.bn.num_batches_tracked`` counters, present in files written by PyTorch >= 0.4.1,
  are accepted and ignored.)

  Returns:
    An ordered dict from name to shape.
  """
  return {name: shape for name, _, _, shape in _name_table()}


def _is_ignored_name(name: str) -> bool:
  return name.endswith(".num_batches_tracked")


def _torchvision_hint(names: Sequence[str]) -> str:
  if any(n.startswith("AuxLogits.") for n in names):
    return (" The file has AuxLogits.* tensors: it looks like torchvision's ImageNet Inception "
            "(inception_v3_google-*.pth), which gives different FIDs. Use "
            f"{FID_WEIGHTS_FILENAME} from {FID_WEIGHTS_URL}.")
  return ""


def state_dict_to_params(state_dict: Mapping[str, Any]) -> dict[str, Any]:
  """Checks a PyTorch-named state dict and maps it to the Flax variables of `InceptionV3`.

  Conv weights go from OIHW to HWIO, ``fc.weight`` is transposed, BatchNorm ``weight``/``bias``
  become ``scale``/``bias`` in ``params`` and ``running_mean``/``running_var`` become
  ``mean``/``var`` in ``batch_stats``. Everything is cast to float32.

  Args:
    state_dict: mapping from PyTorch name (e.g. ``"Conv2d_1a_3x3.conv.weight"``) to array.

  Returns:
    ``{"params": ..., "batch_stats": ...}`` as nested dicts of ``jax.Array``.

  Raises:
    ValueError: naming the first tensor (in network order) that is missing or has the wrong shape,
      or else the first unexpected tensor.
  """
  names = [n for n in state_dict if not _is_ignored_name(n)]
  hint = _torchvision_hint(names)
  table = _name_table()
  for name, _, _, shape in table:
    if name not in state_dict:
      missing = sum(1 for row in table if row[0] not in state_dict)
      raise ValueError(
          f"Inception weights are missing tensor {name!r} (expected shape {shape}); "
          f"{missing} of the {len(table)} expected tensors are missing. The weights must be "
          f"pytorch-fid's FID Inception ({FID_WEIGHTS_FILENAME}) or a .npz with its names."
          + hint)
    got = tuple(np.shape(state_dict[name]))
    if got != shape:
      raise ValueError(
          f"Inception weight {name!r} has shape {got}, but the FID Inception expects {shape} "
          f"(PyTorch layout: conv weights are [out, in, kh, kw], fc.weight is [out, in])." + hint)
  expected = {row[0] for row in table}
  unexpected = [n for n in names if n not in expected]
  if unexpected:
    raise ValueError(
        f"Inception weights have unexpected tensor {unexpected[0]!r} "
        f"({len(unexpected)} unexpected in all); the FID Inception has exactly "
        f"{len(table)} tensors (see gan.inception.expected_state_dict_shapes())." + hint)

  variables: dict[str, Any] = {"params": {}, "batch_stats": {}}
  for name, collection, path, _ in table:
    value = np.asarray(state_dict[name], dtype=np.float32)
    if path[-1] == "kernel":
      value = value.transpose(_TORCH_TO_FLAX_AXES[value.ndim])
    node = variables[collection]
    for key in path[:-1]:
      node = node.setdefault(key, {})
    node[path[-1]] = np.ascontiguousarray(value)
  # One transfer for the whole tree (jnp.asarray per array would compile a copy per shape).
  return jax.device_put(variables)


def params_to_state_dict(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """The inverse of `state_dict_to_params`: Flax variables to PyTorch names and layouts.

  Args:
    params: ``{"params": ..., "batch_stats": ...}`` of `InceptionV3`.

  Returns:
    An ordered dict from PyTorch name to float32 NumPy array.
  """
  state_dict = {}
  for name, collection, path, _ in _name_table():
    node = params[collection]
    for key in path:
      node = node[key]
    value = np.asarray(node, dtype=np.float32)
    if path[-1] == "kernel":
      value = value.transpose(_FLAX_TO_TORCH_AXES[value.ndim])
    state_dict[name] = value
  return state_dict


def random_inception_state_dict(seed: int) -> dict[str, np.ndarray]:
  """Random weights with the names and shapes of the FID Inception file, for tests.

  Conv weights are He-normal and BatchNorm statistics near the identity, so activations stay
  O(1) through the 94 layers and features are finite and non-trivial. Deterministic in ``seed``.

  Args:
    seed: NumPy seed.

  Returns:
    An ordered dict from PyTorch name to float32 array in PyTorch layout.

  References:
    He et al. 2015, "Delving Deep into Rectifiers" (the conv weight scale).
  """
  rng = np.random.default_rng(seed)
  state_dict = {}
  for name, shape in expected_state_dict_shapes().items():
    if name.endswith("conv.weight"):
      fan_in = int(np.prod(shape[1:]))
      value = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(2.0 / fan_in))
    elif name.endswith("bn.weight"):
      value = rng.uniform(0.8, 1.2, shape).astype(np.float32)
    elif name.endswith("bn.running_var"):
      value = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    elif name == "fc.weight":
      value = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(1.0 / shape[1]))
    else:  # bn.bias, bn.running_mean, fc.bias
      value = 0.1 * rng.standard_normal(shape, dtype=np.float32)
    state_dict[name] = value
  return state_dict


# ------------------------------------------------------------------------------------------------
# Files: .npz and PyTorch .pth, read without PyTorch.
# ------------------------------------------------------------------------------------------------


def save_npz(path: str | os.PathLike, state_dict: Mapping[str, Any]) -> None:
  """Writes a name -> array mapping to ``path`` (exactly that path; no suffix is added).

  Args:
    path: output file, conventionally ``*.npz``.
    state_dict: e.g. `read_state_dict` of the ``.pth`` file, or `params_to_state_dict`.
  """
  arrays = {name: np.asarray(value) for name, value in state_dict.items()}
  with open(path, "wb") as f:
    np.savez(f, **arrays)


class _UnsupportedPickle(Exception):
  """A .pth uses a pickle construct the torch-free reader does not rebuild."""


_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "BFloat16Storage": jnp.bfloat16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
# torch.serialization's legacy (pre-zip) format: three small pickles, the object, the storage keys.
_LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL_VERSION = 1001


class _StorageType:
  """Stands in for ``torch.FloatStorage`` etc. while unpickling."""

  def __init__(self, name: str):
    self.name = name
    self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _Storage:
  """A flat typed buffer; for the legacy format its bytes arrive after the pickle."""

  def __init__(self, dtype: np.dtype, array: Optional[np.ndarray] = None):
    self.dtype = dtype
    self.array = array


class _StorageView:

  def __init__(self, root: _Storage, offset: int = 0):
    self.root = root
    self.offset = offset


class _LazyTensor:
  """``torch._utils._rebuild_tensor_v2``'s arguments, materialised once storages are read."""

  def __init__(self, storage: _StorageView, offset: int, size: Sequence[int],
               stride: Sequence[int]):
    self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

  def materialize(self) -> np.ndarray:
    flat = self.storage.root.array
    if flat is None:
      raise ValueError("Corrupt .pth file: a tensor's storage was never written.")
    start = self.storage.offset + self.offset
    if any(n == 0 for n in self.size):
      return np.zeros(self.size, flat.dtype)
    last = start + sum((n - 1) * s for n, s in zip(self.size, self.stride))
    if start < 0 or last >= flat.size or any(s < 0 for s in self.stride):
      raise ValueError("Corrupt .pth file: a tensor reaches outside its storage.")
    strided = np.lib.stride_tricks.as_strided(
        flat[start:], shape=self.size, strides=[s * flat.itemsize for s in self.stride],
        writeable=False)
    return np.array(strided)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
  del requires_grad, backward_hooks, metadata
  return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
  return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
  del requires_grad, backward_hooks, state
  return data


def _rebuild_from_type_v2(func, new_type, args, state):
  del new_type, state
  return func(*args)


_TENSOR_TYPE_MARKER = object()
_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Tensor"): _TENSOR_TYPE_MARKER,
    ("torch.nn.parameter", "Parameter"): _TENSOR_TYPE_MARKER,
}


class _RestrictedUnpickler(pickle.Unpickler):
  """Rebuilds tensors as NumPy arrays; refuses every other global (no code runs from the file)."""

  def __init__(self, file, load_storage: Optional[Callable[[_StorageType, str, int], _Storage]]):
    super().__init__(file)
    self._load_storage = load_storage
    self._storages: dict[str, _Storage] = {}

  def find_class(self, module: str, name: str) -> Any:
    if (module, name) in _ALLOWED_GLOBALS:
      return _ALLOWED_GLOBALS[(module, name)]
    if module == "torch" and name in _STORAGE_DTYPES:
      return _StorageType(name)
    raise _UnsupportedPickle(f"the global {module}.{name}")

  def persistent_load(self, pid: Any) -> Any:
    if self._load_storage is None or not isinstance(pid, tuple) or not pid:
      raise _UnsupportedPickle(f"the persistent id {pid!r}")
    kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
    if kind != "storage" or len(pid) not in (5, 6) or not isinstance(pid[1], _StorageType):
      raise _UnsupportedPickle(f"the persistent id {pid!r}")
    storage_type, key, numel = pid[1], str(pid[2]), int(pid[4])
    view_metadata = pid[5] if len(pid) == 6 else None
    if key not in self._storages:
      self._storages[key] = self._load_storage(storage_type, key, numel)
    root = self._storages[key]
    if view_metadata is not None:  # Legacy storage views: (view key, element offset, size).
      return _StorageView(root, int(view_metadata[1]))
    return _StorageView(root)

  @property
  def storages(self) -> dict[str, _Storage]:
    return self._storages


def _materialize(obj: Any) -> Any:
  if isinstance(obj, _LazyTensor):
    return obj.materialize()
  if isinstance(obj, dict):
    return type(obj)((k, _materialize(v)) for k, v in obj.items())
  if isinstance(obj, (list, tuple)):
    return type(obj)(_materialize(v) for v in obj)
  return obj


def _array_from_bytes(data: bytes, dtype: np.dtype, byteorder: str) -> np.ndarray:
  if len(data) % dtype.itemsize:
    raise ValueError("Corrupt .pth file: a storage's size is not a whole number of elements.")
  flat = np.frombuffer(data, dtype=dtype)
  return flat.byteswap() if byteorder != sys.byteorder and dtype.itemsize > 1 else flat


def _read_torch_zip(archive: zipfile.ZipFile, pickle_name: str) -> Any:
  """``torch.save``'s zip format (PyTorch >= 1.6): ``<dir>/data.pkl`` plus ``<dir>/data/<key>``."""
  prefix = pickle_name[:-len("data.pkl")]
  names = set(archive.namelist())
  byteorder = "little"
  if prefix + "byteorder" in names:
    byteorder = archive.read(prefix + "byteorder").decode("ascii").strip()

  def load_storage(storage_type: _StorageType, key: str, numel: int) -> _Storage:
    del numel  # The record's length says it.
    record = prefix + "data/" + key
    if record not in names:
      raise ValueError(f"Corrupt .pth file: the storage record {record!r} is missing.")
    return _Storage(storage_type.dtype, _array_from_bytes(archive.read(record),
                                                          storage_type.dtype, byteorder))

  unpickler = _RestrictedUnpickler(io.BytesIO(archive.read(pickle_name)), load_storage)
  return _materialize(unpickler.load())


def _read_torch_legacy(f) -> Any:
  """``torch.save``'s legacy format: magic, version, sys info, object, keys, then raw storages."""

  def plain():  # The small pickles around the object hold only ints, strings and containers.
    return _RestrictedUnpickler(f, None).load()

  try:
    magic = plain()
  except Exception as e:  # Any garbage: not a pickle at all.
    raise ValueError("not a PyTorch .pth file (neither zip nor legacy torch.save format) "
                     "nor a .npz") from e
  if magic != _LEGACY_MAGIC_NUMBER:
    raise ValueError("not a PyTorch .pth file (bad magic number) nor a .npz")
  protocol_version = plain()
  if protocol_version != _LEGACY_PROTOCOL_VERSION:
    raise _UnsupportedPickle(f"legacy protocol version {protocol_version}")
  sys_info = plain()
  if isinstance(sys_info, dict) and not sys_info.get("little_endian", True):
    raise _UnsupportedPickle("a big-endian legacy file")

  def load_storage(storage_type: _StorageType, key: str, numel: int) -> _Storage:
    del key, numel
    return _Storage(storage_type.dtype)

  unpickler = _RestrictedUnpickler(f, load_storage)
  result = unpickler.load()
  storage_keys = plain()
  for key in storage_keys:
    storage = unpickler.storages.get(str(key))
    if storage is None:
      raise ValueError(f"Corrupt .pth file: unknown storage key {key!r}.")
    header = f.read(8)
    if len(header) != 8:
      raise ValueError("Corrupt .pth file: it ends before all storages were read.")
    (numel,) = struct.unpack("<q", header)
    nbytes = numel * storage.dtype.itemsize
    data = f.read(nbytes)
    if len(data) != nbytes:
      raise ValueError("Corrupt .pth file: it ends before all storages were read.")
    storage.array = _array_from_bytes(data, storage.dtype, "little")
  return _materialize(result)


def _read_with_torch(path: str) -> Any:
  import torch  # pylint: disable=import-outside-toplevel
  try:
    obj = torch.load(path, map_location="cpu", weights_only=True)
  except TypeError:  # PyTorch < 1.13 has no weights_only.
    obj = torch.load(path, map_location="cpu")

  def to_numpy(x):
    if isinstance(x, torch.Tensor):
      return x.detach().cpu().float().numpy() if x.is_floating_point() else x.cpu().numpy()
    if isinstance(x, Mapping):
      return {k: to_numpy(v) for k, v in x.items()}
    return x

  return to_numpy(obj)


def _as_state_dict(obj: Any, path: str) -> dict[str, np.ndarray]:
  if isinstance(obj, Mapping) and isinstance(obj.get("state_dict"), Mapping):
    obj = obj["state_dict"]
  if not isinstance(obj, Mapping):
    raise ValueError(f"{path!r} holds a {type(obj).__name__}, not a state dict "
                     "(a mapping from tensor name to tensor).")
  state_dict = {}
  for name, value in obj.items():
    if not isinstance(value, np.ndarray):
      raise ValueError(f"{path!r}: entry {name!r} is a {type(value).__name__}, not a tensor.")
    state_dict[str(name)] = value
  return state_dict


def _check_path(path: Optional[str | os.PathLike]) -> str:
  if path is None or str(path) == "":
    raise MissingFileError("No Inception weights file was given. " + _HOW_TO_GET_WEIGHTS)
  path = os.fspath(path)
  if not os.path.exists(path):
    raise MissingFileError(f"Inception weights file {path!r} does not exist. "
                            + _HOW_TO_GET_WEIGHTS)
  if os.path.isdir(path):
    raise MissingFileError(f"Inception weights path {path!r} is a directory; point at the file "
                            f"itself ({FID_WEIGHTS_FILENAME}). " + _HOW_TO_GET_WEIGHTS)
  return path


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """Reads a name -> array mapping from a PyTorch ``.pth`` or a ``.npz`` file.

  The format is recognised from the content, not the suffix: a zip holding ``data.pkl`` is
  ``torch.save``'s zip format, a zip of ``.npy`` files is an ``.npz``, anything else is tried as
  ``torch.save``'s legacy format. ``.pth`` files are read without PyTorch by a restricted
  unpickler that only rebuilds tensors (nothing in the file can run code); if the file uses
  something else, PyTorch is used when installed.

  Args:
    path: the weights file.

  Returns:
    A dict from name to NumPy array, in the file's order (``num_batches_tracked`` included).

  Raises:
    FileNotFoundError: the path is empty or there is no file; the message says where to get it.
    ValueError: the file is neither format, or is corrupt.
  """
  path = _check_path(path)
  try:
    if zipfile.is_zipfile(path):
      with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if pickles:
          return _as_state_dict(_read_torch_zip(archive, pickles[0]), path)
        if names and all(n.endswith(".npy") for n in names):
          with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
      raise ValueError("a zip file that is neither a PyTorch .pth nor a .npz")
    with open(path, "rb") as f:
      return _as_state_dict(_read_torch_legacy(f), path)
  except _UnsupportedPickle as e:
    try:
      import torch  # pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
      raise BadFileError(
          f"{path!r} uses {e}, which the torch-free reader does not rebuild. Install PyTorch "
          "(pip install torch) to read it, or convert it once where PyTorch is installed with "
          "gan.inception.save_npz(out, {k: v.numpy() for k, v in torch.load(path).items()}) "
          "and load the .npz.") from e
    return _as_state_dict(_read_with_torch(path), path)
  except BadFileError:
    raise
  except ValueError as e:
    if str(e).startswith(repr(path)):
      raise BadFileError(str(e)) from e
    raise BadFileError(f"Cannot read Inception weights from {path!r}: {e}. "
                       + _HOW_TO_GET_WEIGHTS) from e


def load_inception_params(path: str | os.PathLike) -> dict[str, Any]:
  """Loads the FID Inception weights for `inception_features`.

  Args:
    path: ``pt_inception-2015-12-05-6726825d.pth`` (from `FID_WEIGHTS_URL`), or a ``.npz`` with
      the same tensor names (see `save_npz`). Typically ``config.inception_weights``.

  Returns:
    Flax variables ``{"params": ..., "batch_stats": ...}`` of `InceptionV3`.

  Raises:
    FileNotFoundError: no file at ``path``; the message names the file to download and from where.
    BadFileError: unreadable file, or tensors with the wrong names or shapes (the first one is
      named with its expected and actual shape); a `ValueError`.

  References:
    Seitzer 2020, pytorch-fid (the weights file, ported from TF's inception-2015-12-05.tgz).
  """
  state_dict = read_state_dict(path)
  try:
    return state_dict_to_params(state_dict)
  except ValueError as e:
    raise BadFileError(f"{os.fspath(path)!r}: {e}") from e
