"""The FID InceptionV3 (TF graph of 2015-12-05) in Flax: its blocks, its resize, its features.

pytorch-fid's ``fid_inception_v3`` in Flax linen, inference only: `InceptionV3` (the module),
`resize_to_inception_input` (bilinear resize to 299x299 as PyTorch does it) and
`inception_features` (pool3 features and 1008-way logits of a batch, a pure function). How it
differs from torchvision's InceptionV3, and why FID needs exactly this network, is in the
`gan.inception` package docstring; its weights come from `gan.inception.weights`.

References:
  Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer Vision" (InceptionV3);
  Seitzer 2020, pytorch-fid, https://github.com/mseitzer/pytorch-fid (``fid_inception_v3``).
"""

from __future__ import annotations

import functools
from typing import Any, Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

INPUT_SIZE = 299
FEATURE_DIM = 2048
NUM_LOGITS = 1008
BATCH_NORM_EPSILON = 1e-3


class BasicConv2d(nn.Module):
  """Convolution (no bias), BatchNorm (eps 1e-3, running statistics) and ReLU.

  Attributes:
    features: output channels.
    kernel_size: ``(kh, kw)``.
    strides: ``(sh, sw)``.
    padding: symmetric zero padding ``(ph, pw)``, as PyTorch's ``Conv2d(padding=...)``.
  """
  features: int
  kernel_size: tuple[int, int]
  strides: tuple[int, int] = (1, 1)
  padding: tuple[int, int] = (0, 0)

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    ph, pw = self.padding
    # Weights always come from a file; zero initialisers keep the shape-only `init` trace cheap.
    x = nn.Conv(self.features, self.kernel_size, self.strides, padding=((ph, ph), (pw, pw)),
                use_bias=False, kernel_init=nn.initializers.zeros_init(), name="conv")(x)
    x = nn.BatchNorm(use_running_average=True, epsilon=BATCH_NORM_EPSILON, name="bn")(x)
    return nn.relu(x)


def _max_pool_3x3_stride2(x: jax.Array) -> jax.Array:
  return nn.max_pool(x, (3, 3), (2, 2), padding="VALID")


def _avg_pool_3x3_valid_only(x: jax.Array) -> jax.Array:
  # TF's AvgPool with SAME padding divides by the number of *valid* pixels in the window.
  return nn.avg_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)), count_include_pad=False)


def _max_pool_3x3_same(x: jax.Array) -> jax.Array:
  # Padding takes part as -inf, i.e. never wins, as in PyTorch's max_pool2d.
  return nn.max_pool(x, (3, 3), (1, 1), padding=((1, 1), (1, 1)))


class FIDInceptionA(nn.Module):
  """35x35 block (``Mixed_5b/c/d``) with a TF-style (valid-pixels-only) average-pool branch."""
  pool_features: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    branch1x1 = BasicConv2d(64, (1, 1), name="branch1x1")(x)
    branch5x5 = BasicConv2d(48, (1, 1), name="branch5x5_1")(x)
    branch5x5 = BasicConv2d(64, (5, 5), padding=(2, 2), name="branch5x5_2")(branch5x5)
    branch3x3dbl = BasicConv2d(64, (1, 1), name="branch3x3dbl_1")(x)
    branch3x3dbl = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(branch3x3dbl)
    branch3x3dbl = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(branch3x3dbl)
    branch_pool = BasicConv2d(self.pool_features, (1, 1), name="branch_pool")(
        _avg_pool_3x3_valid_only(x))
    return jnp.concatenate([branch1x1, branch5x5, branch3x3dbl, branch_pool], axis=-1)


