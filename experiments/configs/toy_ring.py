"""The PacGAN/VEEGAN 2-D ring: 8 Gaussian modes on the unit circle, sigma = 0.01.

Four hidden layers of 400 units, latent dim 2, batch 100 (the PacGAN protocol).

  python -m experiments.train --workdir workdirs/toy_ring --config experiments/configs/toy_ring.py
"""

from experiments.configs import common


def get_config():
  c = common.base_config()
  c.dataset = "toy_ring"
  common.set_model(c, "mlp", hidden=(400, 400, 400, 400), output="linear", d_dropout=0.0)
  c.concat_real_fake = True  # one D call on [real; fake], not two (benchmarks/results/toy_cpu.md)
  c.latent_dim = 2
  c.batch_size = 100
  c.num_steps = 10000
  c.g_learning_rate = 1e-4
  c.d_learning_rate = 1e-4
  c.adam_b1 = 0.5
  c.sample_every = 2000
  c.num_samples = 2500
  return c
