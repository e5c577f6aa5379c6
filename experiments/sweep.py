r"""Runs a sweep: every point of a config's ``sweep()`` (or of --grid x --seeds) as its own run.

  python -m experiments.sweep --config experiments/configs/toy_ring.py --root workdirs/ring \
      [--grid loss=non_saturating,hinge] [--seeds 0,1,2] [--parallel 2] [--print_commands] \
      [--config.num_steps=2000 ...]

Each run trains in ``<root>/<name>`` (``name`` = its overrides, e.g. ``loss=hinge,seed=1``) as an
ordinary, resumable `experiments.train` run that ends with a ``results.json``. A finished run is
skipped and its stored results reported; an unfinished one resumes from its checkpoints.
``--parallel N`` runs N at a time as separate processes, starting the next as soon as any ends;
SIGINT or SIGTERM to the sweep stops them too. ``--print_commands`` prints one
`experiments.train` command per run (for a SLURM array or a TPU queue) and trains nothing. Child
commands are built from the config as parsed (`gan.sweeps.config_flags`), never from the raw
command line. ``<root>/sweep.json`` records every run of every sweep on that root, each with its
config file and flags; `experiments.aggregate` tabulates them (mean ± s.e. over seeds).

--grid values are checked as the config's fields are (`gan.config.FIELDS`) before any run starts.
A tuple value is written in parentheses, quoted for the shell:
``--grid 'model_args.hidden=(64,64),(128,128)'`` (two runs; a model family's settings are
dotted, under ``model_args``). Seeds come from --seeds, or from ``seed`` in
--grid or in the config's ``sweep()``: one of them.
"""

import os
import shlex
import signal
import subprocess
import sys
import time

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


def sweep_points(module, config_path):
  """The config file's ``sweep()`` (``[{}]`` where it defines none), checked: a list of override
  dicts with string keys; `ConfigError` naming the file otherwise."""
  from gan import config as config_lib  # pylint: disable=g-import-not-at-top
  if not hasattr(module, "sweep"):
    return [{}]
  try:
    points = module.sweep()
  except Exception as e:  # pylint: disable=broad-except
    raise config_lib.ConfigError(f"{config_path}: sweep() raised {type(e).__name__}: {e}. Fix "
                                 "it: sweep() returns a list of override dicts.") from e
  if not isinstance(points, (list, tuple)) or not points or not all(
      isinstance(p, dict) and all(isinstance(k, str) for k in p) for p in points):
    raise config_lib.ConfigError(
        f"{config_path}: sweep() must return a non-empty list of override dicts, e.g. "
        f"[{{'loss': 'hinge'}}, {{'loss': 'least_squares'}}]; it returned {str(points)[:200]}.")
  return list(points)


def plan(config_path, base, grid_specs=(), seeds_text=None):
  """``[(name, overrides, config)]`` for every run, each config checked before any run starts."""
  from gan import config as config_lib, sweeps  # pylint: disable=g-import-not-at-top
  points = sweep_points(cli.load_config_module(config_path), config_path)
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


def base_flags(config_path, base):
  """The ``--config.*`` flags that turn the config file's own config into ``base`` (the config
  as the command line left it): what every child command carries."""
  from gan import sweeps  # pylint: disable=g-import-not-at-top
  return sweeps.config_flags(base, cli.load_config_module(config_path).get_config())


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


# How long a run given SIGINT (after the sweep was stopped) has to exit before it is killed.
_STOP_GRACE_S = 30


def _stop_on_signals():
  """SIGINT (Ctrl-C) and SIGTERM (a scheduler's stop, ``kill``) stop the sweep, whatever this
  process inherited (a parent may have set them to be ignored). Returns the handlers to restore."""
  def stop(signum, frame):
    raise KeyboardInterrupt
  return {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}


