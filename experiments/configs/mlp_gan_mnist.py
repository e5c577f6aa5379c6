"""Goodfellow et al. 2014 style fully connected GAN on the offline MNIST digits (flattened).

  python -m experiments.train --workdir workdirs/mlp_gan_mnist \
      --config experiments/configs/mlp_gan_mnist.py
"""

from experiments.configs import common


def get_config():
  c = common.base_config()
  common.set_model(c, "mlp", hidden=(256, 512), output="tanh", d_dropout=0.3)
  c.batch_size = 64
  c.num_steps = 5000
  return c
