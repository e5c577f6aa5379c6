"""Radford et al. 2015 DCGAN on CIFAR-10 (32x32x3). Needs the TFDS cifar10 data (network once).

  python -m experiments.train --workdir workdirs/dcgan_cifar10 \
      --config experiments/configs/dcgan_cifar10.py
"""

from experiments.configs import common


def get_config():
  c = common.base_config()
  c.dataset = "cifar10"
  common.set_model(c, "dcgan32")
  c.batch_size = 128
  c.num_steps = 50000
  c.ema_decay = 0.999
  c.checkpoint_every = 5000
  c.sample_every = 2500
  return c
