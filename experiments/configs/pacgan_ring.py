r"""PacGAN's 2-D ring protocol (Lin et al. 2018, Sec. 5.1, Table 1): GAN and PacGAN2/3/4.

  python -m experiments.train --workdir workdirs/pacgan1_ring \
      --config experiments/configs/pacgan_ring.py
  python -m experiments.train --workdir workdirs/pacgan2_ring \
      --config experiments/configs/pacgan_ring.py --config.pack=2      # also 3, 4
  python -m experiments.evaluate --workdir workdirs/pacgan2_ring
  # Table 1's runs, `sweep()`: packing 1-4, 10 seeds each; then mean +- s.e. beside the paper's.
  python -m experiments.sweep --config experiments/configs/pacgan_ring.py \
      --root workdirs/pacgan_ring
  python -m experiments.aggregate --root workdirs/pacgan_ring

Every setting is the authors' (github fjxmlzn/PacGAN, under synthetic_data_experiments/:
``2DRing_GAN&PacGAN/config.py`` and ``pacgan_task.py``, the library in ``PacGAN/pacgan/``):

* data: 8 modes on the unit circle, sigma 0.01 (config.py:6-7), equally likely (priors None,
  :29); 100,000 training points drawn once (:30; ``toy_ring_100k``), in shuffled epochs;
* G and D: ``pacgan_mlp`` (see `gan.models.pacgan`): z ~ N(0, I_2) (config.py:33-36,
  pacgan_task.py:107), 4 x 400 BatchNorm ReLU G, 3 x 200 maxout (5 pieces) D, weights N(0, 0.02),
  biases 0 (config.py:16-22);
* loss: D ``softplus(-D(x)) + softplus(D(G(z)))``, G ``softplus(-D(G(z)))`` (the non-saturating
  loss, pacgan/bricks.py:69-72);
* Adam, learning rate 1e-4, beta1 0.8 (config.py:23-24; pacgan_task.py:157), beta2 0.999 (Blocks'
  default), for D and G;
* batch: 100 D inputs per update (config.py:25), each of ``pack`` samples: the authors' batch
  counts packed inputs (a dataset row holds ``pack`` real points, pacgan/datasets.py:73-80; each of
  the ``pack`` z batches has as many rows as the real batch, pacgan_task.py:105-108), while
  ``config.batch_size`` counts samples, so it is tied to 100 * pack here;
* 400 epochs of 100,000 rows in batches of 100 (config.py:15, pacgan_task.py:177) = 400,000
  iterations, whatever the packing;
* evaluation (``mixture``): 2,500 samples (config.py:32), high quality within 3 standard
  deviations of the nearest mode (pacgan/extensions.py:115, 156-168), a mode captured by one high
  quality sample (:171), from G's running BatchNorm statistics (extensions.py:71-73 runs the
  decoder outside the BatchNorm training context);
* runs: packing 1, 2, 3, 4, ten runs each (config.py:44-48), `sweep()`.

Differences that remain, deliberately: the authors update D and G simultaneously, both from the
same pre-update parameters (ALI's ``ali_algorithm``, one GradientDescent over both losses,
pacgan_task.py:158); here G's update sees the updated D (`gan.step`). Their packed real rows are
fixed once, m independent resamples of the 100,000 points with replacement
(pacgan/datasets.py:73-75); here each epoch packs the points of a fresh permutation, every point
once. Their points (and the pairing) differ from run to run (a random Fuel seed,
pacgan_task.py:197-203); here they are one fixed sample (`gan.data.toys.finite_toy_points`).
"""

from experiments.configs import common


def get_config():
  c = common.base_config()
  c.dataset = "toy_ring_100k"
  common.set_model(c, "pacgan_mlp", d_dropout=0.0)
  c.latent_dim = 2
  c.loss = "non_saturating"
  c.optimizer = "adam"
  c.g_learning_rate = 1e-4
  c.d_learning_rate = 1e-4
  c.adam_b1 = 0.8
  c.adam_b2 = 0.999
  c.pack = 1
  c.batch_size = c.get_ref("pack") * 100  # 100 packed D inputs; --config.pack=m carries it along
  c.num_steps = 400_000
  c.concat_real_fake = True  # one D call on [real; fake], as the authors (bricks.py:46-48)
  c.log_every = 1000
  c.checkpoint_every = 20_000
  c.sample_every = 40_000
  c.num_samples = 2500
  c.final_eval = True  # the mixture metrics of every run, for experiments.aggregate
  return c


def sweep():
  """Table 1's runs: GAN and PacGAN2/3/4, ten seeds each trained together in one program
  (``num_seeds``; batch_size given, since a sweep override does not carry the pack reference)."""
  return [dict(pack=m, batch_size=100 * m, num_seeds=10) for m in (1, 2, 3, 4)]


# Lin et al. 2018, Table 1 (also fjxmlzn/PacGAN synthetic_data_experiments/results/Table1.png),
# mean +- standard error over 10 runs; high quality as a fraction, as `mixture` reports it.
PAPER_TABLE_1 = {
    "ring": {1: ("6.3 ± 0.5", "0.982 ± 0.002", "0.45 ± 0.09"),
             2: ("7.9 ± 0.1", "0.956 ± 0.020", "0.07 ± 0.03"),
             3: ("7.8 ± 0.1", "0.977 ± 0.003", "0.10 ± 0.02"),
             4: ("7.8 ± 0.1", "0.959 ± 0.014", "0.07 ± 0.02")},
    "grid": {1: ("17.3 ± 0.8", "0.948 ± 0.007", "0.70 ± 0.07"),
             2: ("23.8 ± 0.7", "0.913 ± 0.008", "0.13 ± 0.04"),
             3: ("24.6 ± 0.4", "0.942 ± 0.004", "0.06 ± 0.02"),
             4: ("24.8 ± 0.2", "0.936 ± 0.006", "0.04 ± 0.01")},
}


def paper_table(mixture: str) -> list:
  """``[(overrides, {metric: value})]`` of Table 1 for ``mixture`` ('ring' or 'grid'): the
  overrides are `sweep()`'s, without the seeds."""
  return [(dict(pack=m, batch_size=100 * m),
           dict(zip(("modes", "high_quality", "reverse_kl"), row)))
          for m, row in PAPER_TABLE_1[mixture].items()]


def paper_results():
  return paper_table("ring")
