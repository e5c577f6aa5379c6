r"""Runs a sweep: every point of a config's ``sweep()`` (or of --grid x --seeds) as its own run.

  python -m experiments.sweep --config experiments/configs/toy_ring.py --root workdirs/ring \
      [--grid loss=non_saturating,hinge] [--seeds 0,1,2] [--parallel 2] [--print_commands] \
      [--launcher local|ray|slurm ...] [--config.num_steps=2000 ...]
  python -m experiments.sweep --root workdirs/ring --status

Each run trains in ``<root>/<name>`` (``name`` = its overrides, e.g. ``loss=hinge,seed=1``) as an
ordinary, resumable `experiments.train` run that ends with a ``results.json``. A finished run is
skipped and its stored results reported; an unfinished one resumes from its checkpoints.
``--launcher`` says where runs go (`gan.launchers`): ``local`` processes (``--parallel N`` at a
time, the next starting as soon as any ends), tasks on a Ray cluster, or a Slurm job array;
SIGINT or SIGTERM to the sweep stops the runs under way. One sweep at a time per root; each
launched run first checks that its node sees the root. ``--status`` lists every run's state,
step and last losses from the files alone. ``--print_commands`` prints one
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

import dataclasses
import os
import shlex
import signal
import sys

from absl import app
from absl import flags

from experiments import cli

_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs",
                               "dcgan_mnist.py")
# The checkout: where a launched ``python -m experiments.train`` runs.
_CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
  flags.DEFINE_bool("status", False, "Print every run's state (done, running, pending, "
                    "failed), step and last metrics; reads files only.")
  flags.DEFINE_string("launcher", "local", "Where runs go: local (this machine), ray (a Ray "
                      "cluster), slurm (a Slurm job array, through submitit).")
  flags.DEFINE_string("ray_address", "auto", "ray: the cluster (auto, or host:port).")
  flags.DEFINE_float("cpus_per_run", 1, "ray, slurm: CPUs each run asks for.")
  flags.DEFINE_float("gpus_per_run", 0, "ray, slurm: GPUs each run asks for.")
  flags.DEFINE_integer("max_retries", 3, "ray: restarts of a run whose node died.")
  flags.DEFINE_string("slurm_partition", None, "slurm: the partition.")
  flags.DEFINE_integer("slurm_time_min", 60, "slurm: each job's time limit, minutes.")
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


def plan(config_path, base, grid_specs=(), seeds_text=None, module=None):
  """``[(name, overrides, config)]`` for every run, each config checked before any run starts.
  ``module``: the config file, loaded already (`cli.load_config_module`)."""
  from gan import config as config_lib, sweeps  # pylint: disable=g-import-not-at-top
  module = module or cli.load_config_module(config_path)
  points = sweep_points(module, config_path)
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


def base_flags(module, base):
  """The ``--config.*`` flags that turn the config file's own config (``module.get_config()``)
  into ``base`` (the config as the command line left it): what every child command carries."""
  from gan import sweeps  # pylint: disable=g-import-not-at-top
  return sweeps.config_flags(base, module.get_config())


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


def _stop_on_signals():
  """SIGINT (Ctrl-C) and SIGTERM (a scheduler's stop, ``kill``) stop the sweep, whatever this
  process inherited (a parent may have set them to be ignored). Returns the handlers to restore."""
  def stop(signum, frame):
    raise KeyboardInterrupt
  return {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}


def jobs_of(runs, root, command_of, marker=None):
  """The launchers' `gan.launchers.Job` of each run: its command, its log ``<root>/<name>.log``."""
  from gan import launchers  # pylint: disable=g-import-not-at-top
  return [launchers.Job(name=name, command=tuple(command_of(name, overrides)),
                        log_path=os.path.join(root, f"{name}.log"), cwd=_CHECKOUT,
                        parent_pid_variable=cli.PARENT_PID_VARIABLE, marker=marker)
          for name, overrides, _ in runs]


def launch(jobs, launcher, options, root, log=print):
  """Runs ``jobs`` with the launcher named ``launcher``; records each outcome in
  ``sweep.json``. Raises `ConfigError` naming the runs that failed (after the others ended)."""
  from gan import config as config_lib, launchers, workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  run = launchers.LAUNCHERS.get(launcher)
  previous = _stop_on_signals()
  try:
    outcomes = run(jobs, options, log)
  finally:
    for signum, handler in previous.items():
      signal.signal(signum, handler)
  logs = {job.name: job.log_path for job in jobs}
  workdir_lib.record_outcomes(root, {o.name: dict(
      state="done" if o.ok else "failed", returncode=o.returncode, node=o.node, error=o.error,
      attempts=launchers.attempts(logs[o.name])) for o in outcomes})
  failed = [f"{o.name} ({f'exit {o.returncode}' if o.returncode is not None else o.error}; see "
            f"{logs[o.name]})" for o in outcomes if not o.ok]
  if failed:
    raise config_lib.ConfigError(f"run {', '.join(failed)} failed; the other runs finished. Fix "
                                 "the cause and run the sweep again: finished runs are skipped, "
                                 "the others resume.")
  return outcomes


def run_sweep(config_path, base, root, grid_specs=(), seeds_text=None, parallel=1,
              print_commands=False, log=print, launcher="local", options=None):
  """Runs (or skips, or resumes) every run of the sweep; returns ``{name: results}``.

  The local launcher with one run at a time trains in this process; any other choice launches
  one ``experiments.train`` process per run (`gan.launchers`). Child commands get the config as
  parsed here: the config file plus the flags that turn its config into ``base``
  (`gan.sweeps.config_flags`), plus the run's overrides."""
  # pylint: disable-next=g-import-not-at-top
  from gan import config as config_lib, launchers, loop, sweeps, workdir as workdir_lib
  if parallel < 0 or (parallel < 1 and launcher == "local"):
    raise config_lib.ConfigError(f"--parallel={parallel} must be at least 1.")
  launchers.LAUNCHERS.get(launcher)  # an unknown name, before anything else
  options = dataclasses.replace(options or launchers.LaunchOptions(), parallel=parallel,
                                slurm_folder=os.path.join(os.path.abspath(root), ".submitit"))
  module = cli.load_config_module(config_path)  # once, for its sweep() and its get_config()
  runs = plan(config_path, base, grid_specs, seeds_text, module)
  flag_overrides = base_flags(module, base)
  root = os.path.abspath(root)

  def command_of(name, overrides):
    return train_command(config_path, os.path.join(root, name), overrides, flag_overrides)

  if print_commands:
    for name, overrides, _ in runs:
      log(shlex.join(command_of(name, overrides)))
    return {}
  check_root(root, runs)
  lock = workdir_lib.lock_sweep_root(root)
  try:
    workdir_lib.write_sweep(root, config_path, flag_overrides, [(n, o) for n, o, _ in runs],
                            {n: c.num_steps for n, _, c in runs})
    todo = []
    for name, overrides, config in runs:
      stored = workdir_lib.read_results(os.path.join(root, name))
      if stored and stored.get("step") == config.num_steps:
        log(f"== {name}: finished, skipped")
      else:
        todo.append((name, overrides, config))
    if launcher == "local" and parallel == 1:
      for name, _, config in todo:
        log(f"== {name}")
        loop.train_and_evaluate(config, os.path.join(root, name), log=log)
    elif todo:
      marker = workdir_lib.write_marker(root)
      launch(jobs_of(todo, root, command_of, marker), launcher, options, root, log)
  finally:
    os.close(lock)
  results = {name: workdir_lib.read_results(os.path.join(root, name)) for name, _, _ in runs}
  for name, result in results.items():
    log(f"{name}: {sweeps.results_line(result)}")
  return results


def show_status(root, log=print):
  """Prints every run of the sweep at ``root`` (`gan.sweeps.status`); reads files only."""
  from gan import sweeps  # pylint: disable=g-import-not-at-top
  table = sweeps.status_table(sweeps.status(root))
  log(table)
  return table


def main(argv):
  cli.reject_unexpected_arguments(argv)
  f = flags.FLAGS
  cli.quiet_library_logs(f.debug)
  if f.status:
    return cli.run_reporting_errors(lambda: show_status(f.root), f.debug)
  from gan import launchers  # pylint: disable=g-import-not-at-top
  options = launchers.LaunchOptions(
      cpus_per_run=f.cpus_per_run, gpus_per_run=f.gpus_per_run, ray_address=f.ray_address,
      max_retries=f.max_retries, slurm_partition=f.slurm_partition,
      slurm_time_min=f.slurm_time_min)
  return cli.run_reporting_errors(
      lambda: run_sweep(f["config"].config_filename, f.config, f.root, f.grid, f.seeds,
                        f.parallel, f.print_commands, launcher=f.launcher, options=options),
      f.debug)


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=cli.parse_flags)
