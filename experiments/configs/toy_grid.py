"""The PacGAN/VEEGAN 2-D grid: 25 Gaussian modes at {-4,-2,0,2,4}^2, sigma = 0.05.

  python -m experiments.train --workdir workdirs/toy_grid --config experiments/configs/toy_grid.py
"""

from experiments.configs import toy_ring


def get_config():
  c = toy_ring.get_config()
  c.dataset = "toy_grid"
  return c
