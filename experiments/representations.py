r"""What each representation of a digit captures: pixels, the autoencoder's code, a GAN's D.

  python -m experiments.representations --autoencoder_workdir workdirs/autoencoder_mnist \
      --gan_workdir workdirs/dcgan_mnist [--denoising_workdir workdirs/denoising_autoencoder_mnist] \
      [--out docs/figures]

Scores raw pixels, the trained autoencoder's 4x4x8 code (and the denoising one's, if given), the
trained GAN discriminator's penultimate features, and the same networks at their random
initialisation, by 1-nearest-neighbour and linear-probe accuracy on the autoencoder's dataset
(mnist5k: the 4,000 training digits are the gallery and the probe's training set, the 1,000
held-out digits the queries; see `gan.studies.representations`). Writes ``representations.md``
(the table) and ``representations.json`` to --out.
"""

import json
import os
import sys
import time

from absl import app
from absl import flags

from experiments import cli

_AE = flags.DEFINE_string("autoencoder_workdir", None, "A trained experiments.autoencoder run.")
_DENOISING = flags.DEFINE_string("denoising_workdir", None, "Optional: a denoising run too.")
_GAN = flags.DEFINE_string("gan_workdir", None, "A trained experiments.train run on MNIST.")
_OUT = flags.DEFINE_string("out", "docs/figures", "Directory for the table and its numbers.")
_DEBUG = flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
flags.mark_flags_as_required(["autoencoder_workdir", "gan_workdir"])


def main(argv):
  cli.reject_unexpected_arguments(argv)

  def run():
    import gan  # pylint: disable=g-import-not-at-top
    from gan import autoencoder, data  # pylint: disable=g-import-not-at-top
    from gan.studies import representations  # pylint: disable=g-import-not-at-top
    started = time.perf_counter()
    trained = autoencoder.load_autoencoder(_AE.value)
    denoising = autoencoder.load_autoencoder(_DENOISING.value) if _DENOISING.value else None
    gan_run = gan.load_run(_GAN.value)
    train, test = (data.make_source(trained.config.dataset, split,
                                    data_dir=trained.config.data_dir or None).all_examples()
                   for split in ("train", "test"))
    rows = representations.compare(trained, gan_run, train, test, denoising)
    table = representations.markdown_table(rows)
    os.makedirs(_OUT.value, exist_ok=True)
    with open(os.path.join(_OUT.value, "representations.md"), "w", encoding="utf-8") as f:
      f.write(table)
    with open(os.path.join(_OUT.value, "representations.json"), "w", encoding="utf-8") as f:
      json.dump(dict(rows=rows, autoencoder_workdir=_AE.value, denoising_workdir=_DENOISING.value,
                     gan_workdir=_GAN.value, probe_steps=representations.PROBE_STEPS,
                     probe_learning_rate=representations.PROBE_LEARNING_RATE,
                     probe_l2=representations.PROBE_L2), f, indent=2)
    print(table + f"Wrote {os.path.join(_OUT.value, 'representations.md')} and .json "
          f"({time.perf_counter() - started:.0f} s)")

  return cli.run_reporting_errors(run, _DEBUG.value)


if __name__ == "__main__":
  sys.exit(app.run(main, flags_parser=cli.parse_flags))
