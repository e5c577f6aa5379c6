"""The 1-D Gaussian of Goodfellow et al. 2014, Fig. 1, with small MLPs.

  python -m experiments.train --workdir workdirs/toy_1d --config experiments/configs/toy_1d.py
"""

from experiments.configs import common


def get_config():
  c = common.base_config()
  c.dataset = "toy_1d"
  common.set_model(c, "mlp", hidden=(32, 32), output="linear", d_dropout=0.0)
  c.latent_dim = 1
  c.batch_size = 128
  c.num_steps = 3000
  c.g_learning_rate = 1e-3
  c.d_learning_rate = 1e-3
  c.sample_every = 500
  c.num_samples = 1024
  return c
