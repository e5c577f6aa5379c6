"""The denoising variant of the source material's convolutional autoencoder, on mnist5k.

The same model and training as `autoencoder_mnist.py`; the input is the digit plus Gaussian noise
of standard deviation ``noise_std`` (the Keras blog's ``noise_factor = 0.5``), clipped to
[0, 1]; the target is the clean digit. Figures of noisy / denoised / clean held-out digits after
epochs 10 and 50; the held-out MSE of the denoised digits beside that of the noisy input.

  python -m experiments.autoencoder --workdir workdirs/denoising_autoencoder_mnist \
      --config experiments/configs/denoising_autoencoder_mnist.py [--config.noise_std=0.3]
"""

from experiments.configs import autoencoder_mnist


def get_config():
  c = autoencoder_mnist.get_config()
  c.noise_std = 0.5
  return c
