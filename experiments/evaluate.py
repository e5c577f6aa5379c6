r"""Evaluates a training run's checkpoint against held-out real data.

  python -m experiments.evaluate --workdir workdirs/dcgan_mnist [--step 4000] [--output_dir DIR] \
      [--sample_batch_stats standing]

Uses the run's own saved config (``<workdir>/config.json``), restores the newest good checkpoint
(or ``--step``), and writes ``<output_dir>/step_<N>.json`` and ``.md`` (``--output_dir`` defaults
to ``<workdir>/eval``; pass another for a read-only workdir): FID, KID, the score,
precision/recall and density/coverage of the model beside the real-data references (see
`gan.evaluation`). ``--sample_batch_stats`` samples a G with BatchNorm with other statistics than
the run's config says (``running`` or ``standing``; see `gan.step.GAN`): training does not depend
on it, so one run answers both. For CIFAR-10/CelebA runs pass the FID Inception weights with
``--inception_weights=/path/to/pt_inception-2015-12-05-6726825d.pth``.
"""

import json
import os
import tempfile

from absl import app
from absl import flags

from experiments import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's workdir.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step to evaluate (default: newest good).")
_INCEPTION = flags.DEFINE_string("inception_weights", None,
                                 "FID Inception weights (.pth or .npz), for CIFAR-10/CelebA runs.")
_OUTPUT = flags.DEFINE_string("output_dir", None, "Where to write the evaluation "
                              "(default: <workdir>/eval).")
_BATCH_STATS = flags.DEFINE_string("sample_batch_stats", None, "G's BatchNorm statistics when "
                                   "sampling: running or standing (default: the run's config).")
_DEBUG = flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
flags.mark_flags_as_required(["workdir"])


def _writable_output_dir(path):
  """Creates ``path`` and checks a file can be written there, before any computing."""
  from gan.config import ConfigError  # pylint: disable=g-import-not-at-top
  try:
    os.makedirs(path, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path):
      pass
  except OSError as e:
    raise ConfigError(f"cannot write the evaluation to {path} ({e.strerror}); pass "
                      "--output_dir=DIR, a directory you can write to.") from e
  return path


def evaluate(workdir, step=None, inception_weights=None, log=print, output_dir=None,
             sample_batch_stats=None):
  """Evaluates ``workdir``'s checkpoint ``step`` (newest good if None); returns the result dict
  (for a run of several seeds trained together, one result per seed under ``'per_seed'``)."""
  # pylint: disable-next=g-import-not-at-top
  from gan import checkpointing, config as config_lib, evaluation, runs, seeds as seeds_lib, writers
  config = config_lib.load_saved(workdir)
  if inception_weights:
    config.inception_weights = inception_weights
  # Another choice than the run's own is written beside the run's evaluation, never over it.
  suffix = ""
  if sample_batch_stats is not None:
    config_lib.check_field("sample_batch_stats", sample_batch_stats)
    if sample_batch_stats != config.sample_batch_stats:
      suffix = f"_{sample_batch_stats}"
    config.sample_batch_stats = sample_batch_stats
  # Everything that can be refused cheaply is, before the feature network (which may train for
  # a minute) and the restore: no checkpoint, an output that cannot be written.
  if not checkpointing.Checkpointer.steps_on_disk(os.path.join(workdir, "checkpoints")):
    raise checkpointing.CheckpointError(f"--workdir {workdir} has no checkpoint yet; train first "
                                        "(python -m experiments.train).")
  out_dir = _writable_output_dir(output_dir or os.path.join(workdir, "eval"))
  evaluator = evaluation.Evaluator(config, log)
  # The feature network first: a missing Inception weights file is reported before any restore.
  _ = evaluator.network
  gan, step, state = runs.restore_run(workdir, config, step, log)
  seeds = seeds_lib.Seeds.of(config)
  results = [evaluator(gan, one) for one in seeds.split(state)]
  batch_stats = config.get("sample_batch_stats", "running")
  result = dict(results[0], step=int(step), seed=seeds.values[0], sample_batch_stats=batch_stats)
  if len(seeds) > 1:
    result = dict(step=int(step), sample_batch_stats=batch_stats,
                  per_seed=[dict(r, seed=s) for r, s in zip(results, seeds)])
  text = []
  for seed, one in zip(seeds, results):
    what = one.get("feature_network", "mixture metrics")
    text.append(f"Step {step}, seed {seed}: {one['num_samples']} generated samples against "
                f"held-out data ({what}), {one['seconds']:.1f} s\n\n"
                f"{evaluation.format_table(one)}\n")
  with writers.reporting_write_errors(out_dir):
    with open(os.path.join(out_dir, f"step_{step}{suffix}.json"), "w", encoding="utf-8") as f:
      json.dump(result, f, indent=2)
    with open(os.path.join(out_dir, f"step_{step}{suffix}.md"), "w", encoding="utf-8") as f:
      f.write("\n".join(text))
  log("\n".join(text))
  return result


def main(argv):
  cli.reject_unexpected_arguments(argv)
  cli.quiet_library_logs(_DEBUG.value)  # orbax logs every file it renames at INFO
  return cli.run_reporting_errors(
      lambda: evaluate(_WORKDIR.value, _STEP.value, _INCEPTION.value,
                       output_dir=_OUTPUT.value, sample_batch_stats=_BATCH_STATS.value),
      _DEBUG.value)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
