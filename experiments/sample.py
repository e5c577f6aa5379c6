r"""Writes samples of a trained run, for outside FID tools or for looking at.

  python -m experiments.sample --workdir workdirs/dcgan_mnist --num_samples 10000 \
      --output samples.npz [--seed 0] [--step N] [--labels 3 | --labels 0,1,2,...] [--no_ema]
  python -m experiments.sample --workdir workdirs/dcgan_mnist --num_samples 64 --output pngs/

``FILE.npz`` holds ``arr_0``: uint8 ``[N, H, W, C]`` images (the layout pytorch-fid, clean-fid
and TF-GAN's tools read) and, for a conditional run, ``labels``. An ``--output`` ending in ``/``
(or an existing directory) gets one PNG per sample. Non-image runs (the toys) write float32
points to ``arr_0``. Samples come from the EMA parameters when the run keeps an EMA (``--no_ema``
turns that off); z is a pure function of ``--seed``.
"""

import os

from absl import app
from absl import flags

from experiments import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's workdir.")
_NUM = flags.DEFINE_integer("num_samples", 10000, "How many samples.")
_OUTPUT = flags.DEFINE_string("output", None, "FILE.npz, or DIR/ for PNGs.")
_SEED = flags.DEFINE_integer("seed", 0, "Seeds z (and random labels of a conditional run).")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: newest good).")
_LABELS = flags.DEFINE_string("labels", None,
                              "Conditional runs: one class for all, or a comma-separated list "
                              "repeated to --num_samples.")
_NO_EMA = flags.DEFINE_bool("no_ema", False, "Sample from the raw G params, not the EMA.")
_SEED_INDEX = flags.DEFINE_integer("seed_index", 0, "A run of several seeds trained together: "
                                   "which one (seed = config.seed + index).")
_DEBUG = flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
flags.mark_flags_as_required(["workdir", "output"])


def parse_labels(text, num, num_classes):
  """``'3'`` or ``'0,1,2'`` -> int labels ``[num]`` (the list repeated); None when not given."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from gan import config as config_lib  # pylint: disable=g-import-not-at-top
  if text is None:
    return None
  if not num_classes:
    raise config_lib.ConfigError("--labels was given, but this run is not class conditional.")
  try:
    values = [int(v) for v in text.split(",")]
  except ValueError as e:
    raise config_lib.ConfigError(f"--labels {text!r} must be integers, e.g. 3 or 0,1,2.") from e
  if min(values) < 0 or max(values) >= num_classes:
    raise config_lib.ConfigError(f"--labels {text!r}: classes are 0..{num_classes - 1}.")
  return np.resize(np.asarray(values, np.int32), num)


def write_samples(workdir, num, output, seed=0, step=None, labels=None, use_ema=None,
                  log=print, seed_index=0):
  """Samples run ``workdir`` and writes them to ``output``; returns the paths written."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from gan import images, runs  # pylint: disable=g-import-not-at-top
  from gan import config as config_lib  # pylint: disable=g-import-not-at-top
  if num < 1:
    raise config_lib.ConfigError(f"--num_samples={num} must be positive.")
  to_dir = output.endswith(os.sep) or os.path.isdir(output)
  if not to_dir and not output.endswith(".npz"):
    raise config_lib.ConfigError(f"--output {output} must end in .npz (one file) or / (PNGs).")
  run = runs.load_run(workdir, step, seed_index)
  labels = parse_labels(labels, num, run.gan.num_classes)
  samples = run.sample(num, seed=seed, labels=labels, use_ema=use_ema)
  is_image = samples.ndim == 4
  if to_dir:
    if not is_image:
      raise config_lib.ConfigError(f"{workdir} makes {samples.shape[1:]}-shaped points, not "
                                   "images; write them to a .npz file.")
    os.makedirs(output, exist_ok=True)
    paths = [os.path.join(output, f"sample_{i:06d}.png") for i in range(num)]
    for path, image in zip(paths, images.to_uint8(samples)):
      images.save_png(image, path)
  else:
    arrays = {"arr_0": images.to_uint8(samples) if is_image else samples}
    if run.gan.num_classes:
      arrays["labels"] = labels if labels is not None else np.full((num,), -1, np.int32)
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    temporary = output + ".tmp.npz"
    np.savez(temporary, **arrays)
    os.replace(temporary, output)  # complete or absent, never half-written
    paths = [output]
  log(f"Wrote {num} samples of {workdir} (step {run.step}, "
      f"{'EMA' if (run.uses_ema if use_ema is None else use_ema) else 'raw'} params) to {output}")
  return paths


def main(argv):
  cli.reject_unexpected_arguments(argv)
  cli.quiet_library_logs(_DEBUG.value)  # orbax logs every file it renames at INFO
  return cli.run_reporting_errors(
      lambda: write_samples(_WORKDIR.value, _NUM.value, _OUTPUT.value, _SEED.value, _STEP.value,
                            _LABELS.value, False if _NO_EMA.value else None,
                            seed_index=_SEED_INDEX.value), _DEBUG.value)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
