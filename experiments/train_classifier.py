r"""Trains (or checks) the MNIST evaluation classifier: a thin command line over `gan.classifier`.

  python -m experiments.train_classifier [--cache_dir DIR] [--data_dir DIR] [--force]
  python -m experiments.train_classifier --export gan/weights/mnist_classifier_v1.npz

Loads the classifier from ``<cache_dir>/mnist_classifier/v<N>/`` when a valid one is there,
else trains it on the 4,000 ``mnist5k`` training digits (1-2 minutes on two CPU cores) and saves
it; either way it prints the accuracy on the 1,000 held-out test digits. --force retrains and
overwrites. Evaluation trains the classifier on first use anyway; this command does it ahead of
time. ``--export FILE`` also writes it as the one ``.npz`` file the package ships (and prints
its SHA-256, which goes into `gan.classifier.SHIPPED_SHA256`). The cache dir defaults to $JAXGAN_CACHE or ~/.cache/jaxgan, the data dir to $TFDS_DATA_DIR
or ~/tensorflow_datasets.
"""

import time

from absl import app
from absl import flags

from experiments import cli

_CACHE_DIR = flags.DEFINE_string("cache_dir", None,
                                 "Cache root (default: $JAXGAN_CACHE or ~/.cache/jaxgan).")
_DATA_DIR = flags.DEFINE_string("data_dir", None,
                                "TFDS data dir (default: $TFDS_DATA_DIR or ~/tensorflow_datasets).")
_FORCE = flags.DEFINE_bool("force", False, "Retrain even if a valid classifier is saved.")
_SEED = flags.DEFINE_integer("seed", 0, "Training seed (part of the saved recipe).")
_NUM_STEPS = flags.DEFINE_integer("num_steps", None,
                                  "Training steps (default: gan.classifier.DEFAULT_NUM_STEPS).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", None,
                                   "Batch size (default: gan.classifier.DEFAULT_BATCH_SIZE).")
_EXPORT = flags.DEFINE_string("export", None, "Also write the classifier to this .npz file "
                              "(the shipped weights: gan/weights/mnist_classifier_v<N>.npz).")
_DEBUG = flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")


def main(argv):
  cli.reject_unexpected_arguments(argv)
  cli.quiet_library_logs(_DEBUG.value)  # orbax logs every file it renames at INFO

  def run():
    from gan import classifier  # pylint: disable=g-import-not-at-top
    start = time.time()
    model = classifier.load_or_train_classifier(
        _CACHE_DIR.value, _DATA_DIR.value, force_retrain=_FORCE.value, seed=_SEED.value,
        num_steps=_NUM_STEPS.value or classifier.DEFAULT_NUM_STEPS,
        batch_size=_BATCH_SIZE.value or classifier.DEFAULT_BATCH_SIZE)
    print(f"held-out accuracy: {model.accuracy:.2%} "
          f"({model.metadata['test_examples']:,} mnist5k test digits); "
          f"trained in {model.metadata['train_seconds']:.0f} s; "
          f"this command took {time.time() - start:.0f} s; "
          f"classifier: {classifier.classifier_dir(_CACHE_DIR.value)}")
    if _EXPORT.value:
      digest = classifier.export_classifier(model, _EXPORT.value)
      print(f"exported to {_EXPORT.value}: SHA-256 {digest}")

  return cli.run_reporting_errors(run, _DEBUG.value)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
