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

def define_flags():
  """The command line's flags; defined when run, not at import, so tests can import the module
  next to other experiments (absl flags are global)."""
  flags.DEFINE_string("workdir", None, "The training run's workdir.")
  flags.DEFINE_integer("num_samples", 10000, "How many samples.")
  flags.DEFINE_string("output", None, "FILE.npz, or DIR/ for PNGs.")
  flags.DEFINE_integer("seed", 0, "Seeds z (and random labels of a conditional run).")
  flags.DEFINE_integer("step", None, "Checkpoint step (default: newest good).")
  flags.DEFINE_string("labels", None, "Conditional runs: one class for all, or a comma-separated "
                      "list repeated to --num_samples.")
  flags.DEFINE_bool("no_ema", False, "Sample from the raw G params, not the EMA.")
  flags.DEFINE_integer("seed_index", 0, "A run of several seeds trained together: which one "
                       "(seed = config.seed + index).")
  flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
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


# Samples drawn (and held) at a time: a bounded memory for any --num_samples.
CHUNK_ROWS = 4096
# Bytes a PNG file takes beyond its pixels (signature, chunks, file system block), roughly.
_PNG_OVERHEAD = 4096


def _existing_parent(path):
  path = os.path.abspath(path)
  while not os.path.exists(path):
    path = os.path.dirname(path)
  return path


def _check_output(output, to_dir):
  """Refuses an --output that cannot be written, before anything is sampled."""
  from gan import config as config_lib  # pylint: disable=g-import-not-at-top
  parent = _existing_parent(output if to_dir else os.path.dirname(os.path.abspath(output)))
  target = os.path.abspath(output.rstrip(os.sep) if to_dir else os.path.dirname(
      os.path.abspath(output)))
  if not os.path.isdir(parent):
    raise config_lib.ConfigError(f"--output {output}: {parent} is a file, not a directory; pass "
                                 "a path under a directory.")
  if not to_dir and os.path.isdir(output):
    raise config_lib.ConfigError(f"--output {output} is a directory; end it with / for PNGs.")
  if not os.access(parent, os.W_OK | os.X_OK):
    raise config_lib.ConfigError(f"--output {output}: {parent} is not writable; pass a path you "
                                 f"can write to.")
  return target, parent


def _check_room(num, one, output, parent, to_dir):
  """Refuses a --num_samples whose files would not fit on the disk (``one``: one sample)."""
  import shutil  # pylint: disable=g-import-not-at-top
  from gan import config as config_lib  # pylint: disable=g-import-not-at-top
  need = num * (one.nbytes + (_PNG_OVERHEAD if to_dir else 0))
  free = shutil.disk_usage(parent).free
  if need > free:
    raise config_lib.ConfigError(
        f"--num_samples={num} needs about {need / 1e9:.3g} GB at {output}, but {parent} has "
        f"{free / 1e9:.3g} GB free; ask for fewer samples (at most about "
        f"{free // (need // num)}) or write elsewhere.")


def _write_npz(path, chunks, num, shape, dtype, labels):
  """Writes an ``.npz`` (uncompressed, as ``np.savez``) chunk by chunk: ``arr_0`` ``[num,
  *shape]`` and, if given, ``labels``; complete under ``path`` or absent."""
  import zipfile  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from gan import writers  # pylint: disable=g-import-not-at-top
  temporary = path + ".tmp.npz"
  try:
    with writers.reporting_write_errors(path), zipfile.ZipFile(
        temporary, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
      with archive.open("arr_0.npy", "w", force_zip64=True) as f:
        np.lib.format.write_array_header_2_0(f, dict(
            descr=np.lib.format.dtype_to_descr(np.dtype(dtype)), fortran_order=False,
            shape=(num, *shape)))
        for chunk in chunks:
          f.write(np.ascontiguousarray(chunk, dtype).tobytes())
      if labels is not None:
        with archive.open("labels.npy", "w", force_zip64=True) as f:
          np.lib.format.write_array(f, np.asarray(labels))
    os.replace(temporary, path)  # complete or absent, never half-written
  finally:
    if os.path.exists(temporary):
      os.remove(temporary)


def write_samples(workdir, num, output, seed=0, step=None, labels=None, use_ema=None,
                  log=print, seed_index=0, chunk_rows=CHUNK_ROWS):
  """Samples run ``workdir`` and writes them to ``output``, ``chunk_rows`` at a time (a bounded
  memory for any ``num``, after checking the disk has room); returns the paths written."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from gan import images, runs, writers  # pylint: disable=g-import-not-at-top
  from gan import config as config_lib  # pylint: disable=g-import-not-at-top
  if num < 1:
    raise config_lib.ConfigError(f"--num_samples={num} must be positive.")
  to_dir = output.endswith(os.sep) or os.path.isdir(output)
  if not to_dir and not output.endswith(".npz"):
    raise config_lib.ConfigError(f"--output {output} must end in .npz (one file) or / (PNGs).")
  target, parent = _check_output(output, to_dir)
  run = runs.load_run(workdir, step, seed_index, log=log)
  labels = parse_labels(labels, num, run.gan.num_classes)
  one = run.sample(1, seed=seed, use_ema=use_ema, labels=None if labels is None else labels[:1])
  is_image = one.ndim == 4
  if to_dir and not is_image:
    raise config_lib.ConfigError(f"{workdir} makes {one.shape[1:]}-shaped points, not "
                                 "images; write them to a .npz file.")
  as_written = images.to_uint8(one) if is_image else one
  _check_room(num, as_written[0], output, parent, to_dir)
  chunks = (images.to_uint8(c) if is_image else c for c in run.sample_chunks(
      num, chunk_rows, seed=seed, labels=labels, use_ema=use_ema))
  if to_dir:
    with writers.reporting_write_errors(output):
      os.makedirs(target, exist_ok=True)
    paths = [os.path.join(target, f"sample_{i:06d}.png") for i in range(num)]
    written = 0
    for chunk in chunks:
      for image in chunk:
        images.save_png(image, paths[written])
        written += 1
  else:
    if run.gan.num_classes:
      labels = labels if labels is not None else np.full((num,), -1, np.int32)
    with writers.reporting_write_errors(output):
      os.makedirs(target, exist_ok=True)
    _write_npz(output, chunks, num, as_written.shape[1:], as_written.dtype,
               labels if run.gan.num_classes else None)
    paths = [output]
  log(f"Wrote {num} samples of {workdir} (step {run.step}, "
      f"{'EMA' if (run.uses_ema if use_ema is None else use_ema) else 'raw'} params) to {output}")
  return paths


def main(argv):
  cli.reject_unexpected_arguments(argv)
  f = flags.FLAGS
  cli.quiet_library_logs(f.debug)  # orbax logs every file it renames at INFO
  return cli.run_reporting_errors(
      lambda: write_samples(f.workdir, f.num_samples, f.output, f.seed, f.step, f.labels,
                            False if f.no_ema else None, seed_index=f.seed_index), f.debug)


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=cli.parse_flags)
