"""Radford et al. 2015 DCGAN on CelebA, 64x64 centre crops. Needs the TFDS celeb_a data.

  python -m experiments.train --workdir workdirs/dcgan_celeba64 \
      --config experiments/configs/dcgan_celeba64.py
"""

from experiments.configs import common


def get_config():
  c = common.base_config()
  c.dataset = "celeb_a"
  c.model = "dcgan64"
  c.batch_size = 128
  c.num_steps = 50000
  c.ema_decay = 0.999
  c.checkpoint_every = 5000
  c.sample_every = 2500
  return c
