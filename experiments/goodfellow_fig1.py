r"""Goodfellow et al. 2014, Fig. 1: a 1-D GAN, its discriminator and the optimal discriminator.

  python -m experiments.goodfellow_fig1 [--out docs/figures] [--steps 3000]

Trains the MLP GAN of `experiments/configs/toy_1d.py` on N(4, 0.5^2) (the trajectory
`experiments.train` follows for that config) and draws it at a few steps as the paper does (see
`gan.studies.goodfellow_fig1`): the data density p_data (black, dotted), the generator's density
p_g (a KDE of G(z), green), the discriminator D(x) (blue, dashed), the optimal discriminator
D*(x) = p_data / (p_data + p_g) (thin, grey), and below, the map x = G(z).

It writes ``goodfellow_fig1.png`` and ``goodfellow_fig1.json``; the JSON holds, per panel, the
mean over the data's bulk (mean +- 2 std) of ``|D - D*|``, ``|D - 1/2|`` and ``|D* - 1/2|``, and
the mean and std of G's samples.
"""

from __future__ import annotations

import sys

import ml_collections

DEFAULT_OUT = "docs/figures"


def default_config() -> ml_collections.ConfigDict:
  """The toy_1d training config (`experiments/configs/toy_1d.py`)."""
  from experiments.configs import toy_1d  # pylint: disable=g-import-not-at-top
  return toy_1d.get_config()


def main(argv):
  from absl import flags  # pylint: disable=g-import-not-at-top
  from experiments import cli  # pylint: disable=g-import-not-at-top
  from gan.studies import goodfellow_fig1  # pylint: disable=g-import-not-at-top
  cli.reject_unexpected_arguments(argv)

  def report():
    result = goodfellow_fig1.make_figure(flags.FLAGS.out, default_config(), flags.FLAGS.steps)
    for panel in result["panels"]:
      print(f"step {panel['step']:5d}: mean|D-D*| {panel['mean_abs_d_minus_d_star']:.4f}  "
            f"mean|D-1/2| {panel['mean_abs_d_minus_half']:.4f}  "
            f"mean|D*-1/2| {panel['mean_abs_d_star_minus_half']:.4f}  "
            f"G: mean {panel['g_mean']:.3f} std {panel['g_std']:.3f}")
    print(f"Wrote {result['figure']} and {result['numbers']}")

  return cli.run_reporting_errors(report, flags.FLAGS.debug)


if __name__ == "__main__":
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  # Defined here, not at import, so tests can import this module next to other experiments.
  flags.DEFINE_string("out", DEFAULT_OUT, "Directory for the figure and its numbers.")
  flags.DEFINE_integer("steps", None, "Training iterations (default: the toy_1d config's).")
  flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
  sys.exit(app.run(main))
