"""Stacked MNIST (1,000 modes), the mode-collapse benchmark of VEEGAN and PacGAN, with dcgan28.

The seed's Keras DCGAN with three output channels (G 855,811 and D 216,065 trainable parameters)
on `stacked_mnist`: three mnist5k digits as the RGB channels, 128,000 training images. Batch 64,
Adam(2e-4, b1=0.5) and latent dimension 100 as in PacGAN's Stacked MNIST experiment (its
DCGAN is larger, and trains 50 epochs: 100,000 steps). Evaluated as PacGAN does: 26,000 samples,
each channel read by the in-repo MNIST classifier; modes covered out of 1,000 and
KL(generated modes || uniform), beside the same numbers for 26,000 real stacked test images.

  python -m experiments.train --workdir workdirs/dcgan_stacked_mnist \
      --config experiments/configs/dcgan_stacked_mnist.py
  python -m experiments.evaluate --workdir workdirs/dcgan_stacked_mnist
  python -m experiments.sweep --config experiments/configs/dcgan_stacked_mnist.py \
      --root workdirs/stacked_mnist     # DCGAN vs PacDCGAN2, seeds 0-2 each
  python -m experiments.aggregate --root workdirs/stacked_mnist

PacDCGAN2 (`sweep()`) packs two samples along the channel axis of D's input (PacGAN Sec. 5.2) and
keeps 64 packed D inputs per step, so its batch is 128 samples.
"""

from experiments.configs import common


def get_config():
  c = common.base_config()
  c.dataset = "stacked_mnist"
  common.set_model(c, "dcgan28")
  c.batch_size = 64
  c.num_steps = 10000        # 5 epochs of the 128,000 training images
  c.eval_num_samples = 26000  # PacGAN's number of scored samples (gan.evaluation)
  c.final_eval = True         # modes and KL of every seed, into results.json (experiments.aggregate)
  return c


def sweep():
  """PacGAN's two Stacked MNIST rows, DCGAN and PacDCGAN2, seeds 0-2 each as separate runs."""
  return [dict(pack=m, batch_size=64 * m, seed=seed) for m in (1, 2) for seed in range(3)]


def paper_results():
  """PacGAN's (Lin et al. 2018) Stacked MNIST numbers for DCGAN and PacDCGAN2, as issue 13 quotes
  them (their DCGAN is larger and trains far longer than this config's budget)."""
  return [(dict(pack=1, batch_size=64), dict(modes="78.9 ± 6.46", reverse_kl="4.50 ± 0.13")),
          (dict(pack=2, batch_size=128), dict(modes="1000", reverse_kl="0.06"))]
