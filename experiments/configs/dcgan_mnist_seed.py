"""The seed material's exact recipe: its Keras DCGAN on the offline MNIST digits, as it trains.

dcgan28, Adam(2e-4, b1=0.5) for G and D, batch 32, 4,000 iterations, the non-saturating loss, D
dropout 0.3, no EMA, no augmentation: `common.base_config()` unchanged. The default
(`dcgan_mnist.py`) starts from it; the lever table (`dcgan_mnist_levers.py`) measures both.

  python -m experiments.train --workdir workdirs/dcgan_mnist_seed \
      --config experiments/configs/dcgan_mnist_seed.py
"""

from experiments.configs import common


def get_config():
  return common.base_config()
