"""DCGAN families: the seed material's Keras DCGAN (``dcgan28``, 28x28 with any number of
channels: MNIST, Stacked MNIST) and Radford et al. 2015 (``dcgan32`` for CIFAR-10, ``dcgan64`` for
CelebA-64)."""

from __future__ import annotations

import functools
import math
from typing import Optional

import flax.linen as nn
import jax.numpy as jnp

from gan import fields
from gan.models import registry
from gan.models.layers import (KERAS_BN, UpsampleConv, conditioned_latent, dcgan_kernel_init,
                               dcgan_scale_init, example_dropout, keras_kernel_init, projection,
                               spectral)


class DCGAN28Generator(nn.Module):
  """The seed's Keras DCGAN generator for 28x28xC images (C = ``channels``; the seed's is 1).

  Dense(128*7*7) -> LeakyReLU(0.2) -> BatchNorm -> reshape 7x7x128 -> nearest upsample x2 ->
  Conv 64 k5 same -> BatchNorm -> LeakyReLU(0.2) -> upsample x2 -> Conv C k5 same -> tanh.
  852,609 trainable parameters for C = 1 (Keras counts 865,281 with the BatchNorm moving
  statistics); each further channel adds the last conv's 5*5*64 + 1 = 1,601.
  """
  num_classes: int = 0
  phase_decomposed: bool = True
  axis_name: Optional[str] = None
  channels: int = 1

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    bn = lambda name: nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name,
                                   name=name, **KERAS_BN)
    h = conditioned_latent(z, labels, self.num_classes, 16)
    h = nn.Dense(128 * 7 * 7, kernel_init=keras_kernel_init, name="dense")(h)
    h = bn("bn_0")(nn.leaky_relu(h, 0.2))
    h = h.reshape(h.shape[0], 7, 7, 128)
    h = UpsampleConv(64, 5, self.phase_decomposed, name="upconv_0")(h)
    h = nn.leaky_relu(bn("bn_1")(h), 0.2)
    h = UpsampleConv(self.channels, 5, self.phase_decomposed, name="upconv_1")(h)
    return jnp.tanh(h)


class DCGAN28Discriminator(nn.Module):
  """The seed's Keras DCGAN discriminator for 28x28xC images, returning a logit.

  Conv 64 k5 s2 same -> LeakyReLU(0.2) -> Dropout 0.3 -> Conv 128 k5 s2 same -> LeakyReLU(0.2) ->
  Dropout 0.3 -> Flatten -> Dense 1. 212,865 parameters for C = 1; the first conv takes its C
  input channels from the data, each further one adding 5*5*64 = 1,600.
  """
  dropout_rate: float = 0.3
  num_classes: int = 0
  axis_name: Optional[str] = None
  spectral_norm: bool = False  # every conv and the Dense, spectrally normalised (`spectral`)
  uses_batchnorm = False

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True, dropout_keys=None):
    conv = lambda f, name: spectral(nn.Conv(f, (5, 5), (2, 2), "SAME",
                                            kernel_init=keras_kernel_init, name=name),
                                    self.spectral_norm, train)
    h = nn.leaky_relu(conv(64, "conv_0")(x), 0.2)
    h = example_dropout(h, self.dropout_rate, dropout_keys if train else None, salt=0)
    h = nn.leaky_relu(conv(128, "conv_1")(h), 0.2)
    h = example_dropout(h, self.dropout_rate, dropout_keys if train else None, salt=1)
    h = h.reshape(h.shape[0], -1)
    logits = spectral(nn.Dense(1, kernel_init=keras_kernel_init, name="out"),
                      self.spectral_norm, train)(h)[:, 0]
    return projection(h, logits, labels, self.num_classes, self.spectral_norm, train)


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
                                   momentum=0.9, epsilon=1e-5, scale_init=dcgan_scale_init,
                                   name=name)
    h = conditioned_latent(z, labels, self.num_classes, 16)
    top = self.width * 2 ** (n_up - 1)
    h = nn.Dense(4 * 4 * top, kernel_init=dcgan_kernel_init, name="project")(h)
    h = nn.relu(bn("bn_project")(h.reshape(h.shape[0], 4, 4, top)))
    for i in range(n_up - 1):
      h = nn.ConvTranspose(top // 2 ** (i + 1), (4, 4), (2, 2), "SAME",
                           kernel_init=dcgan_kernel_init, name=f"deconv_{i}")(h)
      h = nn.relu(bn(f"bn_{i}")(h))
    h = nn.ConvTranspose(self.channels, (4, 4), (2, 2), "SAME", kernel_init=dcgan_kernel_init,
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
      h = nn.Conv(self.width * 2 ** i, (4, 4), (2, 2), "SAME", kernel_init=dcgan_kernel_init,
                  use_bias=(i == 0), name=f"conv_{i}")(h)
      if i > 0:
        h = nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name, momentum=0.9,
                         epsilon=1e-5, scale_init=dcgan_scale_init, name=f"bn_{i}")(h)
      h = nn.leaky_relu(h, 0.2)
    h = h.reshape(h.shape[0], -1)
    logits = nn.Dense(1, kernel_init=dcgan_kernel_init, name="out")(h)[:, 0]
    return projection(h, logits, labels, self.num_classes)




