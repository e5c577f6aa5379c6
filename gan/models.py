"""Generators and discriminators as pure Flax linen modules, built from a config by `make_models`.

Families (``config.model``):

* ``mlp``: Goodfellow et al. 2014 style fully connected G and D for flat data (the 1-D and 2-D toys,
  flattened MNIST).
* ``dcgan28``: exactly the Keras DCGAN of the seed material, for 28x28 MNIST.
* ``dcgan32`` / ``dcgan64``: Radford et al. 2015 (transposed convolutions, BatchNorm, ReLU in G,
  LeakyReLU in D, tanh output) for CIFAR-10 and CelebA-64.

Conventions shared by every family, which the train step relies on:

* ``G(z, labels=None, train=...)`` maps latents ``[B, latent_dim]`` to data ``[B, *data_shape]``.
* ``D(x, labels=None, train=..., dropout_keys=None)`` returns one **logit** per example, ``[B]``;
  the sigmoid lives in the loss. Dropout draws its mask from ``dropout_keys``, one PRNG key per
  example, so a mask depends only on the example and never on how the batch is split across devices.
* BatchNorm statistics live in the ``batch_stats`` collection; ``axis_name`` (a module field, set by
  the train step with ``.clone(axis_name=...)``) makes them global-batch statistics under pmap.
* With ``num_classes > 0`` every family is class conditional: G concatenates a label embedding to z,
  D is a projection discriminator (Miyato & Koyama 2018).
* D's input shape is whatever the data is (a setting, not a constant), so packing m samples into one
  D input (PacGAN) only changes the data shape D sees.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

MODEL_FAMILIES = ("mlp", "dcgan28", "dcgan32", "dcgan64")

# Keras defaults, so dcgan28 is the seed's model and not merely one like it.
_keras_kernel_init = nn.initializers.glorot_uniform()
_KERAS_BN = dict(momentum=0.99, epsilon=1e-3)
# Radford et al. 2015: all weights from N(0, 0.02); BatchNorm scale from N(1, 0.02).
_dcgan_kernel_init = nn.initializers.normal(0.02)


def _dcgan_scale_init(key, shape, dtype=jnp.float32):
  return 1.0 + 0.02 * jax.random.normal(key, shape, dtype)


def _fmix32(x: jax.Array) -> jax.Array:
  """MurmurHash3's 32-bit finaliser: a bijective avalanche mix of uint32 values."""
  x = x ^ (x >> 16)
  x = x * jnp.uint32(0x85EBCA6B)
  x = x ^ (x >> 13)
  x = x * jnp.uint32(0xC2B2AE35)
  return x ^ (x >> 16)


def example_dropout(x: jax.Array, rate: float, keys: Optional[jax.Array], salt: int) -> jax.Array:
  """Inverted dropout whose mask for example i depends only on ``keys[i]`` and ``salt``.

  With ``keys=None`` (evaluation) it is the identity. Drawing per example is what makes a step on
  eight devices compute the very masks one device computes for the same global batch.

  Each example draws two 32-bit seeds from its key with threefry (``fold_in(keys[i], salt)``); the
  mask bits are then a counter-based hash of (element index, seeds), two rounds of MurmurHash3's
  finaliser. On a CPU this is ~20x cheaper than threefry bits per element (threefry per element
  cost a third of a dcgan28 step), and the quality is ample for Bernoulli masks.
  """
  if keys is None or rate == 0.0:
    return x
  keep_prob = 1.0 - rate
  seeds = jax.vmap(lambda k: jax.random.bits(jax.random.fold_in(k, salt), (2,), jnp.uint32))(keys)
  index = jnp.arange(math.prod(x.shape[1:]), dtype=jnp.uint32).reshape(x.shape[1:])
  expand = (slice(None),) + (None,) * (x.ndim - 1)
  bits = _fmix32(index * jnp.uint32(0x9E3779B9) ^ seeds[:, 0][expand])
  bits = _fmix32(bits ^ seeds[:, 1][expand])
  keep = bits < jnp.uint32(min(int(keep_prob * 2.0 ** 32), 2 ** 32 - 1))
  return jnp.where(keep, x / keep_prob, jnp.zeros_like(x))


