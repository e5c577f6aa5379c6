r"""Loss ablation on the offline MNIST digits: five GAN losses, the seed's DCGAN recipe, five seeds each.

The seed's recipe (`dcgan_mnist_seed`: dcgan28, Adam(2e-4, b1=0.5), batch 32, 4,000 iterations) with
each registered loss that needs no Lipschitz constraint: ``saturating`` (the minimax loss as
written, G minimises log(1 - D(G(z)))), ``non_saturating`` (G maximises log D(G(z))),
``least_squares``, ``hinge`` and ``relativistic_average``; seeds 0-4 of each. Every run is scored
at the end on the held-out split (FID, score, precision, recall, ... of `gan.evaluation`'s
``mnist_classifier`` protocol).

  python -m experiments.sweep --config experiments/configs/loss_ablation_mnist.py \
      --root workdirs/loss_ablation
  python -m experiments.aggregate --root workdirs/loss_ablation \
      --metrics fid,score,precision,recall
"""

from experiments.configs import common

LOSSES = ("saturating", "non_saturating", "least_squares", "hinge", "relativistic_average")


def get_config():
  c = common.base_config()
  c.final_eval = True
  return c


def sweep():
  """Five seeds per loss, each its own run: on a CPU, vmapping dcgan28 over seeds in one program
  lowers the seed-steps per second (`benchmarks/results/seeds_cpu_dcgan_mnist.md`). On an
  accelerator, where a dcgan28 step at small batch sizes is launch-bound
  (`benchmarks/results/gpu_h100.md`), ``--config.num_seeds=5`` with one run per loss may pay
  instead; no seeds benchmark on a GPU is in `benchmarks/results/` yet."""
  return [dict(loss=loss, seed=seed) for loss in LOSSES for seed in range(5)]
