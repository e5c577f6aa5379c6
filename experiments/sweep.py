r"""Runs a sweep: every point of a config's ``sweep()`` (or of --grid x --seeds) as its own run.

  python -m experiments.sweep --config experiments/configs/toy_ring.py --root workdirs/ring \
      [--grid loss=non_saturating,hinge] [--seeds 0,1,2] [--parallel 2] [--print_commands] \
      [--config.num_steps=2000 ...]

Each run trains in ``<root>/<name>`` (``name`` = its overrides, e.g. ``loss=hinge,seed=1``) as an
ordinary, resumable `experiments.train` run that ends with a ``results.json``. A finished run is
skipped and its stored results reported; an unfinished one resumes from its checkpoints.
``--parallel N`` runs N at a time as separate processes; ``--print_commands`` prints one
`experiments.train` command per run (for a SLURM array or a TPU queue) and trains nothing.
``<root>/sweep.json`` records the config file and the runs; `experiments.aggregate` tabulates
them (mean ± s.e. over seeds).

--grid values are checked as the config's fields are (`gan.config.FIELDS`) before any run starts.
A tuple value is written in parentheses, quoted for the shell:
``--grid 'model_args.hidden=(64,64),(128,128)'`` (two runs; a model family's settings are
dotted, under ``model_args``). Seeds come from --seeds, or from ``seed`` in
--grid or in the config's ``sweep()``: one of them.
"""

import os
import shlex
import subprocess
import sys

from absl import app
from absl import flags

from experiments import cli

_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs",
                               "dcgan_mnist.py")


def define_flags():
  """The command line's flags; defined when run, not at import, so tests can import the module
  next to other experiments (absl flags are global)."""
  flags.DEFINE_string("root", None, "Directory holding one workdir per run.")
  cli.define_config_flag(_DEFAULT_CONFIG, "Base config file (may define sweep()).")
  flags.DEFINE_multi_string("grid", [], "field=v1,v2,... (repeatable), crossed with the config's "
                            "sweep(); a tuple value in parentheses: "
                            "'model_args.hidden=(64,64),(128,128)'.")
  flags.DEFINE_string("seeds", None, "Comma-separated seeds crossed with every point.")
  flags.DEFINE_integer("parallel", 1, "Runs at a time (each in its own process).")
  flags.DEFINE_bool("print_commands", False, "Print one command per run; train nothing.")
  flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
  flags.mark_flags_as_required(["root"])


def plan(config_path, base, grid_specs=(), seeds_text=None):
  """``[(name, overrides, config)]`` for every run, each config checked before any run starts."""
  from gan import config as config_lib, sweeps  # pylint: disable=g-import-not-at-top
  module = cli.load_config_module(config_path)
  points = module.sweep() if hasattr(module, "sweep") else [{}]
  runs = []
  for overrides in sweeps.cross(points, sweeps.parse_grid(grid_specs, base),
                                sweeps.parse_seeds(seeds_text)):
    name = sweeps.run_name(overrides)
    config = sweeps.apply_overrides(base, overrides)
    try:
      config_lib.check_config(config)
    except config_lib.ConfigError as e:
      raise config_lib.ConfigError(f"run {name}: {e}") from e
    runs.append((name, overrides, config))
  names = [name for name, _, _ in runs]
  if len(set(names)) != len(names):
    raise config_lib.ConfigError(f"the sweep names some runs twice: {names}.")
  return runs


def check_root(root, runs):
  """Refuses, before anything trains, a --root that cannot hold the runs, or a run directory
  holding a run of another config (resuming it would mix two experiments)."""
  from gan import config as config_lib, workdir  # pylint: disable=g-import-not-at-top
  if os.path.exists(root) and not os.path.isdir(root):
    raise config_lib.ConfigError(f"--root {root} is a file, not a directory; pass a directory "
                                 "path.")
  try:
    os.makedirs(root, exist_ok=True)
  except OSError as e:
    raise config_lib.ConfigError(f"--root {root} cannot be created ({e.strerror}); pass a "
                                 "directory path you can write to.") from e
  for name, _, config in runs:
    saved = workdir.saved_config(os.path.join(root, name))
    diffs = config_lib.config_differences(saved, config.to_dict()) if saved else []
    if diffs:
      raise config_lib.ConfigError(
          f"{os.path.join(root, name)} holds a run with a different config ({'; '.join(diffs)}); "
          "nothing was trained. Use a new --root, or the command that made it.")


def train_command(config_path, workdir, overrides, flag_overrides=()):
  from gan import sweeps  # pylint: disable=g-import-not-at-top
  return ([sys.executable, "-m", "experiments.train", f"--workdir={workdir}",
           f"--config={config_path}"] + list(flag_overrides) +
          [f"--config.{k}={sweeps.format_value(v)}" for k, v in overrides.items()])


def run_sweep(config_path, base, root, grid_specs=(), seeds_text=None, parallel=1,
              print_commands=False, flag_overrides=(), log=print):
  """Runs (or skips, or resumes) every run of the sweep; returns ``{name: results}``."""
  # pylint: disable-next=g-import-not-at-top
  from gan import config as config_lib, loop, sweeps, workdir as workdir_lib
  runs = plan(config_path, base, grid_specs, seeds_text)
  if print_commands:
    for name, overrides, _ in runs:
      log(shlex.join(train_command(config_path, os.path.join(root, name), overrides,
                                   flag_overrides)))
    return {}
  check_root(root, runs)
  workdir_lib.write_sweep(root, config_path, flag_overrides, [(n, o) for n, o, _ in runs])
  todo = []
  for name, overrides, config in runs:
    stored = workdir_lib.read_results(os.path.join(root, name))
    if stored and stored.get("step") == config.num_steps:
      log(f"== {name}: finished, skipped")
    else:
      todo.append((name, overrides, config))
  if parallel <= 1:
    for name, _, config in todo:
      log(f"== {name}")
      loop.train_and_evaluate(config, os.path.join(root, name), log=log)
  else:
    pending, active, failed = list(todo), [], []
    while pending or active:
      while pending and not failed and len(active) < parallel:
        name, overrides, _ = pending.pop(0)
        log(f"== {name} (started)")
        logfile = open(os.path.join(root, f"{name}.log"), "w", encoding="utf-8")
        active.append((name, logfile, subprocess.Popen(
            train_command(config_path, os.path.join(root, name), overrides, flag_overrides),
            stdout=logfile, stderr=subprocess.STDOUT)))
      if not active:
        break
      name, logfile, process = active.pop(0)
      process.wait()  # after a failure, the runs under way finish; no new one starts
      logfile.close()
      if process.returncode:
        failed.append(f"{name} (exit {process.returncode}; see {os.path.join(root, name)}.log)")
      else:
        log(f"== {name} (done)")
    if failed:
      raise config_lib.ConfigError(f"run {', '.join(failed)} failed. Finished runs are kept: run "
                                   "the sweep again to resume.")
  results = {name: workdir_lib.read_results(os.path.join(root, name)) for name, _, _ in runs}
  for name, result in results.items():
    log(f"{name}: {sweeps.results_line(result)}")
  return results


def main(argv):
  cli.reject_unexpected_arguments(argv)
  f = flags.FLAGS
  cli.quiet_library_logs(f.debug)
  config_path = f["config"].config_filename
  overrides = [a for a in sys.argv[1:] if a.startswith("--config.")]
  return cli.run_reporting_errors(
      lambda: run_sweep(config_path, f.config, f.root, f.grid, f.seeds, f.parallel,
                        f.print_commands, overrides), f.debug)


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=cli.parse_flags)
