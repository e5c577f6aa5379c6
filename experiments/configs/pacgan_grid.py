r"""PacGAN's 2-D grid protocol (Lin et al. 2018, Sec. 5.1, Table 1): GAN and PacGAN2/3/4.

  python -m experiments.train --workdir workdirs/pacgan1_grid \
      --config experiments/configs/pacgan_grid.py
  python -m experiments.train --workdir workdirs/pacgan2_grid \
      --config experiments/configs/pacgan_grid.py --config.pack=2      # also 3, 4
  python -m experiments.evaluate --workdir workdirs/pacgan2_grid
  python -m experiments.sweep --config experiments/configs/pacgan_grid.py \
      --root workdirs/pacgan_grid              # Table 1's 4 x 10 runs
  python -m experiments.aggregate --root workdirs/pacgan_grid

The ring protocol (`pacgan_ring`, whose docstring gives every setting with its source) on 25 modes
at {-4, -2, 0, 2, 4}^2 with sigma 0.05: the authors' ``2DGrid_GAN&PacGAN`` differs from
``2DRing_GAN&PacGAN`` only in the mixture (github fjxmlzn/PacGAN,
synthetic_data_experiments/2DGrid_GAN&PacGAN/config.py:5-7; pacgan_task.py is the same file).
"""

from experiments.configs import pacgan_ring


def get_config():
  c = pacgan_ring.get_config()
  c.dataset = "toy_grid_100k"
  return c


sweep = pacgan_ring.sweep


def paper_results():
  return pacgan_ring.paper_table("grid")
