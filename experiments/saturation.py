r"""Why the non-saturating generator loss: gradient size against D(G(z)) (Goodfellow et al. 2014).

  python -m experiments.saturation [--out docs/figures] [--d_steps 100] [--batch_size 64]

Draws per-example ``|dL/dl|`` against D(G(z)) for the saturating (``|dL/dl| = D``) and the
non-saturating (``|dL/dl| = 1 - D``) generator loss, analytic and measured (see
`gan.studies.saturation`) on one batch of the dcgan28 model of
`experiments/configs/dcgan_mnist.py`: at initialisation, and after ``--d_steps``
discriminator-only updates on real MNIST (``mnist5k``). It writes ``saturation.png`` and
``saturation.json`` (the medians of D(G(z)) and of each loss's gradient on that batch).
"""

from __future__ import annotations

import sys

import ml_collections

DEFAULT_OUT = "docs/figures"


def default_config() -> ml_collections.ConfigDict:
  """The dcgan28-on-mnist5k config (`experiments/configs/dcgan_mnist.py`)."""
  from experiments.configs import dcgan_mnist  # pylint: disable=g-import-not-at-top
  return dcgan_mnist.get_config()


def main(argv):
  from absl import flags  # pylint: disable=g-import-not-at-top
  from experiments import cli  # pylint: disable=g-import-not-at-top
  from gan.studies import saturation  # pylint: disable=g-import-not-at-top
  cli.reject_unexpected_arguments(argv)
  options = flags.FLAGS

  def report():
    result = saturation.make_figure(options.out, default_config(), options.d_steps,
                                    options.batch_size)
    for key, when in (("fresh", "at init"), ("after_d_steps", f"after {options.d_steps} D steps")):
      m = result[key]
      print(f"{when:>18}: median D(G(z)) {m['median_d_g_z']:.4g}  median |dL/dl| saturating "
            f"{m['median_grad_saturating']:.4g}, non-saturating "
            f"{m['median_grad_non_saturating']:.4g}  (min D(G(z)) {m['min_d_g_z']:.2g}, "
            f"{m['num_below_axis']} below {saturation.D_MIN:g}; max |measured - analytic| "
            f"{m['max_abs_error_vs_analytic']:.1e})")
    print(f"Wrote {result['figure']} and {result['numbers']}")

  return cli.run_reporting_errors(report, options.debug)


if __name__ == "__main__":
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  # Defined here, not at import, so tests can import this module next to other experiments.
  flags.DEFINE_string("out", DEFAULT_OUT, "Directory for the figure and its numbers.")
  flags.DEFINE_integer("d_steps", 100, "Discriminator-only updates before the second batch.")
  flags.DEFINE_integer("batch_size", 64, "Batch size of the D updates and the measured batch.")
  flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
  sys.exit(app.run(main))
