"""Sweeps as data, and tables over seeds: the pure half of `experiments.sweep` / `aggregate`.

A config file may define ``sweep()`` returning a list of override dicts (a grid crossed with
seeds); each dict is one run, named by its overrides (``loss=hinge,seed=2``) and trained in
``<root>/<name>``. `aggregate` groups finished runs by their setting (the overrides without the
seed) and reports each metric as mean ± standard error over the seeds.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, Iterable, Mapping, Optional, Sequence

import ml_collections
import numpy as np

from gan.config import ConfigError

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


def setting_name(overrides: Mapping[str, Any]) -> str:
  """The run name without its seed fields: runs of one setting share it."""
  return run_name({k: v for k, v in overrides.items() if k not in SEED_FIELDS})


def cross(points: Sequence[Mapping[str, Any]], grid: Sequence[tuple[str, Sequence[Any]]],
          seeds: Optional[Sequence[int]]) -> list[dict]:
  """Every point crossed with every combination of ``grid`` values, then with ``seeds``."""
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


def apply_overrides(base: ml_collections.ConfigDict, overrides: Mapping[str, Any]
                    ) -> ml_collections.ConfigDict:
  """A copy of ``base`` with ``overrides`` set; an unknown field or a value of the wrong type is
  a `ConfigError` naming it (the ConfigDict's own type checks)."""
  config = ml_collections.ConfigDict(base.to_dict())
  for field, value in overrides.items():
    if field not in config:
      raise ConfigError(f"sweep override {field}={value!r}: the config has no field {field!r}; "
                        f"fields are: {', '.join(sorted(config.keys()))}.")
    try:
      config[field] = tuple(value) if isinstance(value, list) else value
    except TypeError as e:
      raise ConfigError(f"sweep override {field}={value!r}: {' '.join(str(e).split())}") from e
  return config


def parse_value(field: str, text: str, current: Any) -> Any:
  """``text`` as a value of the type of ``config.field`` (``current``), strictly."""
  try:
    if isinstance(current, bool):
      lowered = text.lower()
      if lowered not in ("true", "false", "1", "0"):
        raise ValueError
      return lowered in ("true", "1")
    if isinstance(current, tuple):
      parts = [p for p in text.strip("()").split(":") if p]
      kind = type(current[0]) if current else int
      return tuple(kind(p) for p in parts)
    return type(current)(text)
  except ValueError as e:
    raise ConfigError(f"--grid {field}: {text!r} is not a valid {type(current).__name__} for "
                      f"config.{field}.") from e


def parse_grid(specs: Iterable[str], config: ml_collections.ConfigDict
               ) -> list[tuple[str, list[Any]]]:
  """``['loss=a,b', 'mlp_hidden=64:64,128']`` -> ``[('loss', ['a', 'b']), ...]``.

  Values take the type of the config's field (tuple items are separated by ``:``); unknown
  fields and malformed values are `ConfigError`s.
  """
  grid = []
  for spec in specs:
    field, sep, values = spec.partition("=")
    if not sep or not values:
      raise ConfigError(f"--grid {spec!r} is not of the form field=value1,value2,...")
    if field not in config:
      raise ConfigError(f"--grid {spec!r}: config has no field {field!r}; fields are: "
                        f"{', '.join(sorted(config.keys()))}.")
    grid.append((field, [parse_value(field, v, config[field]) for v in values.split(",")]))
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


def aggregate(runs: Sequence[Mapping[str, Any]], metrics: Optional[Sequence[str]] = None
              ) -> list[dict]:
  """Groups per-seed results by setting; one row per setting, in first-seen order.

  Args:
    runs: ``{'setting': str, 'values': [{metric: value}, ...]}`` per run (one dict per seed the
      run trained).
    metrics: which metrics to report (default: every metric of the first run, sorted).

  Returns:
    ``[{'setting', 'n', 'metrics': {metric: (mean, standard_error)}}]``.
  """
  groups: dict[str, list[dict]] = {}
  for run in runs:
    groups.setdefault(run["setting"], []).extend(run["values"])
  if metrics is None:
    first = next((v for vs in groups.values() for v in vs), {})
    metrics = sorted(k for k, v in first.items() if isinstance(v, (int, float)))
  rows = []
  for setting, values in groups.items():
    rows.append(dict(setting=setting, n=len(values), metrics={
        m: mean_and_standard_error([v[m] for v in values if m in v]) for m in metrics}))
  return rows


def _shown(mean: float, error: float) -> str:
  if math.isnan(mean):
    return "–"
  digits = 3 if abs(mean) < 10 else 2
  return f"{mean:.{digits}f}" + ("" if math.isnan(error) else f" ± {error:.{digits}f}")


def markdown_table(rows: Sequence[Mapping[str, Any]],
                   paper: Optional[Mapping[str, Mapping[str, str]]] = None) -> str:
  """Rows of `aggregate` as Markdown: mean ± s.e. per metric, n seeds, the paper's value beside
  ours where ``paper[setting][metric]`` names one."""
  if not rows:
    return "(no finished runs)"
  metrics = list(rows[0]["metrics"])
  with_paper = [m for m in metrics if paper and any(m in paper.get(r["setting"], {})
                                                    for r in rows)]
  header = ["setting", "seeds"]
  for m in metrics:
    header.append(m)
    if m in with_paper:
      header.append(f"{m} (paper)")
  lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
  for row in rows:
    cells = [row["setting"], str(row["n"])]
    for m in metrics:
      cells.append(_shown(*row["metrics"][m]))
      if m in with_paper:
        cells.append((paper or {}).get(row["setting"], {}).get(m, "–"))
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def csv_table(rows: Sequence[Mapping[str, Any]]) -> str:
  """Rows of `aggregate` as CSV: setting, n, then ``<metric>_mean``, ``<metric>_se`` columns."""
  if not rows:
    return "setting,n\n"
  metrics = list(rows[0]["metrics"])
  header = ["setting", "n"] + [f"{m}_{part}" for m in metrics for part in ("mean", "se")]
  lines = [",".join(header)]
  for row in rows:
    cells = ['"' + row["setting"].replace('"', '""') + '"', str(row["n"])]
    for m in metrics:
      cells += [repr(v) for v in row["metrics"][m]]
    lines.append(",".join(cells))
  return "\n".join(lines) + "\n"
