r"""Walks in a trained MNIST GAN's latent space: interpolation, class morphs, arithmetic, memorization.

  python -m experiments.latent_walk --workdir workdirs/dcgan_mnist [--out DIR] [--seed 0]

Restores the run's newest good checkpoint (as `experiments.evaluate` does), samples
``--num_samples`` latents, labels their images with the MNIST classifier of `gan.classifier`, and
writes to ``--out`` (default ``<workdir>/latent``) the figures of `gan.studies.latent_walk`:

* ``interpolation.png``: lerp and slerp strips between random pairs of z (White 2016);
* ``class_morph.png``: slerp strips between the concept vectors of 3s and 8s, and single pairs;
* ``arithmetic.png``: "thick 3 - thin 3 + thin 7" and "right-slanted 1 - left-slanted 1 +
  left-slanted 7" in DCGAN's Fig. 7 layout (Radford et al. 2015), with attributes measured by
  `gan.digit_attributes`, over ``--repetitions`` random exemplar triples beside a control;
* ``memorization.png``: generated samples beside their nearest training digits, and the
  nearest-neighbour distances of generated and of held-out test digits;
* ``latent_report.json``: every number.

About 30 s on two CPU cores (plus 1-2 minutes the first time, if the MNIST classifier has to be
trained).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Optional

from absl import app
from absl import flags

from experiments import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's workdir (an MNIST run).")
_OUT = flags.DEFINE_string("out", None, "Output directory (default: <workdir>/latent).")
_SEED = flags.DEFINE_integer("seed", 0, "Seeds the latents and the exemplar draws.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 4000,
                                    "Latents sampled and classified to find the concepts.")
_REPETITIONS = flags.DEFINE_integer("repetitions", 20, "Random exemplar triples per arithmetic.")
_DEBUG = flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
flags.mark_flags_as_required(["workdir"])

REPORT_NAME = "latent_report.json"
# The evaluation protocol of digit datasets: their samples are what the MNIST classifier reads.
DIGITS_PROTOCOL = "mnist_classifier"


def load_digit_run(workdir: str, log: Callable[[str], None] = print):
  """The run's config, `GAN` and newest good state: ``(config, gan, step, state)``.

  Raises:
    gan.config.ConfigError: ``workdir`` holds no run, or not an unconditional run on digits.
    gan.checkpointing.CheckpointError: the run has no usable checkpoint.
  """
  # pylint: disable-next=g-import-not-at-top
  from gan import config as config_lib, data, runs
  config = config_lib.load_saved(workdir)
  if data.get(config.dataset).evaluation != DIGITS_PROTOCOL:
    digits = [n for n in data.names() if data.get(n).evaluation == DIGITS_PROTOCOL]
    raise config_lib.ConfigError(
        f"--workdir {workdir} trained on {config.dataset!r}; latent_walk needs an MNIST run "
        f"(dataset {' or '.join(digits)}): its classifier and attributes are digits'.")
  if config.get("conditional", False):
    raise config_lib.ConfigError(
        f"--workdir {workdir} is a class-conditional run; latent_walk finds digit classes in z "
        f"and needs an unconditional generator.")
  gan, step, state = runs.restore_run(workdir, config, log=log)
  return config, gan, step, state


def latent_walk(workdir: str, out_dir: Optional[str] = None, seed: int = 0, *,
                classifier=None, num_samples: int = 4000, repetitions: int = 20,
                batch_size: int = 500, log: Callable[[str], None] = print) -> dict[str, Any]:
  """Runs the four latent-space studies on ``workdir``'s newest good checkpoint.

  Args:
    workdir: a training run's workdir (unconditional, on ``mnist5k`` or ``mnist``).
    out_dir: where the figures and `REPORT_NAME` go; default ``<workdir>/latent``.
    seed: seeds the latents and every random choice.
    classifier: a `gan.classifier.Classifier`; None loads (or trains) the cached one.
    num_samples: latents sampled and classified to find the digit concepts.
    repetitions: random exemplar triples per arithmetic.
    batch_size: latents per generator call.
    log: called with progress and summary lines.

  Returns:
    The report (also written to ``<out_dir>/latent_report.json``).

  Raises:
    gan.config.ConfigError: ``workdir`` holds no run, or not an unconditional MNIST run.
    gan.checkpointing.CheckpointError: the run has no usable checkpoint.
  """
  from gan import data, images  # pylint: disable=g-import-not-at-top
  from gan.studies import latent_walk as study  # pylint: disable=g-import-not-at-top
  start_time = time.time()
  study.check_settings(num_samples, repetitions, batch_size)
  if out_dir and os.path.lexists(out_dir) and not os.path.isdir(out_dir):
    from gan.errors import ConfigError  # pylint: disable=g-import-not-at-top
    raise ConfigError(f"--out {out_dir} is a file; pass a directory for the figures.")
  config, gan, step, state = load_digit_run(workdir, log)
  out_dir = out_dir or os.path.join(workdir, "latent")
  os.makedirs(out_dir, exist_ok=True)
  data_dir = config.data_dir or None
  if classifier is None:
    from gan import classifier as classifier_lib  # pylint: disable=g-import-not-at-top
    classifier = classifier_lib.evaluation_classifier(log)
  sample = study.make_sampler(gan, state, use_ema=config.ema_decay > 0, batch_size=batch_size)
  train_images = data.make_source(config.dataset, "train",
                                  data_dir=data_dir).all_examples()["image"]
  test_images = data.make_source(config.dataset, "test", data_dir=data_dir
                                 ).all_examples(limit=study.MAX_COMPARED)["image"]
  log(f"Step {step} of {workdir}:")
  results, figures = study.run_studies(sample, classifier, gan.latent_dim, train_images,
                                       test_images, seed=seed, num_samples=num_samples,
                                       repetitions=repetitions, log=log,
                                       latent_distribution=gan.latent_distribution)
  report = {"workdir": os.path.abspath(workdir), "step": step, **results,
            "seconds": round(time.time() - start_time, 1)}
  for name, picture in figures.items():
    images.save_png(picture, os.path.join(out_dir, name))
  with open(os.path.join(out_dir, REPORT_NAME), "w", encoding="utf-8") as f:
    json.dump(report, f, indent=2)
  for line in study.summary(report):
    log(line)
  log(f"Wrote {', '.join(figures)} and {REPORT_NAME} to {out_dir}.")
  return report


def main(argv):
  cli.reject_unexpected_arguments(argv)
  cli.quiet_library_logs(_DEBUG.value)  # orbax logs every file it renames at INFO
  return cli.run_reporting_errors(
      lambda: latent_walk(_WORKDIR.value, _OUT.value, _SEED.value,
                          num_samples=_NUM_SAMPLES.value, repetitions=_REPETITIONS.value),
      _DEBUG.value)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
