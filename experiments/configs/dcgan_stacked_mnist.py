"""Stacked MNIST (1,000 modes), the mode-collapse benchmark of VEEGAN and PacGAN, with dcgan28.

The seed's Keras DCGAN with three output channels (G 855,811 and D 216,065 trainable parameters)
on `stacked_mnist`: three mnist5k digits as the RGB channels, 128,000 training images. Batch 64,
Adam(2e-4, b1=0.5) and latent dimension 100 as in PacGAN's Stacked MNIST experiment (its
DCGAN is larger, and trains 50 epochs: 100,000 steps). Evaluated as PacGAN does: 26,000 samples,
each channel read by the in-repo MNIST classifier; modes covered out of 1,000 and
KL(generated modes || uniform), beside the same numbers for 26,000 real stacked test images.

  python -m experiments.train --workdir workdirs/dcgan_stacked_mnist \
      --config experiments/configs/dcgan_stacked_mnist.py
  python -m experiments.evaluate --workdir workdirs/dcgan_stacked_mnist
"""

from experiments.configs import common


def get_config():
  c = common.base_config()
  c.dataset = "stacked_mnist"
  c.model = "dcgan28"
  c.batch_size = 64
  c.num_steps = 10000        # 5 epochs of the 128,000 training images
  c.eval_num_samples = 26000  # PacGAN's number of scored samples (gan.evaluation)
  return c