def _stop_runs(active, log):
  """Stops the runs under way (SIGINT: each exits as an interrupted training run does, its
  checkpoints kept), killing any that has not exited after `_STOP_GRACE_S` seconds."""
  for run in active:
    if run.process.poll() is None:
      run.process.send_signal(signal.SIGINT)
  deadline = time.monotonic() + _STOP_GRACE_S
  for run in active:
    try:
      run.process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
      run.process.kill()
      run.process.wait()
    run.logfile.close()
  if active:
    log(f"Stopped the runs under way ({', '.join(run.name for run in active)}); run the same "
        "command again to resume them.")


class _Child:
  """One run trained by a child process, its output in ``<root>/<name>.log``."""

  def __init__(self, name, command, log_path):
    self.name = name
    self.log_path = log_path
    self.logfile = open(log_path, "w", encoding="utf-8")  # pylint: disable=consider-using-with
    try:
      self.process = subprocess.Popen(command, stdout=self.logfile, stderr=subprocess.STDOUT,
                                      env=cli.child_environment())
    except BaseException:
      self.logfile.close()
      raise


def run_parallel(todo, parallel, command_of, root, log=print, poll_s=0.2):
  """Trains ``todo`` (``[(name, overrides, config)]``) ``parallel`` at a time, each in its own
  process; a new run starts as soon as any run ends. After a failure no new run starts (the runs
  under way finish). SIGINT or SIGTERM stops the runs under way too.

  Raises:
    ConfigError: some run failed (each named, with its log).
  """
  from gan import config as config_lib  # pylint: disable=g-import-not-at-top
  pending, active, failed = list(todo), [], []
  previous = _stop_on_signals()
  try:
    while pending or active:
      while pending and not failed and len(active) < parallel:
        name, overrides, _ = pending.pop(0)
        log(f"== {name} (started)")
        active.append(_Child(name, command_of(name, overrides),
                             os.path.join(root, f"{name}.log")))
      if not active:
        break
      time.sleep(poll_s)
      for run in [r for r in active if r.process.poll() is not None]:
        active.remove(run)
        run.logfile.close()
        if run.process.returncode:
          failed.append(f"{run.name} (exit {run.process.returncode}; see {run.log_path})")
        else:
          log(f"== {run.name} (done)")
  except KeyboardInterrupt:
    _stop_runs(active, log)
    raise
  finally:
    for signum, handler in previous.items():
      signal.signal(signum, handler)
  if failed:
    raise config_lib.ConfigError(f"run {', '.join(failed)} failed. Finished runs are kept: run "
                                 "the sweep again to resume.")


def run_sweep(config_path, base, root, grid_specs=(), seeds_text=None, parallel=1,
              print_commands=False, log=print):
  """Runs (or skips, or resumes) every run of the sweep; returns ``{name: results}``.

  Child processes (``--parallel``, ``--print_commands``) get the config as parsed here: the
  config file plus the flags that turn its config into ``base`` (`gan.sweeps.config_flags`),
  plus the run's overrides."""
  # pylint: disable-next=g-import-not-at-top
  from gan import config as config_lib, loop, sweeps, workdir as workdir_lib
  if parallel < 1:
    raise config_lib.ConfigError(f"--parallel={parallel} must be at least 1.")
  runs = plan(config_path, base, grid_specs, seeds_text)
  flag_overrides = base_flags(config_path, base)

  def command_of(name, overrides):
    return train_command(config_path, os.path.join(root, name), overrides, flag_overrides)

  if print_commands:
    for name, overrides, _ in runs:
      log(shlex.join(command_of(name, overrides)))
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
    run_parallel(todo, parallel, command_of, root, log)
  results = {name: workdir_lib.read_results(os.path.join(root, name)) for name, _, _ in runs}
  for name, result in results.items():
    log(f"{name}: {sweeps.results_line(result)}")
  return results


def main(argv):
  cli.reject_unexpected_arguments(argv)
  f = flags.FLAGS
  cli.quiet_library_logs(f.debug)
  config_path = f["config"].config_filename
  return cli.run_reporting_errors(
      lambda: run_sweep(config_path, f.config, f.root, f.grid, f.seeds, f.parallel,
                        f.print_commands), f.debug)


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=cli.parse_flags)
