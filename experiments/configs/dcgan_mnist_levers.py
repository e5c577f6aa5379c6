r"""Issue 16's levers on the default DCGAN: which changes bring it nearest real data in 10 minutes.

The default recipe (`dcgan_mnist`: the seed's Keras DCGAN, Adam(2e-4, b1=0.5), batch 32, 4,000
iterations) against one change at a time, and the promising ones together; three seeds each,
every run evaluated at its end on the held-out split (FID, score, precision, recall, the digit
shares) and timed (``wall_seconds`` in the table: the README's command must fit in 10 minutes on
the 2-core CPU, about 14,000 iterations of this model at 30 per second).

  python -m experiments.sweep --config experiments/configs/dcgan_mnist_levers.py \
      --root workdirs/levers
  python -m experiments.aggregate --root workdirs/levers \
      --metrics fid,score,precision,recall,min_class_share,wall_seconds

Not yet run to its end on this CPU (about two hours for the 30 runs); a GPU runs it in minutes.
"""

from experiments.configs import common

DA = "translation,cutout"                                   # DiffAugment (Zhao et al. 2020)
EMA = dict(ema_decay=0.999, ema_warmup=True)              # EMA of G, forgetting the init early

# In the order they run: one change at a time at the seed's 4,000 iterations, then the budget.
LEVERS = (
    {},                                                     # the seed's recipe
    dict(EMA),
    dict(d_learning_rate=4e-4, g_learning_rate=1e-4),       # two time-scale (Heusel et al. 2017)
    dict(d_dropout=0.0),
    dict(batch_size=64),
    dict(diffaugment=DA),
    dict(d_learning_rate=4e-4, g_learning_rate=4e-4),       # both rates doubled
    dict(num_steps=15000, d_dropout=0.0, d_learning_rate=4e-4, g_learning_rate=4e-4,
         **EMA),                                            # the default recipe (dcgan_mnist.py)
)
# DiffAugment with EMA at 12,000 iterations: run first, on one seed (it trailed EMA alone by far).
EXPLORATORY = (dict(num_steps=12000, diffaugment=DA, **EMA, seed=0),)


def get_config():
  c = common.base_config()
  c.final_eval = True
  c.eval_every = 2000          # the trend: FID against steps (and wall time) for every row
  return c


def sweep():
  return [dict(lever, seed=seed) for lever in LEVERS for seed in range(3)] + list(EXPLORATORY)