def upsample_phase_kernel(kernel: jax.Array) -> jax.Array:
  """Rewrites a k x k kernel applied after nearest x2 upsampling as a per-phase kernel.

  Nearest upsampling by 2 followed by a stride-1 'SAME' k x k convolution equals, exactly, one
  convolution on the *low-resolution* input with a ``t x t`` kernel (t = 3 for k = 5) whose
  ``4 * C_out`` outputs are the four output phases, followed by depth-to-space. Output pixel
  ``2i + a`` reads upsampled pixels ``2i + a + u - p`` (``p = k // 2``), i.e. low-resolution pixel
  ``i + floor((a + u - p) / 2)``, so kernel taps that land on the same low-resolution pixel are
  summed. For k = 5 that is 36 instead of 100 multiply-adds per (input, output) pixel pair.

  Args:
    kernel: ``[k, k, C_in, C_out]``, k odd.

  Returns:
    ``[t, t, C_in, 4 * C_out]``, output channels ordered (row phase, column phase, C_out).
  """
  k = kernel.shape[0]
  pad = k // 2
  # offsets[a][u]: which low-res pixel (relative to i) tap u of phase a reads.
  offsets = [[(a + u - pad) // 2 for u in range(k)] for a in (0, 1)]
  lo = min(min(o) for o in offsets)
  hi = max(max(o) for o in offsets)
  taps = hi - lo + 1
  select = jnp.array([[[1.0 if offsets[a][u] - lo == t else 0.0 for u in range(k)]
                       for t in range(taps)] for a in (0, 1)], dtype=kernel.dtype)  # [2, t, k]
  phase = jnp.einsum("atu,bsv,uvio->tsioab", select, select, kernel)
  c_in, c_out = kernel.shape[2], kernel.shape[3]
  return jnp.transpose(phase, (0, 1, 2, 4, 5, 3)).reshape(taps, taps, c_in, 4 * c_out)


class UpsampleConv(nn.Module):
  """Nearest-neighbour x2 upsampling then a stride-1 'SAME' convolution (Keras UpSampling2D+Conv2D).

  ``phase_decomposed=True`` computes the identical function with `upsample_phase_kernel` (about
  2.8x fewer FLOPs for k = 5); the parameters are the same either way, so a checkpoint does not
  care which form trained it.
  """
  features: int
  kernel_size: int = 5
  phase_decomposed: bool = True
  kernel_init: Any = _keras_kernel_init

  @nn.compact
  def __call__(self, x):
    c_in = x.shape[-1]
    kernel = self.param("kernel", self.kernel_init,
                        (self.kernel_size, self.kernel_size, c_in, self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    dn = ("NHWC", "HWIO", "NHWC")
    if not self.phase_decomposed:
      up = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
      y = jax.lax.conv_general_dilated(up, kernel, (1, 1), "SAME", dimension_numbers=dn)
      return y + bias
    phase_kernel = upsample_phase_kernel(kernel)
    taps = phase_kernel.shape[0]
    # Which low-res rows the t taps cover: [lo, lo + t); pad so output i sees them.
    lo = -(self.kernel_size // 2) // 2
    hi = lo + taps - 1
    y = jax.lax.conv_general_dilated(x, phase_kernel, (1, 1), [(-lo, hi), (-lo, hi)],
                                     dimension_numbers=dn)
    b, h, w, _ = y.shape
    y = y.reshape(b, h, w, 2, 2, self.features)
    y = jnp.transpose(y, (0, 1, 3, 2, 4, 5)).reshape(b, 2 * h, 2 * w, self.features)
    return y + bias


def _conditioned_latent(z, labels, num_classes, embed_dim):
  if num_classes <= 0:
    return z
  if labels is None:
    raise ValueError("This generator is class conditional (num_classes > 0): pass labels.")
  return jnp.concatenate([z, nn.Embed(num_classes, embed_dim, name="label_embed")(labels)], -1)


def _projection(features, logits, labels, num_classes):
  """Projection discriminator term <embed(y), phi(x)> (Miyato & Koyama 2018)."""
  if num_classes <= 0:
    return logits
  if labels is None:
    raise ValueError("This discriminator is class conditional (num_classes > 0): pass labels.")
  embed = nn.Embed(num_classes, features.shape[-1], name="label_projection")(labels)
  return logits + jnp.sum(embed * features, axis=-1)


class MLPGenerator(nn.Module):
  """Fully connected generator (Goodfellow et al. 2014, Sec. 5), ReLU hidden layers."""
  data_shape: Sequence[int]
  hidden: Sequence[int] = (256, 256)
  output_activation: str = "tanh"  # 'tanh' for images in [-1, 1], 'linear' for toys
  num_classes: int = 0
  axis_name: Optional[str] = None  # unused: no BatchNorm; kept for a uniform interface

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    h = _conditioned_latent(z, labels, self.num_classes, 16)
    for i, width in enumerate(self.hidden):
      h = nn.relu(nn.Dense(width, name=f"hidden_{i}")(h))
    out = nn.Dense(math.prod(self.data_shape), name="out")(h)
    if self.output_activation == "tanh":
      out = jnp.tanh(out)
    return out.reshape((z.shape[0],) + tuple(self.data_shape))


class MLPDiscriminator(nn.Module):
  """Fully connected discriminator, LeakyReLU(0.2) hidden layers with optional dropout."""
  hidden: Sequence[int] = (256, 256)
  dropout_rate: float = 0.0
  num_classes: int = 0
  axis_name: Optional[str] = None
  uses_batchnorm = False

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True, dropout_keys=None):
    h = x.reshape(x.shape[0], -1)
    for i, width in enumerate(self.hidden):
      h = nn.leaky_relu(nn.Dense(width, name=f"hidden_{i}")(h), 0.2)
      h = example_dropout(h, self.dropout_rate, dropout_keys, salt=i)
    logits = nn.Dense(1, name="out")(h)[:, 0]
    return _projection(h, logits, labels, self.num_classes)


class DCGAN28Generator(nn.Module):
  """The seed's Keras DCGAN generator for 28x28x1 images.

  Dense(128*7*7) -> LeakyReLU(0.2) -> BatchNorm -> reshape 7x7x128 -> nearest upsample x2 ->
  Conv 64 k5 same -> BatchNorm -> LeakyReLU(0.2) -> upsample x2 -> Conv 1 k5 same -> tanh.
  852,609 trainable parameters (Keras counts 865,281 with the BatchNorm moving statistics).
  """
  num_classes: int = 0
  phase_decomposed: bool = True
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    bn = lambda name: nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name,
                                   name=name, **_KERAS_BN)
    h = _conditioned_latent(z, labels, self.num_classes, 16)
    h = nn.Dense(128 * 7 * 7, kernel_init=_keras_kernel_init, name="dense")(h)
    h = bn("bn_0")(nn.leaky_relu(h, 0.2))
    h = h.reshape(h.shape[0], 7, 7, 128)
    h = UpsampleConv(64, 5, self.phase_decomposed, name="upconv_0")(h)
    h = nn.leaky_relu(bn("bn_1")(h), 0.2)
    h = UpsampleConv(1, 5, self.phase_decomposed, name="upconv_1")(h)
    return jnp.tanh(h)


class DCGAN28Discriminator(nn.Module):
  """The seed's Keras DCGAN discriminator for 28x28 images, returning a logit.

  Conv 64 k5 s2 same -> LeakyReLU(0.2) -> Dropout 0.3 -> Conv 128 k5 s2 same -> LeakyReLU(0.2) ->
  Dropout 0.3 -> Flatten -> Dense 1. 212,865 parameters.
  """
  dropout_rate: float = 0.3
  num_classes: int = 0
  axis_name: Optional[str] = None
  uses_batchnorm = False

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True, dropout_keys=None):
    conv = lambda f, name: nn.Conv(f, (5, 5), (2, 2), "SAME", kernel_init=_keras_kernel_init,
                                   name=name)
    h = nn.leaky_relu(conv(64, "conv_0")(x), 0.2)
    h = example_dropout(h, self.dropout_rate, dropout_keys if train else None, salt=0)
    h = nn.leaky_relu(conv(128, "conv_1")(h), 0.2)
    h = example_dropout(h, self.dropout_rate, dropout_keys if train else None, salt=1)
    h = h.reshape(h.shape[0], -1)
    logits = nn.Dense(1, kernel_init=_keras_kernel_init, name="out")(h)[:, 0]
    return _projection(h, logits, labels, self.num_classes)


class DCGANGenerator(nn.Module):
  """Radford et al. 2015 generator: project to 4x4, then stride-2 transposed convs up to size.

  32x32: 4 -> 8 -> 16 -> 32 (widths 4f, 2f, then channels); 64x64 adds one more (f).
  """
  image_size: int = 64
  channels: int = 3
  width: int = 64  # f: the last hidden layer's width (ngf)
  num_classes: int = 0
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    n_up = int(math.log2(self.image_size // 4))
    bn = lambda name: nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name,
                                   momentum=0.9, epsilon=1e-5, scale_init=_dcgan_scale_init,
                                   name=name)
    h = _conditioned_latent(z, labels, self.num_classes, 16)
    top = self.width * 2 ** (n_up - 1)
    h = nn.Dense(4 * 4 * top, kernel_init=_dcgan_kernel_init, name="project")(h)
    h = nn.relu(bn("bn_project")(h.reshape(h.shape[0], 4, 4, top)))
    for i in range(n_up - 1):
      h = nn.ConvTranspose(top // 2 ** (i + 1), (4, 4), (2, 2), "SAME",
                           kernel_init=_dcgan_kernel_init, name=f"deconv_{i}")(h)
      h = nn.relu(bn(f"bn_{i}")(h))
    h = nn.ConvTranspose(self.channels, (4, 4), (2, 2), "SAME", kernel_init=_dcgan_kernel_init,
                         name="deconv_out")(h)
    return jnp.tanh(h)


class DCGANDiscriminator(nn.Module):
  """Radford et al. 2015 discriminator: stride-2 4x4 convs down to 4x4, LeakyReLU(0.2), BatchNorm
  on all but the first layer, then a linear logit."""
  image_size: int = 64
  width: int = 64  # ndf
  num_classes: int = 0
  axis_name: Optional[str] = None
  uses_batchnorm = True

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True, dropout_keys=None):
    n_down = int(math.log2(self.image_size // 4))
    h = x
    for i in range(n_down):
      h = nn.Conv(self.width * 2 ** i, (4, 4), (2, 2), "SAME", kernel_init=_dcgan_kernel_init,
                  use_bias=(i == 0), name=f"conv_{i}")(h)
      if i > 0:
        h = nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name, momentum=0.9,
                         epsilon=1e-5, scale_init=_dcgan_scale_init, name=f"bn_{i}")(h)
      h = nn.leaky_relu(h, 0.2)
    h = h.reshape(h.shape[0], -1)
    logits = nn.Dense(1, kernel_init=_dcgan_kernel_init, name="out")(h)[:, 0]
    return _projection(h, logits, labels, self.num_classes)


def make_models(config: ml_collections.ConfigDict):
  """Builds ``(generator, discriminator)`` for ``config.model``.

  Reads ``config.model``, ``config.data_shape``, ``config.num_classes`` (0 = unconditional) and the
  family's own fields (``mlp_hidden``, ``mlp_output``, ``d_dropout``, ``model_width``,
  ``phase_decomposed_upsample``) where present.
  """
  family = config.model
  data_shape = tuple(config.data_shape)
  num_classes = int(config.get("num_classes", 0))
  if family == "mlp":
    hidden = tuple(config.get("mlp_hidden", (256, 256)))
    return (MLPGenerator(data_shape, hidden, config.get("mlp_output", "tanh"), num_classes),
            MLPDiscriminator(hidden, config.get("d_dropout", 0.0), num_classes))
  if family == "dcgan28":
    if data_shape[:2] != (28, 28):
      raise ValueError(f"model 'dcgan28' makes 28x28 images, but the data shape is {data_shape}; "
                       "use it with mnist-like data or pick dcgan32/dcgan64/mlp.")
    if data_shape[2] != 1:
      raise ValueError(f"model 'dcgan28' makes 1-channel images, but the data shape is "
                       f"{data_shape}.")
    return (DCGAN28Generator(num_classes, config.get("phase_decomposed_upsample", True)),
            DCGAN28Discriminator(config.get("d_dropout", 0.3), num_classes))
  if family in ("dcgan32", "dcgan64"):
    size = int(family[len("dcgan"):])
    if data_shape[:2] != (size, size):
      raise ValueError(f"model {family!r} makes {size}x{size} images, but the data shape is "
                       f"{data_shape}.")
    width = int(config.get("model_width", 64))
    return (DCGANGenerator(size, data_shape[2], width, num_classes),
            DCGANDiscriminator(size, width, num_classes))
  raise ValueError(f"Unknown model {family!r}; valid models are: {', '.join(MODEL_FAMILIES)}.")
