"""PacGAN's 2-D toy models (Lin et al. 2018, Sec. 5.1): a BatchNorm ReLU MLP G and a maxout MLP D.

Exactly the authors' ring and grid models (github fjxmlzn/PacGAN, Theano/Blocks code; paths below
are under ``synthetic_data_experiments/``, and ``2DGrid_GAN&PacGAN`` is ``2DRing_GAN&PacGAN`` but
for its data):

* G (``pacgan_task.py:43-59``, ``:94``): z (2-d, ``config.py:34``) -> 4 x [Linear 400 without bias
  -> BatchNorm -> ReLU] -> Linear to the data (with bias) -> identity. BatchNorm as Blocks'
  (``blocks/bricks/bn.py:131, 140-143, 203-206`` in mila-iqia/blocks): scale 1 and shift 0,
  epsilon 1e-4 added to the biased two-pass batch variance; the running statistics move by
  ``0.05 * batch + 0.95 * running`` (``pacgan_task.py:149``).
* D (``pacgan_task.py:61-90``): 3 x LinearMaxout (200 units of 5 pieces: Linear to 1000 outputs,
  then the max over each unit's 5 consecutive outputs, ``blocks/bricks/simple.py:175-180, 226``)
  -> Linear to one logit. Its input is the packed sample (``input_dim = num_xdim * num_packing``,
  ``:64``); the step packs (`gan.step.pack_samples`), D only sees the wider input. No dropout
  (``pacgan_task.py:123-125`` build both graphs ``with_dropout=False``).
* Every weight from N(0, 0.02) and every bias 0 (``pacgan_task.py:67-68, 92``;
  ``config.py:21-22``).

Known small differences: Blocks' running statistics average the batch standard deviation
(``bn.py:206``; inference divides by it, ``bn.py:216-223``), Flax's the batch variance (the two
differ by the spread of the batch statistics, which only inference sees); Blocks' Adam adds its
epsilon (1e-8) outside the bias correction (``blocks/algorithms/__init__.py``, ``Adam``).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from gan import fields
from gan.models import registry
from gan.models.layers import dcgan_kernel_init, example_dropout, spectral

# Blocks' BatchNormalization: epsilon 1e-4 (bn.py:131); the authors' running statistics move by
# 0.05 of the batch's each step (pacgan_task.py:149), Flax's momentum 0.95.
_BLOCKS_BN = dict(momentum=0.95, epsilon=1e-4, use_fast_variance=False)


def maxout(x: jax.Array, num_pieces: int) -> jax.Array:
  """Maxout over the last axis: ``[..., units * num_pieces] -> [..., units]``.

  Unit u is the max of inputs ``u * num_pieces, ..., (u + 1) * num_pieces - 1`` (consecutive
  pieces, as Blocks' ``Maxout``: reshape to ``[..., units, num_pieces]``, max over the last axis).

  References:
    Goodfellow et al. 2013, "Maxout Networks".
  """
  if x.shape[-1] % num_pieces:
    raise ValueError(f"maxout of {x.shape[-1]} inputs in pieces of {num_pieces}: the inputs must "
                     f"be a multiple of the pieces.")
  return jnp.max(x.reshape(x.shape[:-1] + (x.shape[-1] // num_pieces, num_pieces)), axis=-1)


class PacGANGenerator(nn.Module):
  """PacGAN's toy G: ``len(hidden)`` x [Linear without bias -> BatchNorm -> ReLU] -> Linear.

  484,802 parameters for 2-d z and 2-d data with the default 4 x 400 (see the module docstring).
  """
  data_shape: Sequence[int]
  hidden: Sequence[int] = (400, 400, 400, 400)
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    if labels is not None:
      raise ValueError("pacgan_mlp is unconditional: the PacGAN toys have no labels.")
    h = z
    for i, width in enumerate(self.hidden):
      h = nn.Dense(width, use_bias=False, kernel_init=dcgan_kernel_init, name=f"hidden_{i}")(h)
      h = nn.BatchNorm(use_running_average=not train, axis_name=self.axis_name, name=f"bn_{i}",
                       **_BLOCKS_BN)(h)
      h = nn.relu(h)
    out = nn.Dense(math.prod(self.data_shape), kernel_init=dcgan_kernel_init,
                   bias_init=nn.initializers.zeros, name="out")(h)
    return out.reshape((z.shape[0],) + tuple(self.data_shape))


class PacGANDiscriminator(nn.Module):
  """PacGAN's toy D: ``num_layers`` maxout layers of ``units`` x ``num_pieces`` -> Linear 1.

  ``1000 d + 403,201`` parameters for an input of d numbers (d = 2 m for m packed 2-d samples)
  with the defaults (3 layers of 200 units of 5 pieces): ``(d + 1) 1000 + 2 (200 + 1) 1000 + 201``.
  """
  units: int = 200
  num_pieces: int = 5
  num_layers: int = 3
  dropout_rate: float = 0.0
  axis_name: Optional[str] = None
  spectral_norm: bool = False  # every Dense, spectrally normalised (`spectral`)
  uses_batchnorm = False

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True, dropout_keys=None):
    if labels is not None:
      raise ValueError("pacgan_mlp is unconditional: the PacGAN toys have no labels.")
    dense = lambda width, name: spectral(nn.Dense(width, kernel_init=dcgan_kernel_init,
                                                  name=name), self.spectral_norm, train)
    h = x.reshape(x.shape[0], -1)
    for i in range(self.num_layers):
      h = dense(self.units * self.num_pieces, f"maxout_{i}")(h)
      h = example_dropout(maxout(h, self.num_pieces), self.dropout_rate, dropout_keys, salt=i)
    return dense(1, "out")(h)[:, 0]


ARGS = {
    # The authors' D has no dropout; d_dropout > 0 drops each maxout layer's output (an ablation).
    "d_dropout": fields.Arg(0.0, fields.number(
        lambda v: 0 <= v < 1, "must be in [0, 1) (0 = no dropout, as the authors)."),
        "D's dropout rate"),
    "spectral_norm": fields.Arg(False, fields.switch(),
                                "spectral normalisation of D's layers (Miyato et al. 2018)"),
}


def _build(args, data_shape, num_classes):
  if num_classes:
    raise ValueError("pacgan_mlp is unconditional (the PacGAN toys have no labels); set "
                     "conditional=False.")
  return (PacGANGenerator(tuple(data_shape)),
          PacGANDiscriminator(dropout_rate=args["d_dropout"],
                              spectral_norm=bool(args["spectral_norm"])))


registry.register(registry.ModelFamily(
    name="pacgan_mlp", generator=PacGANGenerator, discriminator=PacGANDiscriminator,
    build=_build, args=ARGS,
    description="PacGAN's toy G (4 x 400 BatchNorm ReLU) and maxout D (3 x 200 x 5 pieces)"))
