r"""Trains the source material's convolutional autoencoder: a thin command line over
`gan.autoencoder.train_autoencoder`.

  python -m experiments.autoencoder --workdir workdirs/autoencoder_mnist \
      [--config experiments/configs/autoencoder_mnist.py] [--config.num_epochs=10 ...]
  python -m experiments.autoencoder --workdir workdirs/denoising_autoencoder_mnist \
      --config experiments/configs/denoising_autoencoder_mnist.py

Writes checkpoints, TensorBoard files and ``metrics.jsonl`` (one row per epoch), the figures of
``config.figure_epochs`` (``reconstructions_epoch<E>.png``; ``denoising_epoch<E>.png`` for the
denoising variant) and ``results.json`` (the held-out loss). Running it again with the same
--workdir resumes from the newest good checkpoint.
"""

import os

from absl import app
from absl import flags

from experiments import cli

_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs",
                               "autoencoder_mnist.py")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and figures.")
_CONFIG = cli.define_config_flag(_DEFAULT_CONFIG)
_DEBUG = flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  cli.reject_unexpected_arguments(argv)
  cli.quiet_library_logs(_DEBUG.value)  # orbax logs every file it renames at INFO

  def run():
    from gan import autoencoder, workdir  # pylint: disable=g-import-not-at-top
    results = autoencoder.train_autoencoder(_CONFIG.value, _WORKDIR.value)
    heldout = results["heldout"]
    print(f"held-out after epoch {results['epoch']}: " +
          " ".join(f"{k}={v:.4f}" for k, v in sorted(heldout.items())))
    for epoch, scores in results["by_epoch"].items():
      print(f"  epoch {epoch}: " + " ".join(f"{k}={v:.4f}" for k, v in sorted(scores.items())))
    print(f"Figures: {', '.join(os.path.join(_WORKDIR.value, f) for f in results['figures'])}; "
          f"results: {os.path.join(_WORKDIR.value, workdir.RESULTS_FILE)}")

  return cli.run_reporting_errors(run, _DEBUG.value)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
