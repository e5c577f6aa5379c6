"""Sweeps as data, and tables over seeds: the pure half of `experiments.sweep` / `aggregate`.

A config file may define ``sweep()`` returning a list of override dicts (a grid crossed with
seeds); each dict is one run, named by its overrides (``loss=hinge,seed=2``) and trained in
``<root>/<name>``. `parse_grid` reads ``--grid field=v1,v2`` the same way, each value checked as
`gan.config.check_config` checks it; a tuple value is written in parentheses
(``model_args.hidden=(64,64),(128,128)``). `aggregate` groups finished runs by their setting (the
overrides without the seed, a dict) and the step they stand at, and reports each metric as
mean ± standard error over the seeds. Rows are keyed by ``(setting, step)`` as data, never by a
formatted string; a config's paper values are keyed by override dicts (`paper_value`).
"""

from __future__ import annotations

import ast
import copy
import itertools
import math
import os
from typing import Any, Iterable, Mapping, Optional, Sequence

import ml_collections
import numpy as np

from gan import config as config_lib
from gan import models
from gan.errors import ConfigError

SEED_FIELDS = ("seed", "num_seeds")


def format_value(value: Any) -> str:
  """A value as ``--config.x=`` takes it and as run names show it."""
  if isinstance(value, (tuple, list)):
    return "(" + ",".join(format_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
  if isinstance(value, float):
    return repr(value)
  return str(value)


def run_name(overrides: Mapping[str, Any]) -> str:
  """``{'loss': 'hinge', 'seed': 2}`` -> ``'loss=hinge,seed=2'`` (in the dict's order)."""
  if not overrides:
    return "base"
  return ",".join(f"{k}={format_value(v)}" for k, v in overrides.items()).replace("/", "_")


def setting_of(overrides: Mapping[str, Any]) -> dict:
  """A run's overrides without its seed fields: runs of one setting share it."""
  return {k: v for k, v in overrides.items() if k not in SEED_FIELDS}


def setting_name(overrides: Mapping[str, Any]) -> str:
  """The run name without its seed fields: how a table shows a setting."""
  return run_name(setting_of(overrides))


def _frozen(value: Any) -> Any:
  return tuple(_frozen(v) for v in value) if isinstance(value, (tuple, list)) else value


def setting_key(setting: Mapping[str, Any]) -> tuple:
  """A setting as a hashable key, its fields in their order (lists read as tuples, as JSON
  returns them)."""
  return tuple((k, _frozen(v)) for k, v in setting.items())


def paper_value(paper: Sequence[tuple[Mapping[str, Any], Mapping[str, str]]],
                setting: Mapping[str, Any], metric: str) -> Optional[str]:
  """The paper's value of ``metric`` for ``setting``: ``paper`` is a config's
  ``paper_results()``, ``[(overrides, {metric: "6.3 ± 0.5"}), ...]``, matched when the overrides
  equal the setting (field order aside); None where the paper gives none."""
  wanted = dict(setting_key(setting))
  for overrides, values in paper or ():
    if dict(setting_key(overrides)) == wanted and metric in values:
      return values[metric]
  return None


def parse_seeds(text: Optional[str]) -> Optional[list[int]]:
  """``'0,1,2'`` -> ``[0, 1, 2]``; None -> None (the seeds come from the config)."""
  if text is None:
    return None
  try:
    seeds = [int(s) for s in text.split(",")]
  except ValueError as e:
    raise ConfigError(f"--seeds {text!r} must be comma-separated integers, e.g. 0,1,2.") from e
  if any(s < 0 for s in seeds):
    raise ConfigError(f"--seeds {text!r} must be non-negative integers.")
  return seeds


def cross(points: Sequence[Mapping[str, Any]], grid: Sequence[tuple[str, Sequence[Any]]],
          seeds: Optional[Sequence[int]]) -> list[dict]:
  """Every point crossed with every combination of ``grid`` values, then with ``seeds``.

  Raises:
    ConfigError: ``seeds`` given while a point or the grid sets ``seed`` too (one would
      silently replace the other).
  """
  if seeds is not None and (any("seed" in p for p in points) or any(f == "seed" for f, _ in grid)):
    raise ConfigError("--seeds and a seed in --grid or in the config's sweep() both choose the "
                      "seeds; give them one way: --seeds 0,1,2 or --grid seed=0,1,2.")
  out = []
  for point in points or [{}]:
    for values in itertools.product(*[v for _, v in grid]):
      overrides = dict(point)
      overrides.update({field: value for (field, _), value in zip(grid, values)})
      for seed in (seeds if seeds is not None else [None]):
        run = dict(overrides)
        if seed is not None:
          run["seed"] = seed
        out.append(run)
  return out


def _has_field(config: ml_collections.ConfigDict, field: str) -> bool:
  head, dot, rest = field.partition(".")
  return head in config and (not dot or rest in config[head])


def _set(config: ml_collections.ConfigDict, field: str, value: Any) -> None:
  head, dot, rest = field.partition(".")
  if dot:
    config[head][rest] = value
  else:
    config[head] = value


def apply_overrides(base: ml_collections.ConfigDict, overrides: Mapping[str, Any]
                    ) -> ml_collections.ConfigDict:
  """A copy of ``base`` with ``overrides`` set; an unknown field, or a value of the wrong type or
  out of the field's range (`gan.config.check_field`), is a `ConfigError` naming it.

  A field may be dotted (``model_args.hidden``: a setting of the model family). The copy keeps
  the config's references (``batch_size = pack * 100`` follows an overridden ``pack``). An
  override of ``model`` without ``model_args`` takes the new family's settings at their
  defaults.
  """
  config = copy.deepcopy(base)
  # The family first, so that its settings given beside it apply to it.
  for field, value in sorted(overrides.items(), key=lambda item: item[0] != "model"):
    try:
      if not _has_field(config, field):
        config_lib.field_of(field, config)  # the message: no such field or setting
        raise ConfigError(f"config.{field} is not in this config.")
      value = tuple(value) if isinstance(value, list) else value
      if field == "model" and value != config.model:
        config_lib.field_of(field).check(field, value)
        config_lib.switch_model(config, value)
      _set(config, field, value)
      config_lib.check_field(field, value, config)
    except (TypeError, ConfigError) as e:
      raise ConfigError(f"sweep override {field}={value!r}: {' '.join(str(e).split())}") from e
  return config


def config_flags(config: ml_collections.ConfigDict, reference: ml_collections.ConfigDict
                 ) -> list[str]:
  """The ``--config.<field>=<value>`` flags that make ``reference`` (a config file's
  ``get_config()``) into ``config``, as `experiments.train` reads them: ``model`` first (its
  family's settings then start at their defaults, `gan.config.switch_model`), then every other
  field and family setting whose value differs. Built from the parsed config, not from a command
  line, so a flag given as ``--config.batch_size 8`` reaches a child process as it was read."""
  flags = []
  settings = reference.model_args.to_dict() if "model_args" in reference else {}
  if "model" in config and config.model != reference.get("model"):
    flags.append(f"--config.model={config.model}")
    settings = models.default_args(config.model)
  for field in config.keys():
    if field == "model":
      continue
    if field == "model_args":
      flags += [f"--config.model_args.{k}={format_value(v)}"
                for k, v in config.model_args.items() if _frozen(settings.get(k)) != _frozen(v)]
    elif _frozen(config[field]) != _frozen(reference.get(field)):
      flags.append(f"--config.{field}={format_value(config[field])}")
  return flags


def parse_value(field: str, text: str, config: Optional[ml_collections.ConfigDict] = None) -> Any:
  """``text`` as a value of ``config.field``, strictly: read as the field's kind, then checked
  against its range (`gan.config.check_field`, as `check_config` does). A dotted
  ``model_args.<setting>`` is read as ``config.model``'s family declares it.

  A tuple is written in parentheses, ``(64,64)`` (one item: ``(64)`` or ``(64,)``).
  """
  try:
    kind = config_lib.field_of(field, config).kind
  except ConfigError as e:
    raise ConfigError(f"--grid {field}: {e}") from e
  shown = {bool: "bool (true or false)", tuple: "tuple, e.g. (64,64)"}.get(kind, kind.__name__)
  try:
    if kind is bool:
      if text.lower() not in ("true", "false", "1", "0"):
        raise ValueError(text)
      value = text.lower() in ("true", "1")
    elif kind is tuple:
      if not (text.startswith("(") and text.endswith(")")):
        raise ValueError(text)
      value = ast.literal_eval(text)
      value = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    else:
      value = kind(text)
  except (ValueError, SyntaxError) as e:
    raise ConfigError(f"--grid {field}: {text!r} is not a valid {shown} for config.{field}.") from e
  try:
    config_lib.check_field(field, value, config)
  except ConfigError as e:
    raise ConfigError(f"--grid {field}: {e}") from e
  return value


def _split_values(spec: str, values: str) -> list[str]:
  """``'(64,64),(128,128)'`` -> ``['(64,64)', '(128,128)']``: commas inside parentheses stay."""
  parts, depth, current = [], 0, ""
  for char in values:
    depth += {"(": 1, ")": -1}.get(char, 0)
    if depth < 0:
      break
    if char == "," and depth == 0:
      parts.append(current)
      current = ""
    else:
      current += char
  if depth != 0:
    raise ConfigError(f"--grid {spec!r}: unbalanced parentheses; write tuple values as "
                      "field=(64,64),(128,128).")
  return parts + [current]


def parse_grid(specs: Iterable[str], config: ml_collections.ConfigDict
               ) -> list[tuple[str, list[Any]]]:
  """``['loss=a,b', 'model_args.hidden=(64,64),(128,)']`` -> ``[('loss', ['a', 'b']), ...]``.

  Values are separated by commas and read as the field's kind (`parse_value`); a tuple value is
  written in parentheses (quote it for the shell:
  ``--grid 'model_args.hidden=(64,64),(128,128)'``). A dotted field is a setting of the model
  family (``config.model_args``). Unknown fields, a field given twice (one would silently
  replace the other), malformed values and values out of the field's range are `ConfigError`s.
  """
  grid = []
  for spec in specs:
    field, sep, values = spec.partition("=")
    if not sep or not values:
      raise ConfigError(f"--grid {spec!r} is not of the form field=value1,value2,...")
    if any(field == seen for seen, _ in grid):
      raise ConfigError(f"--grid {spec!r}: {field} is given twice; give all its values in one "
                        f"--grid, e.g. --grid {field}=a,b.")
    if not _has_field(config, field):
      raise ConfigError(f"--grid {spec!r}: config has no field {field!r}; fields are: "
                        f"{', '.join(sorted(config.keys()))}, and model_args."
                        f"{{{', '.join(config.model_args)}}}.")
    parts = _split_values(spec, values)
    if config_lib.field_of(field, config).kind is tuple and not all(
        p.startswith("(") and p.endswith(")") for p in parts):
      raise ConfigError(f"--grid {spec!r}: config.{field} takes tuples; write each value in "
                        f"parentheses, e.g. --grid '{field}=(64,64),(128,128)' for two runs or "
                        f"--grid '{field}=(64,128)' for one.")
    grid.append((field, [parse_value(field, p, config) for p in parts]))
  return grid


# ----------------------------------------------------------------------------------------------
# Tables over seeds.


def mean_and_standard_error(values: Sequence[float]) -> tuple[float, float]:
  """Mean and standard error ``std(ddof=1) / sqrt(n)`` (NaN error for one value)."""
  values = np.asarray(values, np.float64)
  if values.size == 0:
    return math.nan, math.nan
  if values.size == 1:
    return float(values[0]), math.nan
  return float(values.mean()), float(values.std(ddof=1) / math.sqrt(values.size))


def _config_key(config: Optional[Mapping[str, Any]]) -> tuple:
  """A run's flat config (`gan.config.comparable_fields`) without its seed fields, hashable."""
  return tuple(sorted((k, _frozen(v)) for k, v in (config or {}).items() if k not in SEED_FIELDS))


def _distinguishing_names(keys: Sequence[tuple], names: dict) -> dict:
  """Row names for groups whose settings read alike but whose configs differ: the setting, then
  the fields that tell them apart, ``loss=hinge [num_steps=3]``."""
  by_name: dict[str, list[tuple]] = {}
  for key in keys:
    by_name.setdefault(names[key], []).append(key)
  out = dict(names)
  for name, same in by_name.items():
    configs = [dict(key[2]) for key in same]
    fields = sorted({f for c in configs for f in c if any(c.get(f) != o.get(f) for o in configs)})
    if not fields:
      continue
    for key, config in zip(same, configs):
      shown = ",".join(f"{f}={format_value(config.get(f))}" for f in fields)
      out[key] = f"{name} [{shown}]"
  return out


def aggregate(runs: Sequence[Mapping[str, Any]], metrics: Optional[Sequence[str]] = None
              ) -> list[dict]:
  """Groups per-seed results by (setting, step, config); one row per group, first-seen order.

  Runs share a row only when they ran the same experiment to the same step: the same setting,
  the same ``step`` and, where given, the same ``config`` save for the seed. Two budgets or two
  configs of one setting make two rows, named by the fields that tell them apart.

  Args:
    runs: ``{'setting': {field: value}, 'values': [{metric: value}, ...]}`` per run (one dict
      per seed the run trained), optionally with ``'step'`` (the step the values stand at),
      ``'config'`` (the run's flat config, `gan.config.comparable_fields`) and ``'run_values':
      {metric: value}``, metrics of the run as a whole (its wall time, shared by the seeds it
      trained together), averaged over runs.
    metrics: which metrics to report (default: every metric of the first run, sorted, then the
      run metrics).

  Returns:
    ``[{'setting', 'step', 'name', 'n', 'metrics': {metric: (mean, standard_error)}, 'counts':
    {metric: k}, 'runs': r}]`` (``name``: the setting as `setting_name` shows it, with the
    fields that tell apart configs of the same setting; ``step``: None where runs gave none): a
    per-seed metric's mean and error are over the k seeds where it is finite, a run metric's
    over the group's r runs. A run without metrics (an empty or None entry) counts no seed, and
    a group with none makes no row.
  """
  groups: dict[tuple, list[dict]] = {}
  run_groups: dict[tuple, list[dict]] = {}
  settings: dict[tuple, tuple[dict, Optional[int]]] = {}
  for run in runs:
    values = [v for v in run["values"] or [] if v]
    if values:
      key = (setting_key(run["setting"]), run.get("step"), _config_key(run.get("config")))
      settings.setdefault(key, (dict(run["setting"]), run.get("step")))
      groups.setdefault(key, []).extend(values)
      run_groups.setdefault(key, []).append(run.get("run_values") or {})
  names = _distinguishing_names(list(groups), {key: run_name(settings[key][0]) for key in groups})
  if metrics is None:
    first = next((v for vs in groups.values() for v in vs), {})
    first_run = next((v for vs in run_groups.values() for v in vs), {})
    metrics = sorted(k for k, v in first.items() if isinstance(v, (int, float)))
    metrics += sorted(k for k in first_run if k not in metrics)
  rows = []
  for key, values in groups.items():
    per_run = run_groups[key]
    metric_values, counts = {}, {}
    for m in metrics:
      # A metric undefined for a seed (NaN: e.g. the reverse KL of a seed with no high-quality
      # sample) is left out of its mean, and the table says over how many seeds it stands.
      source = per_run if any(m in r for r in per_run) else values
      finite = [float(v[m]) for v in source if v.get(m) is not None and math.isfinite(v[m])]
      metric_values[m] = mean_and_standard_error(finite)
      counts[m] = len(finite) if source is values else len(values)
    setting, step = settings[key]
    rows.append(dict(setting=setting, step=step, name=names[key], n=len(values),
                     metrics=metric_values, counts=counts, runs=len(per_run)))
  return rows


def results_line(results: Optional[Mapping[str, Any]]) -> str:
  """A run's ``results.json`` in one line: its final evaluation, else its last training metrics,
  as the mean over its seeds; says so when there are none."""
  if not results:
    return "not finished (no results.json)"
  for key, what in (("eval_per_seed", "final evaluation"), ("train_per_seed", "training")):
    values = [v for v in results.get(key) or [] if v]
    if values:
      means = aggregate([dict(setting={}, values=values)])[0]["metrics"]
      shown = " ".join(f"{m}={mean:.4g}" for m, (mean, _) in means.items())
      seeds = f", mean of {len(values)} seeds" if len(values) > 1 else ""
      return f"{shown} ({what}{seeds})"
  return "finished, but its results.json holds no metrics"


def _shown(mean: float, error: float) -> str:
  if math.isnan(mean):
    return "–"
  digits = 3 if abs(mean) < 10 else 2
  return f"{mean:.{digits}f}" + ("" if math.isnan(error) else f" ± {error:.{digits}f}")


def _has_steps(rows: Sequence[Mapping[str, Any]], trend: bool) -> bool:
  """A step column for a trend, and wherever rows stand at different steps."""
  steps = {r.get("step") for r in rows}
  return (trend and steps != {None}) or len(steps) > 1


def markdown_table(rows: Sequence[Mapping[str, Any]],
                   paper: Optional[Sequence[tuple[Mapping[str, Any], Mapping[str, str]]]] = None,
                   trend: bool = False) -> str:
  """Rows of `aggregate` as Markdown: the setting (and the step, for a ``trend`` or where rows
  stand at different steps), n seeds, mean ± s.e.
  per metric, and the paper's value beside ours where ``paper`` (`paper_value`) gives one."""
  if not rows:
    return "(no finished runs)"
  metrics = list(rows[0]["metrics"])
  with_paper = [m for m in metrics
                if any(paper_value(paper, r["setting"], m) is not None for r in rows)]
  steps = _has_steps(rows, trend)
  header = ["setting"] + (["step"] if steps else []) + ["seeds"]
  for m in metrics:
    header.append(m)
    if m in with_paper:
      header.append(f"{m} (paper)")
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for row in rows:
    cells = [row["name"]] + ([str(row["step"])] if steps else []) + [str(row["n"])]
    for m in metrics:
      count = row.get("counts", {}).get(m, row["n"])
      cells.append(_shown(*row["metrics"][m]) +
                   (f" ({count} of {row['n']})" if 0 < count < row["n"] else ""))
      if m in with_paper:
        cells.append(paper_value(paper, row["setting"], m) or "–")
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def csv_table(rows: Sequence[Mapping[str, Any]], trend: bool = False) -> str:
  """Rows of `aggregate` as CSV: setting (and step, as in `markdown_table`), n, then ``<metric>_mean``,
  ``<metric>_se`` and ``<metric>_n`` (the seeds where it is finite) columns; empty where
  undefined (the standard error of one seed)."""
  if not rows:
    return "setting,n\n"
  metrics = list(rows[0]["metrics"])
  steps = _has_steps(rows, trend)
  header = (["setting"] + (["step"] if steps else []) + ["n"] +
            [f"{m}_{part}" for m in metrics for part in ("mean", "se", "n")])
  lines = [",".join(header)]
  for row in rows:
    cells = (['"' + row["name"].replace('"', '""') + '"'] + ([str(row["step"])] if steps else [])
             + [str(row["n"])])
    for m in metrics:  # an empty cell where there is no number (one seed has no s.e.)
      cells += ["" if math.isnan(v) else repr(v) for v in row["metrics"][m]]
      cells.append(str(row.get("counts", {}).get(m, row["n"])))
    lines.append(",".join(cells))
  return "\n".join(lines) + "\n"


def plot_trend(rows: Sequence[Mapping[str, Any]], metric: str, path: str,
               target: Optional[float] = None, title: str = "") -> None:
  """Draws ``metric`` of a trend's rows (`aggregate` over runs with a ``step``) against the wall time the runs took to reach each step, one line per setting with its
  mean ± s.e. over seeds as a band, into the PNG ``path``; ``target`` draws a dashed level.
  Settings whose runs did not record wall times are drawn against steps in a second panel."""
  from gan import images  # pylint: disable=g-import-not-at-top (matplotlib only here)
  series: dict[str, list] = {}
  for row in rows:
    mean, error = row["metrics"].get(metric, (math.nan, math.nan))
    wall = row["metrics"].get("wall_seconds", (math.nan, math.nan))[0]
    series.setdefault(row["name"], []).append((int(row["step"]), wall / 60, mean, error))
  timed = {s: p for s, p in series.items() if all(math.isfinite(w) for _, w, _, _ in p)}
  untimed = {s: p for s, p in series.items() if s not in timed}
  panels = [(timed, 1, "wall time (minutes, this machine)"), (untimed, 0, "step")]
  panels = [panel for panel in panels if panel[0]]
  plt = images.pyplot()
  fig, axes = plt.subplots(1, len(panels), figsize=(6.4 * len(panels), 4.4), squeeze=False)
  for ax, (group, column, label) in zip(axes[0], panels):
    for setting, points in group.items():
      points = np.asarray(sorted(points), np.float64)
      x, mean, error = points[:, column], points[:, 2], np.nan_to_num(points[:, 3])
      line, = ax.plot(x, mean, marker="o", ms=3, lw=1.4, label=setting)
      ax.fill_between(x, mean - error, mean + error, color=line.get_color(), alpha=0.2, lw=0)
    if target is not None:
      ax.axhline(target, color="0.3", lw=0.9, ls="--", label=f"target {target:g}")
    ax.set_xlabel(label)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, frameon=False)
  if title:
    fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  images.save_figure(fig, path)


