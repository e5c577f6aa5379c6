r"""The lever table: which changes bring the seed's DCGAN nearest real data in 10 minutes on 2 cores.

The seed's recipe (`dcgan_mnist_seed`: dcgan28, Adam(2e-4, b1=0.5), batch 32, D dropout 0.3,
4,000 iterations) against one change at a time, then the budget (15,000 iterations, under the
ten minutes) with the EMA, with and without doubled learning rates; three seeds each (the
exploratory DiffAugment run at 12,000 iterations: one). Every run is evaluated every 2,000
iterations and at its end on the held-out split (FID, score, precision, recall, the digit shares)
and timed (``wall_seconds``). The winner is the default, `dcgan_mnist.py`.

  python -m experiments.sweep --config experiments/configs/dcgan_mnist_levers.py \
      --root workdirs/levers
  python -m experiments.aggregate --root workdirs/levers \
      --metrics fid,score,precision,recall,confident_fraction,min_class_share,wall_seconds
  python -m experiments.aggregate --root workdirs/levers --trend --metrics fid,score,wall_seconds \
      --plot fid --plot_target 13.24

About 2 hours on the 2-core CPU (`experiments/results/dcgan_mnist_levers_cpu.md` has the table).
"""

from experiments.configs import common

DA = "translation,cutout"                                   # DiffAugment (Zhao et al. 2020)
EMA = dict(ema_decay=0.999, ema_warmup=True)              # EMA of G, forgetting the init early

# In the order they run: one change at a time at the seed's 4,000 iterations, then the budget.
LEVERS = (
    {},                                                     # the seed's recipe
    dict(EMA),
    dict(d_learning_rate=4e-4, g_learning_rate=1e-4),       # two time-scale (Heusel et al. 2017)
    {"model_args.d_dropout": 0.0},
    dict(batch_size=64),
    dict(diffaugment=DA),
    dict(d_learning_rate=4e-4, g_learning_rate=4e-4),       # both rates doubled
)
# The budget: 15,000 iterations (under ten minutes here; the table's wall_seconds) with the EMA,
# with and without doubled learning rates; the first seed of each, then the other seeds.
BUDGET = (dict(num_steps=15000, d_learning_rate=4e-4, g_learning_rate=4e-4, **EMA),
          dict(num_steps=15000, **EMA))
# DiffAugment with EMA at 12,000 iterations: run first, on one seed (it trailed EMA alone by far).
EXPLORATORY = (dict(num_steps=12000, diffaugment=DA, **EMA, seed=0),)


def get_config():
  c = common.base_config()
  c.final_eval = True
  c.eval_every = 2000          # the trend: FID against steps (and wall time) for every row
  return c


def sweep():
  return ([dict(lever, seed=seed) for lever in LEVERS for seed in range(3)] +
          [dict(lever, seed=0) for lever in BUDGET] +
          [dict(lever, seed=seed) for lever in BUDGET for seed in (1, 2)] + list(EXPLORATORY))
