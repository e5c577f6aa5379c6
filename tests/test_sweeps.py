"""Tests for gan/sweeps.py (sweeps as data, tables over seeds) and the sweep / aggregate commands."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments.configs import common
from gan import config as config_lib
from gan import sweeps

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_cross_and_names():
  runs = sweeps.cross([{"pack": 1}, {"pack": 2}], [("loss", ["hinge", "non_saturating"])],
                      seeds=[0, 1])
  assert [sweeps.run_name(r) for r in runs] == [
      "pack=1,loss=hinge,seed=0", "pack=1,loss=hinge,seed=1",
      "pack=1,loss=non_saturating,seed=0", "pack=1,loss=non_saturating,seed=1",
      "pack=2,loss=hinge,seed=0", "pack=2,loss=hinge,seed=1",
      "pack=2,loss=non_saturating,seed=0", "pack=2,loss=non_saturating,seed=1"]
  assert sweeps.setting_name(runs[1]) == "pack=1,loss=hinge"
  assert sweeps.cross([], [], None) == [{}] and sweeps.run_name({}) == "base"
  assert sweeps.run_name({"mlp_hidden": (64, 128), "lr": 0.5}) == "mlp_hidden=(64,128),lr=0.5"


def test_parse_grid_is_typed_and_strict():
  base = common.base_config()
  grid = sweeps.parse_grid(["loss=a,b", "batch_size=8,16", "conditional=true,0",
                            "mlp_hidden=64:64,128", "ema_decay=0.9"], base)
  assert grid == [("loss", ["a", "b"]), ("batch_size", [8, 16]), ("conditional", [True, False]),
                  ("mlp_hidden", [(64, 64), (128,)]), ("ema_decay", [0.9])]
  for spec, message in [("loss", "not of the form"), ("los=a", "no field 'los'"),
                        ("batch_size=8,x", "'x' is not a valid int"),
                        ("conditional=ture", "'ture' is not a valid bool")]:
    with pytest.raises(config_lib.ConfigError, match=message):
      sweeps.parse_grid([spec], base)


def test_apply_overrides_checks_fields_and_types():
  base = common.base_config()
  config = sweeps.apply_overrides(base, {"loss": "hinge", "seed": 3, "mlp_hidden": [8, 8]})
  assert (config.loss, config.seed, config.mlp_hidden) == ("hinge", 3, (8, 8))
  assert base.loss == "non_saturating"  # a copy
  with pytest.raises(config_lib.ConfigError, match="no field 'los'"):
    sweeps.apply_overrides(base, {"los": "hinge"})
  with pytest.raises(config_lib.ConfigError, match="batch_size="):
    sweeps.apply_overrides(base, {"batch_size": "eight"})


def test_mean_and_standard_error_by_hand():
  mean, se = sweeps.mean_and_standard_error([1.0, 2.0, 4.0])
  assert mean == pytest.approx(7 / 3)
  assert se == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2)
                                       / 2 / 3))
  one = sweeps.mean_and_standard_error([5.0])
  assert one[0] == 5.0 and math.isnan(one[1])


def test_aggregate_groups_seeds_by_setting_and_formats_tables():
  runs = [dict(setting="pack=1", values=[{"modes": 6.0, "kl": 0.5}]),
          dict(setting="pack=2", values=[{"modes": 8.0, "kl": 0.1}, {"modes": 7.0, "kl": 0.2}]),
          dict(setting="pack=1", values=[{"modes": 7.0, "kl": 0.3}])]
  rows = sweeps.aggregate(runs)
  assert [(r["setting"], r["n"]) for r in rows] == [("pack=1", 2), ("pack=2", 2)]
  np.testing.assert_allclose(rows[0]["metrics"]["modes"], (6.5, 0.5))
  np.testing.assert_allclose(rows[1]["metrics"]["kl"], (0.15, 0.05))
  table = sweeps.markdown_table(rows, paper={"pack=2": {"modes": "7.9 ± 0.1"}})
  assert table.splitlines() == [
      "| setting | seeds | kl | modes | modes (paper) |", "|---|---|---|---|---|",
      "| pack=1 | 2 | 0.400 ± 0.100 | 6.500 ± 0.500 | – |",
      "| pack=2 | 2 | 0.150 ± 0.050 | 7.500 ± 0.500 | 7.9 ± 0.1 |"]
  assert sweeps.csv_table(rows).splitlines()[:2] == [
      "setting,n,kl_mean,kl_se,modes_mean,modes_se", '"pack=1",2,0.4,0.1,6.5,0.5']


@pytest.mark.slow
def test_sweep_command_trains_skips_resumes_and_aggregates(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  root = str(tmp_path / "sweep")
  args = [sys.executable, "-m", "experiments.sweep", "--config=experiments/configs/toy_ring.py",
          f"--root={root}", "--grid=loss=non_saturating,hinge", "--seeds=0,1",
          "--config.num_steps=4", "--config.sample_every=0", "--config.checkpoint_every=2",
          "--config.final_eval=True", "--config.mlp_hidden=(16, 16)", "--config.batch_size=16",
          "--config.eval_every=2"]
  first = subprocess.run(args + ["--parallel=2"], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True)
  assert first.stdout.count("(done)") == 4
  names = ["loss=non_saturating,seed=0", "loss=non_saturating,seed=1", "loss=hinge,seed=0",
           "loss=hinge,seed=1"]
  results = {n: json.load(open(os.path.join(root, n, "results.json"))) for n in names}
  assert all(r["step"] == 4 and r["eval_per_seed"][0]["modes"] >= 0 for r in results.values())
  # Run again: every run is skipped and reported from its stored results (never nan).
  again = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
  assert again.stdout.count("finished, skipped") == 4
  reported = lambda out: [l for l in out.splitlines() if l.startswith(("loss=", "== "))][-4:]
  assert reported(again.stdout) == reported(first.stdout)  # the stored results, as trained
  # An interrupted run (results removed, checkpoint at step 2 kept) resumes, the others skip.
  os.remove(os.path.join(root, names[0], "results.json"))
  steps = os.path.join(root, names[0], "checkpoints")
  for step in os.listdir(steps):
    if step == "4":
      subprocess.run(["rm", "-rf", os.path.join(steps, step)], check=True)
  resumed = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
  assert resumed.stdout.count("finished, skipped") == 3
  assert "Resuming from checkpoint step 2" in resumed.stdout
  # The resumed run ends in the same state, so its evaluation is the same (its training metrics
  # average a shorter logging window).
  resumed_results = json.load(open(os.path.join(root, names[0], "results.json")))
  np.testing.assert_equal(resumed_results["eval_per_seed"], results[names[0]]["eval_per_seed"])
  table = subprocess.run([sys.executable, "-m", "experiments.aggregate", f"--root={root}"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout
  assert "| loss=non_saturating | 2 |" in table and "| loss=hinge | 2 |" in table
  assert os.path.isfile(os.path.join(root, "summary.csv"))
  # --trend: every evaluated step (eval_every=2 and the final one), from each run's eval.jsonl;
  # the resumed run evaluated step 4 twice, and its last line counts once.
  trend = subprocess.run([sys.executable, "-m", "experiments.aggregate", f"--root={root}",
                          "--trend", "--metrics=modes"], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True).stdout
  rows = [l for l in trend.splitlines() if l.startswith("| loss=")]
  assert [r.split(" | ")[:2] for r in rows] == [
      ["| loss=non_saturating @ 2", "2"], ["| loss=non_saturating @ 4", "2"],
      ["| loss=hinge @ 2", "2"], ["| loss=hinge @ 4", "2"]]
  final_modes = [r["eval_per_seed"][0]["modes"] for n, r in results.items() if "hinge" in n]
  assert rows[3].split(" | ")[2] == sweeps.markdown_table(sweeps.aggregate(
      [dict(setting="x", values=[dict(modes=m) for m in final_modes])])).splitlines()[-1].split(
          " | ")[2]
  assert os.path.isfile(os.path.join(root, "trend.csv"))