DCGAN28_ARGS = {
    "d_dropout": fields.Arg(0.3, fields.number(
        lambda v: 0 <= v < 1, "must be in [0, 1) (0 = no dropout)."),
        "D's dropout rate (the seed's Keras DCGAN: 0.3)"),
    "phase_decomposed_upsample": fields.Arg(True, fields.switch(),
                                            "G's exact, cheaper upsample+conv form"),
    "spectral_norm": fields.Arg(False, fields.switch(),
                                "spectral normalisation of D's layers (Miyato et al. 2018)"),
}
DCGAN_ARGS = {
    "width": fields.Arg(64, fields.integer(1, "must be a positive integer (ngf = ndf)."),
                        "ngf = ndf, the channels of G's last and D's first layer"),
}


def _build_dcgan28(args, data_shape, num_classes):
  if len(data_shape) != 3 or tuple(data_shape[:2]) != (28, 28) or data_shape[2] < 1:
    raise ValueError(f"model 'dcgan28' makes 28x28x1 images (or 28x28xC, e.g. stacked_mnist's "
                     f"28x28x3), but the data shape is {tuple(data_shape)}; use it with "
                     "mnist-like data or pick dcgan32/dcgan64/mlp.")
  return (DCGAN28Generator(num_classes, args["phase_decomposed_upsample"],
                           channels=int(data_shape[2])),
          DCGAN28Discriminator(args["d_dropout"], num_classes,
                               spectral_norm=bool(args["spectral_norm"])))


def _build_dcgan(size, args, data_shape, num_classes):
  if len(data_shape) != 3 or tuple(data_shape[:2]) != (size, size):
    raise ValueError(f"model 'dcgan{size}' makes {size}x{size} images, but the data shape is "
                     f"{tuple(data_shape)}.")
  return (DCGANGenerator(size, data_shape[2], args["width"], num_classes),
          DCGANDiscriminator(size, args["width"], num_classes))


# XLA:CPU (jaxlib 0.10) hands matmuls, reductions and convolutions to the YNNPACK library by
# default. With YNNPACK kept to the matmuls, so that convolutions run on XLA's own (Eigen)
# kernels, the dcgan28 step ran faster (benchmarks/results/dcgan28_variants_cpu.md; per layer:
# convs_cpu.md). dcgan32/64 follow their family. Either way the same arithmetic is done; only the
# kernels that do it, and so the order of float32 rounding, change.
YNN_MATMULS_ONLY = (("xla_cpu_experimental_ynn_fusion_type", "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"),)

registry.register(registry.ModelFamily(
    name="dcgan28", generator=DCGAN28Generator, discriminator=DCGAN28Discriminator,
    build=_build_dcgan28, args=DCGAN28_ARGS, cpu_xla_options=YNN_MATMULS_ONLY,
    # D has no BatchNorm and its stride-2 convs cost more per example above batch 64 on a CPU
    # (benchmarks/results/convs_cpu.md), so a larger batch goes through D in pieces of 64.
    cpu_d_chunk_size=64,
    description="the seed material's Keras DCGAN for 28x28xC images (MNIST, Stacked MNIST)"))
for _size in (32, 64):
  registry.register(registry.ModelFamily(
      name=f"dcgan{_size}", generator=DCGANGenerator, discriminator=DCGANDiscriminator,
      build=functools.partial(_build_dcgan, _size), args=DCGAN_ARGS,
      cpu_xla_options=YNN_MATMULS_ONLY,
      description=f"Radford et al. 2015 DCGAN for {_size}x{_size} images"))