# ----------------------------------------------------------------------------------------------
# A sweep's state, from its files (`experiments.sweep --status`).


def status(root: str) -> list[dict]:
  """Every run of the sweep at ``root``: ``{'name', 'state', 'step', 'num_steps', 'metrics',
  'log', 'node'}``. ``state`` is ``done`` (results at its budget), ``running`` (a trainer holds
  its workdir), ``failed`` (its last launch ended non-zero and it has not finished since: read
  ``log``), or ``pending`` (not started, or stopped: it resumes when the sweep runs again).
  Reads files only, so it works from any machine that mounts the root, while the sweep runs.
  A trainer on another node is seen as running where its filesystem's locks reach."""
  from gan import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  rows = []
  for run in workdir_lib.read_sweep(root)["runs"]:
    workdir = os.path.join(root, run["name"])
    saved = workdir_lib.saved_config(workdir) if os.path.isdir(workdir) else None
    num_steps = (saved or {}).get("num_steps", run.get("num_steps"))
    results = workdir_lib.read_results(workdir) if saved else None
    last = workdir_lib.last_metrics(workdir) if saved else None
    outcome = run.get("outcome") or {}
    if results and results.get("step") == num_steps:
      state = "done"
    elif saved and workdir_lib.trainer_holding(workdir):
      state = "running"
    elif outcome.get("state") == "failed":
      state = "failed"
    else:
      state = "pending"
    step = (results or {}).get("step") if state == "done" else (last or {}).get("step")
    rows.append(dict(name=run["name"], state=state, step=step, num_steps=num_steps,
                     metrics={k: v for k, v in (last or {}).items() if k != "step"},
                     log=os.path.join(root, f"{run['name']}.log"), node=outcome.get("node", ""),
                     error=outcome.get("error", ""), returncode=outcome.get("returncode")))
  return rows


def status_table(rows: Sequence[Mapping[str, Any]]) -> str:
  """`status` rows as text, one line a run, then the counts by state."""
  lines = []
  for row in rows:
    step = f"step {row['step'] if row['step'] is not None else '-'}/{row['num_steps'] or '?'}"
    shown = " ".join(f"{k}={v:.4g}" for k, v in sorted(row["metrics"].items())
                     if isinstance(v, (int, float)) and k in ("d_loss", "g_loss", "d_real",
                                                              "d_fake"))
    line = f"{row['state']:8s} {row['name']}  {step}  {shown}".rstrip()
    if row["state"] == "failed":
      why = f"exit {row['returncode']}" if row["returncode"] is not None else row["error"][:120]
      line += f"  ({why}; read {row['log']})"
    lines.append(line)
  counts = {}
  for row in rows:
    counts[row["state"]] = counts.get(row["state"], 0) + 1
  lines.append(", ".join(f"{n} {state}" for state, n in counts.items()) + f" of {len(rows)}")
  return "\n".join(lines)