class InceptionB(nn.Module):
  """35x35 -> 17x17 reduction block (``Mixed_6a``), as in torchvision."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    branch3x3 = BasicConv2d(384, (3, 3), strides=(2, 2), name="branch3x3")(x)
    branch3x3dbl = BasicConv2d(64, (1, 1), name="branch3x3dbl_1")(x)
    branch3x3dbl = BasicConv2d(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(branch3x3dbl)
    branch3x3dbl = BasicConv2d(96, (3, 3), strides=(2, 2), name="branch3x3dbl_3")(branch3x3dbl)
    return jnp.concatenate([branch3x3, branch3x3dbl, _max_pool_3x3_stride2(x)], axis=-1)


class FIDInceptionC(nn.Module):
  """17x17 block with factorised 7x7 convolutions (``Mixed_6b..e``), TF-style average pool."""
  channels_7x7: int

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    c7 = self.channels_7x7
    branch1x1 = BasicConv2d(192, (1, 1), name="branch1x1")(x)
    branch7x7 = BasicConv2d(c7, (1, 1), name="branch7x7_1")(x)
    branch7x7 = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(branch7x7)
    branch7x7 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7_3")(branch7x7)
    branch7x7dbl = BasicConv2d(c7, (1, 1), name="branch7x7dbl_1")(x)
    branch7x7dbl = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(branch7x7dbl)
    branch7x7dbl = BasicConv2d(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(branch7x7dbl)
    branch7x7dbl = BasicConv2d(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(branch7x7dbl)
    branch7x7dbl = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(branch7x7dbl)
    branch_pool = BasicConv2d(192, (1, 1), name="branch_pool")(_avg_pool_3x3_valid_only(x))
    return jnp.concatenate([branch1x1, branch7x7, branch7x7dbl, branch_pool], axis=-1)


class InceptionD(nn.Module):
  """17x17 -> 8x8 reduction block (``Mixed_7a``), as in torchvision."""

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    branch3x3 = BasicConv2d(192, (1, 1), name="branch3x3_1")(x)
    branch3x3 = BasicConv2d(320, (3, 3), strides=(2, 2), name="branch3x3_2")(branch3x3)
    branch7x7x3 = BasicConv2d(192, (1, 1), name="branch7x7x3_1")(x)
    branch7x7x3 = BasicConv2d(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(branch7x7x3)
    branch7x7x3 = BasicConv2d(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(branch7x7x3)
    branch7x7x3 = BasicConv2d(192, (3, 3), strides=(2, 2), name="branch7x7x3_4")(branch7x7x3)
    return jnp.concatenate([branch3x3, branch7x7x3, _max_pool_3x3_stride2(x)], axis=-1)


class FIDInceptionE(nn.Module):
  """8x8 block with expanded filter banks (``Mixed_7b`` / ``Mixed_7c``).

  Attributes:
    pool: ``"avg"`` for ``Mixed_7b`` (pytorch-fid's ``FIDInceptionE_1``: TF-style average pool)
      or ``"max"`` for ``Mixed_7c`` (``FIDInceptionE_2``: the TF graph max-pools here).
  """
  pool: str

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    if self.pool not in ("avg", "max"):
      raise ValueError(f"FIDInceptionE.pool must be 'avg' or 'max', got {self.pool!r}.")
    branch1x1 = BasicConv2d(320, (1, 1), name="branch1x1")(x)
    branch3x3 = BasicConv2d(384, (1, 1), name="branch3x3_1")(x)
    branch3x3 = jnp.concatenate([
        BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(branch3x3),
        BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(branch3x3),
    ], axis=-1)
    branch3x3dbl = BasicConv2d(448, (1, 1), name="branch3x3dbl_1")(x)
    branch3x3dbl = BasicConv2d(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(branch3x3dbl)
    branch3x3dbl = jnp.concatenate([
        BasicConv2d(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(branch3x3dbl),
        BasicConv2d(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(branch3x3dbl),
    ], axis=-1)
    pooled = _avg_pool_3x3_valid_only(x) if self.pool == "avg" else _max_pool_3x3_same(x)
    branch_pool = BasicConv2d(192, (1, 1), name="branch_pool")(pooled)
    return jnp.concatenate([branch1x1, branch3x3, branch3x3dbl, branch_pool], axis=-1)


@functools.lru_cache(maxsize=None)
def _bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
  """``[out_size, in_size]`` weights of PyTorch's bilinear interpolation, align_corners=False."""
  scale = in_size / out_size
  # PyTorch clamps negative source coordinates to 0 for linear modes; the upper edge repeats the
  # last pixel.
  src = np.maximum((np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5, 0.0)
  lo = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
  hi = np.minimum(lo + 1, in_size - 1)
  frac = src - lo
  weights = np.zeros((out_size, in_size), np.float64)
  rows = np.arange(out_size)
  np.add.at(weights, (rows, lo), 1.0 - frac)
  np.add.at(weights, (rows, hi), frac)
  return weights.astype(np.float32)


def resize_to_inception_input(images: jax.Array) -> jax.Array:
  """Resizes NHWC images to 299x299 as pytorch-fid does (bilinear, align_corners=False).

  Matches ``torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear",
  align_corners=False)``: two-tap linear interpolation per axis, no antialiasing when shrinking
  (unlike ``jax.image.resize``'s default). Images already 299x299 pass through unchanged.

  Args:
    images: ``[B, H, W, C]`` floats.

  Returns:
    ``[B, 299, 299, C]``.

  References:
    Seitzer 2020, pytorch-fid, ``InceptionV3.forward`` (``resize_input=True``).
  """
  _, height, width, _ = images.shape
  if (height, width) == (INPUT_SIZE, INPUT_SIZE):
    return images
  rows = jnp.asarray(_bilinear_matrix(height, INPUT_SIZE))
  cols = jnp.asarray(_bilinear_matrix(width, INPUT_SIZE))
  highest = jax.lax.Precision.HIGHEST
  images = jnp.einsum("oh,bhwc->bowc", rows, images, precision=highest)
  return jnp.einsum("pw,bowc->bopc", cols, images, precision=highest)


class InceptionV3(nn.Module):
  """pytorch-fid's ``fid_inception_v3`` (no auxiliary head, 1008 classes), inference only.

  Submodule and variable names follow the PyTorch module names (``Conv2d_1a_3x3``, ``Mixed_5b``,
  ..., ``fc``), so ``Mixed_6b.branch7x7_2.conv.weight`` lives at
  ``params["Mixed_6b"]["branch7x7_2"]["conv"]["kernel"]`` and its BatchNorm running mean at
  ``batch_stats["Mixed_6b"]["branch7x7_2"]["bn"]["mean"]``.

  Call with NHWC images in ``[-1, 1]`` of any size (they are resized to 299x299); returns
  ``(pool3, logits)``, shapes ``[B, 2048]`` and ``[B, 1008]``.

  References:
    Szegedy et al. 2016, "Rethinking the Inception Architecture for Computer Vision";
    Seitzer 2020, pytorch-fid (``fid_inception_v3`` and the ``FIDInception*`` blocks).
  """

  @nn.compact
  def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    x = resize_to_inception_input(images)
    x = BasicConv2d(32, (3, 3), strides=(2, 2), name="Conv2d_1a_3x3")(x)  # 149x149
    x = BasicConv2d(32, (3, 3), name="Conv2d_2a_3x3")(x)  # 147x147
    x = BasicConv2d(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
    x = _max_pool_3x3_stride2(x)  # 73x73
    x = BasicConv2d(80, (1, 1), name="Conv2d_3b_1x1")(x)
    x = BasicConv2d(192, (3, 3), name="Conv2d_4a_3x3")(x)  # 71x71
    x = _max_pool_3x3_stride2(x)  # 35x35
    x = FIDInceptionA(pool_features=32, name="Mixed_5b")(x)  # 256 channels
    x = FIDInceptionA(pool_features=64, name="Mixed_5c")(x)  # 288
    x = FIDInceptionA(pool_features=64, name="Mixed_5d")(x)  # 288
    x = InceptionB(name="Mixed_6a")(x)  # 17x17x768
    x = FIDInceptionC(channels_7x7=128, name="Mixed_6b")(x)
    x = FIDInceptionC(channels_7x7=160, name="Mixed_6c")(x)
    x = FIDInceptionC(channels_7x7=160, name="Mixed_6d")(x)
    x = FIDInceptionC(channels_7x7=192, name="Mixed_6e")(x)
    x = InceptionD(name="Mixed_7a")(x)  # 8x8x1280
    x = FIDInceptionE(pool="avg", name="Mixed_7b")(x)  # 8x8x2048
    x = FIDInceptionE(pool="max", name="Mixed_7c")(x)
    pool3 = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(NUM_LOGITS, kernel_init=nn.initializers.zeros_init(), name="fc")(pool3)
    return pool3, logits


def _check_images(images: Any) -> None:
  shape = getattr(images, "shape", None)
  if shape is None or len(shape) != 4:
    raise ValueError(
        f"Inception expects a batch of NHWC images [B, H, W, 3]; got shape {shape}.")
  if shape[-1] != 3:
    hint = ""
    if shape[1] == 3:
      hint = " This looks like NCHW (PyTorch layout): use images.transpose(0, 2, 3, 1)."
    elif shape[-1] == 1:
      hint = " For grayscale images repeat the channel: jnp.repeat(images, 3, axis=-1)."
    raise ValueError(
        f"Inception expects RGB images with 3 channels last, [B, H, W, 3]; got shape {shape}."
        + hint)
  if not jnp.issubdtype(images.dtype, jnp.floating):
    raise ValueError(
        f"Inception expects float images in [-1, 1]; got dtype {images.dtype}. "
        "Map uint8 images with images / 127.5 - 1.")


def inception_features(params: Mapping[str, Any], images: jax.Array,
                       return_logits: bool = False):
  """Pool3 features (for FID) and optionally the 1008-way logits (for IS) of a batch.

  A pure function of its arguments: jit it with ``static_argnames="return_logits"`` and pass the
  weights as an argument (not a closed-over constant, which would bake 95 MB into the program).
  Examples never interact (BatchNorm uses its running statistics), so batches can be any size.

  Args:
    params: the Flax variables ``{"params": ..., "batch_stats": ...}`` from
      `load_inception_params` (or `state_dict_to_params`).
    images: ``[B, H, W, 3]`` floats in ``[-1, 1]``; resized to 299x299 as pytorch-fid does.
    return_logits: also return the ``fc`` logits.

  Returns:
    ``pool3`` of shape ``[B, 2048]`` (non-negative: averages of ReLU outputs), or
    ``(pool3, logits)`` with logits ``[B, 1008]`` when ``return_logits``.

  References:
    Heusel et al. 2017 (FID, pool3 features); Salimans et al. 2016 (IS, class logits);
    Seitzer 2020, pytorch-fid.
  """
  _check_images(images)
  pool3, logits = InceptionV3().apply(params, images.astype(jnp.float32))
  return (pool3, logits) if return_logits else pool3
