"""Fully connected G and D (Goodfellow et al. 2014): the 1-D and 2-D toys and flattened MNIST."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import flax.linen as nn
import jax.numpy as jnp

from gan import fields
from gan.models import registry
from gan.models.layers import conditioned_latent, example_dropout, projection, spectral


class MLPGenerator(nn.Module):
  """Fully connected generator (Goodfellow et al. 2014, Sec. 5), ReLU hidden layers."""
  data_shape: Sequence[int]
  hidden: Sequence[int] = (256, 256)
  output_activation: str = "tanh"  # 'tanh' for images in [-1, 1], 'linear' for toys
  num_classes: int = 0
  axis_name: Optional[str] = None  # unused: no BatchNorm; kept for a uniform interface

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    h = conditioned_latent(z, labels, self.num_classes, 16)
    for i, width in enumerate(self.hidden):
      h = nn.relu(nn.Dense(width, name=f"hidden_{i}")(h))
    out = nn.Dense(math.prod(self.data_shape), name="out")(h)
    if self.output_activation == "tanh":
      out = jnp.tanh(out)
    return out.reshape((z.shape[0],) + tuple(self.data_shape))


class MLPDiscriminator(nn.Module):
  """Fully connected discriminator, LeakyReLU(0.2) hidden layers with optional dropout and
  optional spectral normalisation of every Dense layer (`spectral`)."""
  hidden: Sequence[int] = (256, 256)
  dropout_rate: float = 0.0
  num_classes: int = 0
  axis_name: Optional[str] = None
  spectral_norm: bool = False
  uses_batchnorm = False

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True, dropout_keys=None):
    dense = lambda width, name: spectral(nn.Dense(width, name=name), self.spectral_norm, train)
    h = x.reshape(x.shape[0], -1)
    for i, width in enumerate(self.hidden):
      h = nn.leaky_relu(dense(width, f"hidden_{i}")(h), 0.2)
      h = example_dropout(h, self.dropout_rate, dropout_keys, salt=i)
    logits = dense(1, "out")(h)[:, 0]
    return projection(h, logits, labels, self.num_classes, self.spectral_norm, train)




OUTPUTS = ("tanh", "linear")  # G's output activation

ARGS = {
    "hidden": fields.Arg((256, 256), fields.widths(
        "must be a non-empty tuple of positive integers, the layer widths of G and D, e.g. "
        "(256, 256)."), "G's and D's hidden layer widths"),
    "output": fields.Arg("tanh", fields.Field(
        str, lambda v: v in OUTPUTS, "must be 'tanh' (images in [-1, 1]) or 'linear' (unbounded "
        "data such as the toys)."), "G's output activation"),
    "d_dropout": fields.Arg(0.0, fields.number(
        lambda v: 0 <= v < 1, "must be in [0, 1) (0 = no dropout)."), "D's dropout rate"),
    "spectral_norm": fields.Arg(False, fields.switch(),
                                "spectral normalisation of D's layers (Miyato et al. 2018)"),
}


def _build(args, data_shape, num_classes):
  hidden = tuple(int(w) for w in args["hidden"])
  return (MLPGenerator(tuple(data_shape), hidden, args["output"], num_classes),
          MLPDiscriminator(hidden, args["d_dropout"], num_classes,
                           spectral_norm=bool(args["spectral_norm"])))


registry.register(registry.ModelFamily(
    name="mlp", generator=MLPGenerator, discriminator=MLPDiscriminator, build=_build, args=ARGS,
    description="fully connected G and D (Goodfellow et al. 2014) for any data shape"))
