r"""Runs a grid of configs x seeds, one workdir each, and tabulates their final metrics.

  python -m experiments.sweep --workdir workdirs/loss_sweep \
      --config experiments/configs/toy_ring.py \
      --grid loss=non_saturating,saturating,hinge --seeds 0,1,2

Each point of the grid is an ordinary run in ``<workdir>/<field=value,...,seed=N>`` (so an
interrupted sweep resumes point by point, each from its checkpoints), and ``<workdir>/sweep.jsonl``
collects one line per finished run. The runs go one after another; training many seeds in one
compiled program (vmap over the state) is the planned next step.
"""

import itertools
import json
import os
import sys

from absl import app
from absl import flags
from absl import logging

from experiments import cli

_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs",
                               "dcgan_mnist.py")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory holding one workdir per run.")
_CONFIG = cli.define_config_flag(_DEFAULT_CONFIG, "Base config file.")
_GRID = flags.DEFINE_multi_string("grid", [], "field=v1,v2,... (repeatable): values to sweep.")
_SEEDS = flags.DEFINE_string("seeds", "0", "Comma-separated seeds, e.g. 0,1,2.")
_DEBUG = flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
flags.mark_flags_as_required(["workdir"])


def parse_grid(specs, config):
  """``['loss=a,b', 'batch_size=32,64']`` -> ``[('loss', ['a', 'b']), ('batch_size', [32, 64])]``.

  Values are converted to the type of the base config's field; unknown fields are refused.
  """
  from gan import config as gan_config  # pylint: disable=g-import-not-at-top
  grid = []
  for spec in specs:
    field, sep, values = spec.partition("=")
    if not sep or not values:
      raise gan_config.ConfigError(f"--grid {spec!r} is not of the form field=value1,value2,...")
    if field not in config:
      raise gan_config.ConfigError(f"--grid {spec!r}: config has no field {field!r}; fields are: "
                                f"{', '.join(sorted(config.keys()))}.")
    kind = type(config[field])
    converted = []
    for value in values.split(","):
      try:
        converted.append(value.lower() in ("1", "true", "yes") if kind is bool else kind(value))
      except ValueError as e:
        raise gan_config.ConfigError(f"--grid {spec!r}: {value!r} is not a valid {kind.__name__} "
                                  f"for config.{field}.") from e
    grid.append((field, converted))
  return grid


def parse_seeds(text):
  from gan import config as gan_config  # pylint: disable=g-import-not-at-top
  try:
    seeds = [int(s) for s in text.split(",")]
  except ValueError as e:
    raise gan_config.ConfigError(f"--seeds {text!r} must be comma-separated integers, "
                              f"e.g. 0,1,2.") from e
  if any(s < 0 for s in seeds):
    raise gan_config.ConfigError(f"--seeds {text!r} must be non-negative integers.")
  return seeds


def run_sweep(base, workdir, grid_specs, seeds_text):
  from gan import config as gan_config, loop  # pylint: disable=g-import-not-at-top
  grid = parse_grid(grid_specs, base)
  seeds = parse_seeds(seeds_text)
  points = []
  for values in itertools.product(*[v for _, v in grid]):
    for seed in seeds:
      config = base.copy_and_resolve_references()
      for (field, _), value in zip(grid, values):
        config[field] = value
      config.seed = seed
      name = ",".join([f"{f}={v}" for (f, _), v in zip(grid, values)] + [f"seed={seed}"])
      gan_config.check_config(config)  # every point is checked before any is run
      points.append((name, config))
  os.makedirs(workdir, exist_ok=True)
  results = []
  for name, config in points:
    print(f"== {name}")
    metrics = loop.train_and_evaluate(config, os.path.join(workdir, name))
    results.append(dict(run=name, **metrics))
    with open(os.path.join(workdir, "sweep.jsonl"), "a", encoding="utf-8") as f:
      f.write(json.dumps(results[-1]) + "\n")
  keys = ("d_loss", "g_loss", "d_real", "d_fake")
  print("| run | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
  for r in results:
    print(f"| {r['run']} | " + " | ".join(f"{r.get(k, float('nan')):.3f}" for k in keys) + " |")
  return results


def main(argv):
  cli.reject_unexpected_arguments(argv)
  if not _DEBUG.value:
    logging.set_verbosity(logging.WARNING)
  return cli.run_reporting_errors(
      lambda: run_sweep(_CONFIG.value, _WORKDIR.value, _GRID.value, _SEEDS.value), _DEBUG.value)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
