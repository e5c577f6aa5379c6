"""Autoencoders as pure Flax linen modules, chosen by name from a registry of their own.

An autoencoder is not a G/D pair, so it does not go through `gan.models.registry` (whose
contract is the GAN step's). It keeps a smaller contract, written down in `Autoencoder`:

* ``model(x) -> logits``: a reconstruction of ``x`` ``[B, H, W, C]`` (pixels in [0, 1]) as
  **logits** of the same shape; the sigmoid lives in the loss (`gan.autoencoder`), as D's does.
* ``model.apply(variables, x, method="encode") -> code`` and
  ``model.apply(variables, code, method="decode") -> logits``: the two halves, so the code can be
  read off as features (`gan.studies.representations`).

Families (``config.model`` of an autoencoder config):

* ``conv_autoencoder28``: the convolutional autoencoder of the source material (the Keras blog
  "Building Autoencoders in Keras", Chollet 2016), for 28x28x1 digits, with a 4x4x8 code.

Adding one: its module, one `register(AutoencoderFamily(...))`, a config, its test.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional, Protocol, Sequence, runtime_checkable

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan.models.layers import keras_kernel_init
from gan.registry import Registry


@runtime_checkable
class Autoencoder(Protocol):
  """What `gan.autoencoder` calls on an autoencoder (a Flax linen module)."""

  def __call__(self, x: jax.Array) -> jax.Array:  # [B, H, W, C] in [0, 1] -> logits, same shape
    ...

  def encode(self, x: jax.Array) -> jax.Array:
    ...

  def decode(self, code: jax.Array) -> jax.Array:
    ...


def upsample_nearest(x: jax.Array, factor: int = 2) -> jax.Array:
  """Keras ``UpSampling2D(factor)``: every pixel repeated ``factor`` times along H and W."""
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def _conv(features: int, name: str, strides: int = 1, padding: str = "SAME") -> nn.Conv:
  # Keras Conv2D defaults: Glorot-uniform kernel, zero bias.
  return nn.Conv(features, (3, 3), (strides, strides), padding, kernel_init=keras_kernel_init,
                 name=name)


def _max_pool(x: jax.Array) -> jax.Array:
  return nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")


class ConvAutoencoder28(nn.Module):
  """The source material's convolutional autoencoder for 28x28x1 images in [0, 1].

  Encoder: Conv 16 k3 same ReLU -> max-pool 2 -> Conv 8 k3 same ReLU -> max-pool 2 -> Conv 8 k3
  stride 2 same ReLU, a 4x4x8 code (28 -> 14 -> 7 -> 4).
  Decoder: Conv 8 k3 same ReLU -> upsample 2 -> Conv 8 k3 same ReLU -> upsample 2 -> Conv 16 k3
  *valid* ReLU (16 -> 14) -> upsample 2 -> Conv 1 k3 same, returned as logits (the sigmoid is in
  the loss and in `reconstruct`). 4,385 parameters, the Keras model's count.

  Where it differs from the Keras blog: the blog's encoder ends Conv 8 k3 same ReLU ->
  MaxPooling2D(2, padding='same') (7 -> 4); the issue this model was built for pins a stride-2
  convolution there instead (a learned downsampling, the same 584 parameters and the same 4x4x8
  code). Everything else (layers, widths, the one *valid* convolution, Glorot-uniform kernels and
  zero biases, nearest-neighbour upsampling) is the blog's.
  """

  def setup(self):
    # Named in order: conv_0 .. conv_2 encode, conv_3 .. conv_6 decode.
    self.encoder_convs = [_conv(16, "conv_0"), _conv(8, "conv_1"), _conv(8, "conv_2", strides=2)]
    self.decoder_convs = [_conv(8, "conv_3"), _conv(8, "conv_4"),
                          _conv(16, "conv_5", padding="VALID"), _conv(1, "conv_6")]

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.decode(self.encode(x))

  def encode(self, x: jax.Array) -> jax.Array:
    """``[B, 28, 28, 1]`` in [0, 1] -> the code ``[B, 4, 4, 8]`` (ReLU features)."""
    first, second, third = self.encoder_convs
    h = _max_pool(nn.relu(first(x)))
    h = _max_pool(nn.relu(second(h)))
    return nn.relu(third(h))

  def decode(self, code: jax.Array) -> jax.Array:
    """The code ``[B, 4, 4, 8]`` -> reconstruction logits ``[B, 28, 28, 1]``."""
    h = code
    for conv in self.decoder_convs[:-1]:
      h = upsample_nearest(nn.relu(conv(h)))
    return self.decoder_convs[-1](h)


def reconstruct(model: nn.Module, params: Any, images: jax.Array) -> jax.Array:
  """The model's reconstruction of ``images`` as pixels in [0, 1] (sigmoid of its logits)."""
  return jax.nn.sigmoid(model.apply({"params": params}, images))


# ----------------------------------------------------------------------------------------------
# The registry.


@dataclasses.dataclass(frozen=True)
class AutoencoderFamily:
  """A registered autoencoder.

  Attributes:
    name: the name configs use (``config.model``).
    build: ``build(config, data_shape) -> module``; raises `ValueError` (naming the setting and
      what would work) for a data shape or setting it cannot take.
    description: one line for listings.
  """
  name: str
  build: Callable[[Any, Sequence[int]], nn.Module]
  description: str = ""


AUTOENCODERS = Registry[AutoencoderFamily]("autoencoder")


def register(family: AutoencoderFamily) -> AutoencoderFamily:
  """Adds ``family`` to `AUTOENCODERS` under ``family.name`` (once); returns it."""
  return AUTOENCODERS.register(family.name, family)


def get(name: str) -> AutoencoderFamily:
  """The family registered as ``name``; an `UnknownNameError` listing the valid names otherwise."""
  return AUTOENCODERS.get(name)


def names() -> tuple[str, ...]:
  """Every registered autoencoder name, in registration order."""
  return AUTOENCODERS.names()


def _build_conv_autoencoder28(config: Optional[Any], data_shape: Sequence[int]) -> nn.Module:
  del config  # the family has no settings of its own
  if tuple(data_shape) != (28, 28, 1):
    raise ValueError(f"model 'conv_autoencoder28' takes 28x28x1 images (MNIST), but the data "
                     f"shape is {tuple(data_shape)}; use it with mnist-like data.")
  return ConvAutoencoder28()


register(AutoencoderFamily(
    name="conv_autoencoder28", build=_build_conv_autoencoder28,
    description="the source material's convolutional autoencoder (Keras blog), 4x4x8 code"))
