r"""Tabulates a sweep: one row per setting, each metric as mean ± standard error over seeds.

  python -m experiments.aggregate --root workdirs/ring [--metrics modes,high_quality] [--train]
  python -m experiments.aggregate --root workdirs/ring --trend    # every evaluated step

Reads every ``<root>/*/results.json`` (runs of several seeds in one program count each seed),
groups the runs by setting (their sweep overrides without the seed), the step their results
stand at and their saved config (seed aside: two budgets or two configs never share a row; rows
of one setting are then named by the fields that tell them apart), and writes
``<root>/summary.md`` and ``<root>/summary.csv``. Final evaluations are tabulated (``--train``:
the last logged training metrics instead). Where the sweep's config file defines
``paper_results()`` (``[(overrides, {metric: "6.3 ± 0.5"}), ...]``, matched to a row by its
overrides), the paper's value stands beside ours.
Each run's ``wall_seconds`` (its last invocation, all its seeds together) is tabulated as a
mean over the setting's runs.

``--trend`` tabulates every evaluated step instead (runs trained with ``eval_every``; each run's
``eval.jsonl``): one row per setting and step, so a short budget shows where training is heading,
with the wall time the runs took to reach that step. It writes ``<root>/trend.md`` and
``<root>/trend.csv``; ``--plot fid`` also draws that metric against wall time (mean ± s.e. over
seeds, one line per setting) into ``<root>/trend_fid.png``.
"""

import os

from absl import app
from absl import flags

from experiments import cli

def define_flags():
  """The command line's flags; defined when run, not at import, so tests can import the module
  next to other experiments (absl flags are global)."""
  flags.DEFINE_string("root", None, "The sweep's root directory.")
  flags.DEFINE_list("metrics", None, "Metrics to report (default: all).")
  flags.DEFINE_bool("train", False, "Tabulate training metrics, not the evaluation.")
  flags.DEFINE_bool("trend", False, "One row per setting and evaluated step (eval.jsonl).")
  flags.DEFINE_string("plot", None, "With --trend: draw this metric against wall time into "
                      "<root>/trend_<metric>.png.")
  flags.DEFINE_float("plot_target", None, "With --plot: a level to draw (e.g. a target FID).")
  flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
  flags.mark_flags_as_required(["root"])


def collect(root, train=False, trend=False):
  """``(runs, paper)``: per run its setting (overrides without seeds), the step its values stand
  at, its config (so that runs of two budgets or two configs never share a row) and per-seed
  metric dicts; the config's paper values.

  With ``trend`` a run gives one entry per evaluated step.
  """
  # pylint: disable-next=g-import-not-at-top
  from gan import config as config_lib, sweeps, workdir as workdir_lib
  sweep = workdir_lib.read_sweep(root)
  runs = []
  for run in sweep["runs"]:
    setting = sweeps.setting_of(run["overrides"])
    workdir = os.path.join(root, run["name"])
    saved = workdir_lib.saved_config(workdir)
    config = config_lib.comparable_fields(saved) if saved else None
    if trend:
      for step, row in workdir_lib.read_eval_history(workdir).items():
        runs.append(dict(setting=setting, step=step, config=config,
                         values=[v for v in row["eval_per_seed"] if v],
                         run_values={k: row[k] for k in ("wall_seconds",) if k in row}))
      continue
    results = workdir_lib.read_results(workdir)  # None: not finished
    if not results:
      continue
    values = results.get("train_per_seed") if train else results.get("eval_per_seed")
    if values:
      # A run's wall time is the run's (of all its seeds together), averaged over runs.
      run_values = {"wall_seconds": results["wall_seconds"]} if "wall_seconds" in results else {}
      runs.append(dict(setting=setting, step=results.get("step"), config=config,
                       values=[v for v in values if v], run_values=run_values))
  paper = []
  if trend:
    keys = [sweeps.setting_key(r["setting"]) for r in runs]
    order = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    runs = [r for _, r in sorted(zip(keys, runs), key=lambda kr: (order[kr[0]], kr[1]["step"]))]
  elif os.path.isfile(sweep["config"]):
    paper = paper_results(sweep["config"])
  return runs, paper


