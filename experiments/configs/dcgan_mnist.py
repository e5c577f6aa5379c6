"""The default: the seed material's Keras DCGAN on the offline MNIST digits.

dcgan28, Adam(2e-4, b1=0.5), batch 32, 4,000 iterations, non-saturating loss, no EMA: the seed's
setup. Trains on 2 CPU cores in about ten minutes and writes sample grids and progress.png.

  python -m experiments.train --workdir workdirs/dcgan_mnist \
      --config experiments/configs/dcgan_mnist.py
"""

from experiments.configs import common


def get_config():
  return common.base_config()
