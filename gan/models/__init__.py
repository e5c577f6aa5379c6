"""Generators and discriminators as pure Flax linen modules, chosen by name from a registry.

Families (``config.model``):

* ``mlp`` (`gan.models.mlp`): Goodfellow et al. 2014 style fully connected G and D for flat data
  (the 1-D and 2-D toys, flattened MNIST).
* ``dcgan28`` (`gan.models.dcgan`): exactly the Keras DCGAN of the seed material, for 28x28 MNIST
  (any channel count, e.g. Stacked MNIST).
* ``dcgan32`` / ``dcgan64``: Radford et al. 2015 (transposed convolutions, BatchNorm, ReLU in G,
  LeakyReLU in D, tanh output) for CIFAR-10 and CelebA-64.
* ``pacgan_mlp`` (`gan.models.pacgan`): the PacGAN toy protocol's BatchNorm ReLU G and maxout D.

The contract every family keeps is written down in `gan.models.registry` (`Generator`,
`Discriminator`) and checked when a family registers. Each family declares its own settings
(`ModelFamily.args`: defaults and checks); a config carries them as ``config.model_args``.
Adding a family: its module, one `register(ModelFamily(...))`, a config, its test.
"""

from __future__ import annotations

from typing import Sequence

import ml_collections

from gan.models.registry import (MODELS, Discriminator, Generator, ModelFamily, check_contract,
                                 default_args, get, names, register)
from gan.models.layers import UpsampleConv, example_dropout, upsample_phase_kernel
from gan.models.mlp import MLPDiscriminator, MLPGenerator
from gan.models.dcgan import (DCGAN28Discriminator, DCGAN28Generator, DCGANDiscriminator,
                              DCGANGenerator)
from gan.models.pacgan import PacGANDiscriminator, PacGANGenerator, maxout


def make_models(config: ml_collections.ConfigDict, data_shape: Sequence[int] = None,
                num_classes: int = None):
  """Builds ``(generator, discriminator)`` for ``config.model`` with ``config.model_args``.

  ``data_shape`` and ``num_classes`` (0 = unconditional) default to ``config.data_shape`` and
  ``config.num_classes``; the family's settings are checked (`ModelFamily.check_args`) before
  it builds.

  Raises:
    ValueError: an unknown family (`gan.errors.UnknownNameError`), settings the family does not
      have or cannot take (`gan.errors.ConfigError`), or data it does not make.
  """
  family = get(config.model)
  args = dict(config.model_args)
  family.check_args(args)
  data_shape = tuple(config.data_shape if data_shape is None else data_shape)
  num_classes = int(config.get("num_classes", 0) if num_classes is None else num_classes)
  return family.build(args, data_shape, num_classes)