def paper_results(config_path):
  """The config file's ``paper_results()`` (``[]`` where it defines none), checked: a list of
  ``(overrides dict, {metric: value})`` pairs; `ConfigError` naming the file otherwise."""
  from gan import config as config_lib  # pylint: disable=g-import-not-at-top
  module = cli.load_config_module(config_path)
  if not hasattr(module, "paper_results"):
    return []
  try:
    paper = module.paper_results()
  except Exception as e:  # pylint: disable=broad-except
    raise config_lib.ConfigError(f"{config_path}: paper_results() raised {type(e).__name__}: "
                                 f"{e}. Fix it, or remove it.") from e
  if not isinstance(paper, (list, tuple)) or not all(
      isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], dict) and
      isinstance(entry[1], dict) and all(isinstance(m, str) for m in entry[1])
      for entry in paper):
    raise config_lib.ConfigError(
        f"{config_path}: paper_results() must return a list of (overrides, values) pairs, e.g. "
        f"[({{'loss': 'hinge'}}, {{'fid': '6.3 ± 0.5'}})]; it returned {str(paper)[:200]}.")
  return [(overrides, {m: str(v) for m, v in values.items()}) for overrides, values in paper]


def aggregate(root, metrics=None, train=False, log=print, trend=False, plot=None,
              plot_target=None):
  """Writes ``summary.md`` / ``summary.csv`` (``trend.*`` with ``trend``, and with ``plot`` the
  figure ``trend_<plot>.png``) under ``root``; returns the Markdown table."""
  from gan import config as config_lib, sweeps  # pylint: disable=g-import-not-at-top
  runs, paper = collect(root, train, trend)
  if not runs:
    if trend:
      raise config_lib.ConfigError(
          f"--root {root} has no run evaluated during training (no eval.jsonl); run the sweep "
          "with --config.eval_every=N (or config.final_eval=True).")
    raise config_lib.ConfigError(
        f"--root {root} has no finished run with {'training metrics' if train else 'a final evaluation'}"
        f"{'' if train else ' (set config.final_eval=True, or pass --train)'}.")
  if plot and not trend:
    raise config_lib.ConfigError("--plot draws a trend; pass --trend with it.")
  known = sorted({k for r in runs for v in r["values"] or [] if v for k in v} |
                 {k for r in runs for k in r.get("run_values") or {}})
  unknown = [m for m in metrics or [] if m not in known]
  if unknown:
    raise config_lib.ConfigError(f"--metrics {','.join(unknown)}: no run recorded "
                                 f"{'it' if len(unknown) == 1 else 'them'}; the metrics are: "
                                 f"{', '.join(known)}.")
  rows = sweeps.aggregate(runs, metrics)
  if plot:
    if not any(plot in row["metrics"] for row in rows):
      raise config_lib.ConfigError(f"--plot {plot}: no run evaluated {plot!r}; pass one of "
                                   f"{', '.join(rows[0]['metrics'])}.")
    sweeps.plot_trend(sweeps.aggregate(runs, [plot, "wall_seconds"]), plot,
                      os.path.join(root, f"trend_{plot}.png"), plot_target,
                      title=f"{plot} during training, {root}")
  table = sweeps.markdown_table(rows, paper, trend)
  name = "trend" if trend else "summary"
  with open(os.path.join(root, f"{name}.md"), "w", encoding="utf-8") as f:
    f.write(table + "\n")
  with open(os.path.join(root, f"{name}.csv"), "w", encoding="utf-8") as f:
    f.write(sweeps.csv_table(rows, trend))
  log(table)
  return table


def main(argv):
  cli.reject_unexpected_arguments(argv)
  f = flags.FLAGS
  cli.quiet_library_logs(f.debug)  # orbax logs every file it renames at INFO
  return cli.run_reporting_errors(
      lambda: aggregate(f.root, f.metrics, f.train, trend=f.trend, plot=f.plot,
                        plot_target=f.plot_target),
      f.debug)


if __name__ == "__main__":
  define_flags()
  app.run(main, flags_parser=cli.parse_flags)
