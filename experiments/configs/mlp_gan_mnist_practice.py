r"""The source material's MLP GAN practice: fully connected G fed uniform noise, on MNIST digits.

G maps z ~ U[-1, 1]^100 (``latent_distribution='uniform'``: the practice's noise, drawn per
example like every random number of the step) through ReLU layers of 256 and 512 units to 784
tanh pixels; D reads the flattened digit through LeakyReLU(0.2) layers of the same widths with
dropout 0.3 to one logit. Each iteration trains D on a real batch (label 1) and a generated one
(label 0), then G through the frozen D to be labelled real: binary cross-entropy with G's target
1, the ``non_saturating`` loss. Adam(2e-4, b1=0.5), batch 64, 5,000 iterations, offline mnist5k:
`mlp_gan_mnist` with uniform noise.

Wider networks (256, 512, 1,024) at batch 128 collapsed here: by step 3,000 every sample was the
same digit, and by 4,500 D won outright (D(x) 1.00, D(G(z)) 0.00), the mode collapse and
instability the material warns of (README, "The MLP GAN practice").

  python -m experiments.train --workdir workdirs/mlp_gan_mnist_practice \
      --config experiments/configs/mlp_gan_mnist_practice.py

Where it may differ from a given notebook of the practice: both networks share one list of widths
(`model_args.hidden`), and G's hidden layers are ReLU.
"""

from experiments.configs import mlp_gan_mnist


def get_config():
  c = mlp_gan_mnist.get_config()
  c.latent_distribution = "uniform"
  return c
