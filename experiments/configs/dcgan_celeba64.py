"""Radford et al. 2015 DCGAN on CelebA, 64x64 centre crops. Needs the TFDS celeb_a data.

The CIFAR-10 recipe (`dcgan_cifar10.py`) with the 64x64 model and data.

  python -m experiments.train --workdir workdirs/dcgan_celeba64 \
      --config experiments/configs/dcgan_celeba64.py
"""

from experiments.configs import common
from experiments.configs import dcgan_cifar10


def get_config():
  c = dcgan_cifar10.get_config()
  c.dataset = "celeb_a"
  common.set_model(c, "dcgan64")
  return c
