"""Tests for gan/sweeps.py (sweeps as data, tables over seeds) and the sweep / aggregate commands."""

import dataclasses
import json
import math
import os
import re
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

from experiments import sweep
from experiments.configs import common
from experiments.configs import toy_ring
from gan import config as config_lib
from gan import loop
from gan import sweeps
from gan import workdir as workdir_lib

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
  assert sweeps.run_name({"model_args.hidden": (64, 128), "lr": 0.5}) == (
      "model_args.hidden=(64,128),lr=0.5")


def mlp_base():
  return common.set_model(common.base_config(), "mlp")


def test_parse_grid_is_typed_and_strict():
  base = mlp_base()
  grid = sweeps.parse_grid(["loss=hinge,least_squares", "batch_size=8,16", "conditional=true,0",
                            "model_args.hidden=(64,64),(128),(32,)", "ema_decay=0.9"], base)
  assert grid == [("loss", ["hinge", "least_squares"]), ("batch_size", [8, 16]),
                  ("conditional", [True, False]),
                  ("model_args.hidden", [(64, 64), (128,), (32,)]), ("ema_decay", [0.9])]
  for spec, message in [("loss", "not of the form"), ("los=a", "no field 'los'"),
                        ("batch_size=8,x", "'x' is not a valid int"),
                        ("conditional=ture", "'ture' is not a valid bool (true or false)"),
                        ("model_args.hidden=((64)", "unbalanced parentheses"),
                        ("model_args.hidden=(a,b)", "'(a,b)' is not a valid tuple"),
                        ("model_args.width=8", "no field 'model_args.width'")]:
    with pytest.raises(config_lib.ConfigError, match=re.escape(message)):
      sweeps.parse_grid([spec], base)


@pytest.mark.parametrize("spec", ["model_args.hidden=64,128", "model_args.hidden=64:64",
                                  "model_args.hidden=(64),128"])
def test_a_tuple_field_in_a_grid_says_how_to_write_it(spec):
  with pytest.raises(config_lib.ConfigError) as info:
    sweeps.parse_grid([spec], mlp_base())
  assert ("config.model_args.hidden takes tuples; write each value in parentheses, e.g. "
          "--grid 'model_args.hidden=(64,64),(128,128)' for two runs") in str(info.value)


@pytest.mark.parametrize("spec,message", [
    ("adam_b1=0.5,2.0", "--grid adam_b1: config.adam_b1=2.0 must be in [0, 1)"),
    ("d_learning_rate=inf", "--grid d_learning_rate: config.d_learning_rate=inf must be a "
     "positive number (finite)"),
    ("loss=hinge,minimax", "--grid loss: config.loss='minimax' is not valid; choose one of:"),
    ("model_args.hidden=(64,0)", "--grid model_args.hidden: config.model_args.hidden=(64, 0) "
     "must be a non-empty tuple of positive integers"),
    ("eval_every=-1", "--grid eval_every: config.eval_every=-1 must be an integer >= 0"),
    ("seed=-2", "--grid seed: config.seed=-2 must be a non-negative integer"),
])
def test_grid_values_are_checked_as_check_config_checks_them(spec, message):
  with pytest.raises(config_lib.ConfigError) as info:
    sweeps.parse_grid([spec], mlp_base())
  assert message in str(info.value)


def test_apply_overrides_checks_fields_and_types():
  base = mlp_base()
  config = sweeps.apply_overrides(base, {"loss": "hinge", "seed": 3, "model_args.hidden": [8, 8]})
  assert (config.loss, config.seed, config.model_args.hidden) == ("hinge", 3, (8, 8))
  assert base.model_args.hidden == (256, 256)  # a copy
  # Another family takes its own settings at their defaults; references are kept.
  other = sweeps.apply_overrides(base, {"model": "dcgan28"})
  assert dict(other.model_args) == {"d_dropout": 0.3, "phase_decomposed_upsample": True,
                                    "spectral_norm": False}
  # The config's references carry over: pacgan_ring's batch follows its packing.
  from experiments.configs import pacgan_ring  # pylint: disable=g-import-not-at-top
  assert sweeps.apply_overrides(pacgan_ring.get_config(), {"pack": 3}).batch_size == 300
  with pytest.raises(config_lib.ConfigError, match=re.escape(
      "config.model_args.hiden is not a setting of model 'mlp' (did you mean model_args.hidden?)")):
    sweeps.apply_overrides(base, {"model_args.hiden": (8,)})
  assert base.loss == "non_saturating"  # a copy
  with pytest.raises(config_lib.ConfigError, match=re.escape(
      "config.los is not a field jaxgan reads (did you mean loss?)")):
    sweeps.apply_overrides(base, {"los": "hinge"})
  with pytest.raises(config_lib.ConfigError, match="batch_size="):
    sweeps.apply_overrides(base, {"batch_size": "eight"})
  with pytest.raises(config_lib.ConfigError, match=re.escape(
      "sweep override adam_b2=1.0: config.adam_b2=1.0 must be in [0, 1)")):
    sweeps.apply_overrides(base, {"adam_b2": 1.0})


def test_seeds_are_chosen_one_way():
  assert sweeps.cross([{}], [("seed", [5])], None) == [{"seed": 5}]
  assert sweeps.parse_seeds("0,2") == [0, 2] and sweeps.parse_seeds(None) is None
  for points, grid in [([{"seed": 1}], []), ([{}], [("seed", [5])])]:
    with pytest.raises(config_lib.ConfigError, match="--seeds and a seed in --grid"):
      sweeps.cross(points, grid, [0, 1])
  for text in ("a,b", "-1"):
    with pytest.raises(config_lib.ConfigError, match="--seeds"):
      sweeps.parse_seeds(text)


def test_a_grid_seed_reaches_the_run_config(monkeypatch):
  monkeypatch.setattr(jax, "device_count", lambda: 1)  # toy_ring's batch of 100, on one device
  base = toy_ring.get_config()
  runs = sweep.plan(os.path.join(ROOT, "experiments", "configs", "toy_ring.py"), base,
                    ["seed=5,6"])
  assert [(name, config.seed) for name, _, config in runs] == [("seed=5", 5), ("seed=6", 6)]
  assert sweep.train_command("c.py", "w", runs[0][1])[-1] == "--config.seed=5"
  # A combination that cannot work names the run, before any run starts.
  with pytest.raises(config_lib.ConfigError, match="run model=dcgan32: config.model='dcgan32' "
                     "does not fit config.dataset='toy_ring'"):
    sweep.plan(os.path.join(ROOT, "experiments", "configs", "toy_ring.py"), base,
               ["model=dcgan32"])


def test_check_root_refuses_a_file_and_a_run_of_another_config(tmp_path):
  a_file = tmp_path / "a_file"
  a_file.write_text("x")
  for root, message in [(a_file, "is a file, not a directory"), (a_file / "sub", "cannot be "
                                                                 "created")]:
    with pytest.raises(config_lib.ConfigError, match=message):
      sweep.check_root(str(root), [])
  config = toy_ring.get_config()
  (tmp_path / "root" / "base").mkdir(parents=True)
  (tmp_path / "root" / "base" / "config.json").write_text(config.to_json())
  sweep.check_root(str(tmp_path / "root"), [("base", {}, config)])
  other = sweeps.apply_overrides(config, {"loss": "hinge"})
  with pytest.raises(config_lib.ConfigError, match="loss: 'non_saturating' -> 'hinge'.*nothing "
                     "was trained"):
    sweep.check_root(str(tmp_path / "root"), [("base", {}, other)])


def test_mean_and_standard_error_by_hand():
  mean, se = sweeps.mean_and_standard_error([1.0, 2.0, 4.0])
  assert mean == pytest.approx(7 / 3)
  assert se == pytest.approx(math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2)
                                       / 2 / 3))
  one = sweeps.mean_and_standard_error([5.0])
  assert one[0] == 5.0 and math.isnan(one[1])


def test_aggregate_groups_seeds_by_setting_and_formats_tables():
  runs = [dict(setting={"pack": 1}, values=[{"modes": 6.0, "kl": 0.5}]),
          dict(setting={"pack": 2}, values=[{"modes": 8.0, "kl": 0.1}, {"modes": 7.0, "kl": 0.2}]),
          dict(setting={"pack": 1}, values=[{"modes": 7.0, "kl": 0.3}])]
  rows = sweeps.aggregate(runs)
  assert [(r["setting"], r["name"], r["n"]) for r in rows] == [({"pack": 1}, "pack=1", 2),
                                                                ({"pack": 2}, "pack=2", 2)]
  np.testing.assert_allclose(rows[0]["metrics"]["modes"], (6.5, 0.5))
  np.testing.assert_allclose(rows[1]["metrics"]["kl"], (0.15, 0.05))
  table = sweeps.markdown_table(rows, paper=[({"pack": 2}, {"modes": "7.9 ± 0.1"})])
  assert table.splitlines() == [
      "| setting | seeds | kl | modes | modes (paper) |", "|---|---|---|---|---|",
      "| pack=1 | 2 | 0.400 ± 0.100 | 6.500 ± 0.500 | – |",
      "| pack=2 | 2 | 0.150 ± 0.050 | 7.500 ± 0.500 | 7.9 ± 0.1 |"]
  assert sweeps.csv_table(rows).splitlines()[:2] == [
      "setting,n,kl_mean,kl_se,kl_n,modes_mean,modes_se,modes_n",
      '"pack=1",2,0.4,0.1,2,6.5,0.5,2']


def test_a_metric_undefined_for_a_seed_is_left_out_and_counted():
  """The reverse KL of a seed with no high-quality sample is NaN: the mean is over the others,
  and the table says over how many."""
  runs = [dict(setting={"pack": 4}, values=[{"kl": math.nan, "modes": 0},
                                         {"kl": 1.0, "modes": 4}, {"kl": 2.0, "modes": 2}])]
  rows = sweeps.aggregate(runs)
  np.testing.assert_allclose(rows[0]["metrics"]["kl"], (1.5, 0.5))
  assert rows[0]["counts"] == {"kl": 2, "modes": 3}
  assert sweeps.markdown_table(rows).splitlines()[-1] == (
      "| pack=4 | 3 | 1.500 ± 0.500 (2 of 3) | 2.000 ± 1.155 |")
  assert sweeps.csv_table(rows).splitlines()[1].startswith('"pack=4",3,1.5,0.5,2,2.0,1.15470053837925')


def test_runs_without_metrics_make_no_rows_and_no_nan():
  runs = [dict(setting={"a": 1}, values=[{"modes": 6.0}]),
          dict(setting={"a": 1}, values=[None, {}]),
          dict(setting={"b": 1}, values=None), dict(setting={"c": 1}, values=[])]
  rows = sweeps.aggregate(runs)
  assert [(r["name"], r["n"]) for r in rows] == [("a=1", 1)]
  assert "nan" not in sweeps.csv_table(rows) and sweeps.csv_table(rows).splitlines()[1] == (
      '"a=1",1,6.0,,1')
  assert sweeps.markdown_table(rows).splitlines()[-1] == "| a=1 | 1 | 6.000 |"


def test_results_line_says_what_a_run_holds():
  assert sweeps.results_line(None) == "not finished (no results.json)"
  assert sweeps.results_line(dict(step=4, train_per_seed=None, train_mean={})) == (
      "finished, but its results.json holds no metrics")
  assert sweeps.results_line(dict(train_per_seed=[{"d_loss": 1.0}, {"d_loss": 2.0}],
                                  eval_per_seed=[{"modes": 7}])) == "modes=7 (final evaluation)"
  assert sweeps.results_line(dict(train_per_seed=[{"d_loss": 1.0}, {"d_loss": 2.0}])) == (
      "d_loss=1.5 (training, mean of 2 seeds)")


@pytest.mark.slow
def test_sweep_command_trains_skips_resumes_and_aggregates(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  root = str(tmp_path / "sweep")
  args = [sys.executable, "-m", "experiments.sweep", "--config=experiments/configs/toy_ring.py",
          f"--root={root}", "--grid=loss=non_saturating,hinge", "--seeds=0,1",
          "--config.num_steps=4", "--config.sample_every=0", "--config.checkpoint_every=2",
          "--config.final_eval=True", "--config.model_args.hidden=(16, 16)", "--config.batch_size=16",
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
                          "--trend", "--metrics=modes,wall_seconds", "--plot=modes"], cwd=ROOT,
                         env=env, capture_output=True, text=True, check=True).stdout
  rows = [l for l in trend.splitlines() if l.startswith("| loss=")]
  assert [r.split(" | ")[:3] for r in rows] == [
      ["| loss=non_saturating", "2", "2"], ["| loss=non_saturating", "4", "2"],
      ["| loss=hinge", "2", "2"], ["| loss=hinge", "4", "2"]]
  final_modes = [r["eval_per_seed"][0]["modes"] for n, r in results.items() if "hinge" in n]
  assert rows[3].split(" | ")[3] == sweeps.markdown_table(sweeps.aggregate(
      [dict(setting={"x": 1}, values=[dict(modes=m) for m in final_modes])])).splitlines()[-1].split(
          " | ")[2].rstrip(" |")
  assert os.path.isfile(os.path.join(root, "trend.csv"))
  # Each evaluation records how long its run's invocation had been going: later steps later,
  # except in the resumed run, whose step 4 counts from the resumption.
  for name in names:
    wall = {step: row["wall_seconds"]
            for step, row in workdir_lib.read_eval_history(os.path.join(root, name)).items()}
    assert list(wall) == [2, 4] and min(wall.values()) > 0
    assert name == names[0] or wall[2] < wall[4]
  with open(os.path.join(root, "trend_modes.png"), "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_trend_draws_timed_and_untimed_settings(tmp_path):
  runs = [dict(setting={"lr": 1}, step=step, values=[{"fid": 50.0 / step}],
               run_values={"wall_seconds": 30.0 * step}) for step in (1, 2, 3)]
  runs += [dict(setting={"lr": 2}, step=step, values=[{"fid": 9.0}, {"fid": 7.0}])
           for step in (2, 4)]
  rows = sweeps.aggregate(runs, ["fid", "wall_seconds"])
  path = str(tmp_path / "trend.png")
  sweeps.plot_trend(rows, "fid", path, target=13.2)
  from PIL import Image  # pylint: disable=g-import-not-at-top
  with Image.open(path) as image:  # two panels: wall time (lr=1) and steps (lr=2, untimed)
    assert image.size[0] > 1.8 * image.size[1]
  sweeps.plot_trend(rows[:3], "fid", path)
  with Image.open(path) as image:
    assert image.size[0] < 1.8 * image.size[1]


def test_run_metrics_average_over_runs_not_seeds():
  """A run's wall time is shared by the seeds it trained together: one value per run."""
  runs = [dict(setting={"s": "a"}, values=[{"fid": 1.0}] * 10,
               run_values={"wall_seconds": 200.0}),
          dict(setting={"s": "b"}, values=[{"fid": 2.0}], run_values={"wall_seconds": 100.0}),
          dict(setting={"s": "b"}, values=[{"fid": 4.0}], run_values={"wall_seconds": 140.0})]
  rows = sweeps.aggregate(runs)
  assert [r["runs"] for r in rows] == [1, 2]
  np.testing.assert_allclose(rows[1]["metrics"]["wall_seconds"], (120.0, 20.0))
  assert sweeps.markdown_table(rows).splitlines()[2:] == [
      "| s=a | 10 | 1.000 ± 0.000 | 200.00 |", "| s=b | 2 | 3.000 ± 1.000 | 120.00 ± 20.00 |"]


def test_a_grid_field_given_twice_is_refused():
  """``--grid loss=hinge --grid loss=least_squares`` would run only the second."""
  with pytest.raises(config_lib.ConfigError, match=re.escape(
      "--grid 'loss=least_squares': loss is given twice; give all its values in one --grid")):
    sweeps.parse_grid(["loss=hinge", "loss=least_squares"], common.base_config())


def test_aggregate_refuses_a_metric_no_run_recorded(tmp_path):
  """A typo in --metrics (``fdi``) is named with the metrics there are, not tabulated as
  dashes."""
  from experiments import aggregate  # pylint: disable=g-import-not-at-top
  root = str(tmp_path)
  workdir_lib.write_sweep(root, "experiments/configs/toy_ring.py", [],
                          [("seed=0", {"seed": 0}), ("seed=1", {"seed": 1})])
  for seed in (0, 1):
    os.makedirs(os.path.join(root, f"seed={seed}"))
    workdir_lib.write_results(os.path.join(root, f"seed={seed}"), dict(
        step=2, eval_per_seed=[{"fid": 10.0 + seed, "modes": 8.0}], wall_seconds=3.0))
  with pytest.raises(config_lib.ConfigError, match=re.escape(
      "--metrics fdi: no run recorded it; the metrics are: fid, modes, wall_seconds.")):
    aggregate.aggregate(root, metrics=["fdi", "modes"], log=lambda m: None)
  table = aggregate.aggregate(root, metrics=["fid", "modes"], log=lambda m: None)
  assert table.splitlines()[-1] == "| base | 2 | 10.50 ± 0.50 | 8.000 ± 0.000 |"


# ---------------------------------------------------------------------------------------------
# Issue 23: tables never pool two budgets or two configs; a sweep's record accumulates; child
# commands carry the parsed config; --parallel schedules and stops its children.


def _fake_run(root, name, overrides, step, config_overrides=(), fid=10.0):
  """A finished run as training leaves it: config.json and results.json."""
  workdir = os.path.join(root, name)
  os.makedirs(workdir)
  config = sweeps.apply_overrides(toy_ring.get_config(), dict(overrides, **dict(config_overrides)))
  with open(os.path.join(workdir, workdir_lib.CONFIG_FILE), "w", encoding="utf-8") as f:
    f.write(config.to_json())
  workdir_lib.write_results(workdir, dict(step=step, eval_per_seed=[{"fid": fid}]))


def test_aggregate_never_pools_two_budgets_or_two_configs(tmp_path):
  """Seed 0 finished at step 3 (num_steps=3) and seed 1 at step 2 (num_steps=2): two rows, each
  saying what tells it apart; a same-named setting trained with another config (an --config.x
  flag given to one sweep only) is a row of its own too."""
  from experiments import aggregate  # pylint: disable=g-import-not-at-top
  root = str(tmp_path)
  workdir_lib.write_sweep(root, "experiments/configs/toy_ring.py", [],
                          [("seed=0", {"seed": 0}), ("seed=1", {"seed": 1}),
                           ("seed=2", {"seed": 2})])
  _fake_run(root, "seed=0", {"seed": 0}, 3, {"num_steps": 3}, fid=1.0)
  _fake_run(root, "seed=1", {"seed": 1}, 2, {"num_steps": 2}, fid=5.0)
  _fake_run(root, "seed=2", {"seed": 2}, 2, {"num_steps": 2, "batch_size": 64}, fid=9.0)
  table = aggregate.aggregate(root, log=lambda line: None)
  rows = [line for line in table.splitlines()[2:]]
  assert len(rows) == 3, table
  assert "| step |" in table.splitlines()[0]
  assert any("[batch_size=" in r and "num_steps=3" in r and "| 3 | 1 | 1.000 |" in r for r in rows)
  assert any("num_steps=2" in r and "| 2 | 1 | 5.000 |" in r for r in rows), table
  assert not any("3.000" in r for r in rows)  # the mean of 1 and 5 is nowhere


def test_same_config_same_step_still_pools(tmp_path):
  from experiments import aggregate  # pylint: disable=g-import-not-at-top
  root = str(tmp_path)
  workdir_lib.write_sweep(root, "experiments/configs/toy_ring.py", [],
                          [("seed=0", {"seed": 0}), ("seed=1", {"seed": 1})])
  _fake_run(root, "seed=0", {"seed": 0}, 2, {"num_steps": 2}, fid=1.0)
  _fake_run(root, "seed=1", {"seed": 1}, 2, {"num_steps": 2}, fid=5.0)
  table = aggregate.aggregate(root, log=lambda line: None)
  assert table.splitlines()[2].startswith("| base | 2 | 3.000 ± 2.000 |"), table


def test_a_second_sweep_adds_its_runs_to_the_record(tmp_path):
  root = str(tmp_path)
  workdir_lib.write_sweep(root, "experiments/configs/toy_ring.py", ["--config.num_steps=4"],
                          [("loss=hinge", {"loss": "hinge"}), ("loss=minimax", {"loss": "minimax"})])
  workdir_lib.write_sweep(root, "experiments/configs/toy_grid.py", [],
                          [("pack=2", {"pack": 2}), ("loss=hinge", {"loss": "hinge"})])
  record = workdir_lib.read_sweep(root)
  assert [r["name"] for r in record["runs"]] == ["loss=hinge", "loss=minimax", "pack=2"]
  by_name = {r["name"]: r for r in record["runs"]}
  assert by_name["loss=minimax"]["config"].endswith("toy_ring.py")
  assert by_name["loss=minimax"]["flag_overrides"] == ["--config.num_steps=4"]
  assert by_name["loss=hinge"]["config"].endswith("toy_grid.py")  # updated by the second
  assert record["config"].endswith("toy_grid.py")


@pytest.mark.parametrize("text,message", [
    ("{", "is not valid JSON"), ('{"runs": 3}', "is not a sweep's record"),
    ('[1, 2]', "holds a JSON list"),
    ('{"config": "c.py", "runs": [{"name": 1, "overrides": {}}]}', "is not a sweep's record")])
def test_a_damaged_sweep_record_is_named_and_not_overwritten(tmp_path, text, message):
  root = str(tmp_path)
  path = os.path.join(root, workdir_lib.SWEEP_FILE)
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)
  for call in (lambda: workdir_lib.read_sweep(root),
               lambda: workdir_lib.write_sweep(root, "c.py", [], [("a", {})])):
    with pytest.raises(config_lib.ConfigError, match=re.escape(path) + ".*" + re.escape(message)):
      call()
  assert open(path, encoding="utf-8").read() == text


def test_config_flags_rebuild_the_parsed_config():
  """The flags a child command gets make the config file's config into the parsed one: model
  switched first, its settings, and every other changed field."""
  reference = toy_ring.get_config()
  config = sweeps.apply_overrides(reference, {"batch_size": 8, "model": "pacgan_mlp",
                                              "model_args.d_dropout": 0.25, "loss": "hinge"})
  flags = sweeps.config_flags(config, reference)
  assert flags[0] == "--config.model=pacgan_mlp"
  assert set(flags[1:]) == {"--config.batch_size=8", "--config.loss=hinge",
                            "--config.model_args.d_dropout=0.25"}
  assert sweeps.config_flags(reference, reference) == []
  # Applying them (as the command line does) gives the same config back.
  rebuilt = sweeps.apply_overrides(reference, {
      f[len("--config."):].split("=")[0]: sweeps.parse_value(
          f[len("--config."):].split("=")[0], f.split("=", 1)[1],
          sweeps.apply_overrides(reference, {"model": "pacgan_mlp"})) for f in flags})
  assert rebuilt.to_dict() == config.to_dict()


def _sweep_command(root, *args):
  return [sys.executable, "-m", "experiments.sweep", "--config=experiments/configs/toy_ring.py",
          f"--root={root}", *args]


def _env():
  return dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)


@pytest.mark.slow
def test_parallel_children_get_the_config_as_parsed(tmp_path):
  """``--config.batch_size 8`` (a space, as absl accepts) reaches every child of --parallel 2."""
  root = str(tmp_path / "sweep")
  done = subprocess.run(_sweep_command(root, "--grid=loss=hinge,least_squares", "--parallel=2",
                                       "--config.batch_size", "8", "--config.num_steps", "2",
                                       "--config.sample_every=0", "--config.log_every=1"),
                        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stdout + done.stderr
  for name in ("loss=hinge", "loss=least_squares"):
    saved = workdir_lib.saved_config(os.path.join(root, name))
    assert saved["batch_size"] == 8 and saved["num_steps"] == 2, name
    assert saved["loss"] == name.split("=")[1]
  printed = subprocess.run(_sweep_command(root, "--grid=loss=hinge", "--print_commands",
                                          "--config.batch_size", "8"),
                           cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
  assert "--config.batch_size=8" in printed.stdout, printed.stdout + printed.stderr


def _jobs(tmp_path, commands):
  from gan import launchers  # pylint: disable=g-import-not-at-top
  return [launchers.Job(name=name, command=(sys.executable, "-c", code),
                        log_path=str(tmp_path / f"{name}.log"), cwd=str(tmp_path))
          for name, code in commands.items()]


def test_local_launcher_starts_the_next_run_as_soon_as_any_ends(tmp_path):
  """Two at a time: run a ends only once run c has started (or after 60 s), b at once; so c
  must start when b ends, while a still runs. No timing: a pool that waited for the first
  started run would make a wait its 60 s and then fail the order below."""
  from gan.launchers import LaunchOptions, local  # pylint: disable=g-import-not-at-top
  events = []
  started = str(tmp_path / "c_started")
  wait_for_c = ("import os, time\nfor _ in range(600):\n  if os.path.exists(%r): break\n"
                "  time.sleep(0.1)" % started)
  jobs = _jobs(tmp_path, {"a": wait_for_c, "b": "pass", "c": f"open({started!r}, 'w')"})
  outcomes = local.launch(jobs, LaunchOptions(parallel=2), events.append, poll_s=0.05)
  assert events.index("== c (started)") < events.index("== a (done)"), events
  assert all(o.ok for o in outcomes)


def test_a_failed_run_is_an_outcome_and_the_others_finish(tmp_path):
  from gan.launchers import LaunchOptions, local  # pylint: disable=g-import-not-at-top
  jobs = _jobs(tmp_path, {"bad": "raise SystemExit(3)", "b": "import time; time.sleep(0.3)",
                          "c": "pass"})
  outcomes = local.launch(jobs, LaunchOptions(parallel=2), lambda m: None, poll_s=0.05)
  assert [(o.name, o.returncode) for o in outcomes] == [("bad", 3), ("b", 0), ("c", 0)]
  assert open(tmp_path / "bad.log").read().startswith("# jaxgan: started on ")


def test_a_job_whose_node_does_not_see_the_root_never_starts(tmp_path):
  """The marker the driver wrote is what a node must see; another token (another sweep's root,
  or a local directory of the same name) is refused with the node and the path."""
  from gan import launchers  # pylint: disable=g-import-not-at-top
  path, token = workdir_lib.write_marker(str(tmp_path))
  job = launchers.Job(name="a", command=(sys.executable, "-c", "open('ran', 'w')"),
                      log_path=str(tmp_path / "a.log"), cwd=str(tmp_path), marker=(path, token))
  assert launchers.run_job(job).ok and os.path.exists(tmp_path / "ran")
  os.remove(tmp_path / "ran")
  for marker, says in (((path, "another"), "another sweep's marker"),
                       ((str(tmp_path / "nowhere" / ".sweep_marker"), token), "is missing")):
    outcome = launchers.run_job(dataclasses.replace(job, marker=marker))
    assert outcome.root_not_visible and not outcome.ok
    assert f"node {socket.gethostname()} does not see the sweep's root" in outcome.error
    assert says in outcome.error and not os.path.exists(tmp_path / "ran")


def test_one_driver_per_root(tmp_path):
  fd = workdir_lib.lock_sweep_root(str(tmp_path))
  with pytest.raises(config_lib.ConfigError, match=f"in use by another sweep \\(process "
                     f"{os.getpid()}\\)"):
    workdir_lib.lock_sweep_root(str(tmp_path))
  os.close(fd)
  os.close(workdir_lib.lock_sweep_root(str(tmp_path)))


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_stopping_a_parallel_sweep_stops_its_trainers(tmp_path, how):
  """A signal to the sweep (not to its process group) stops the trainers under way; they exit
  as interrupted runs do, their workdirs unlocked. A sweep killed outright takes its trainers
  with it (they die with their parent), so the same command can resume them."""
  import signal  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  root = str(tmp_path / "sweep")
  args = ["--grid=loss=hinge,least_squares", "--parallel=2", "--config.num_steps=100000",
          "--config.batch_size=16", "--config.model_args.hidden=(32,32)",
          "--config.sample_every=0", "--config.checkpoint_every=50", "--config.log_every=50"]
  parent = subprocess.Popen(_sweep_command(root, *args), cwd=ROOT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
  workdirs = [os.path.join(root, name) for name in ("loss=hinge", "loss=least_squares")]
  deadline = time.monotonic() + 120
  while time.monotonic() < deadline and not all(
      workdir_lib.trainer_holding(w) and checkpointing_steps(w) for w in workdirs):
    time.sleep(0.2)
  trainers = [workdir_lib.trainer_holding(w) for w in workdirs]
  assert all(trainers), parent.stderr.read() if parent.poll() is not None else "no trainers"
  parent.send_signal(getattr(signal, how))
  _, err = parent.communicate(timeout=60)
  if how == "SIGKILL":
    assert parent.returncode == -signal.SIGKILL
  else:
    assert parent.returncode == 130, err
    assert "Traceback" not in err and "error: interrupted" in err, err
  deadline = time.monotonic() + 30
  while any(workdir_lib.trainer_holding(w) for w in workdirs) and time.monotonic() < deadline:
    time.sleep(0.1)
  for pid in trainers:  # the trainers are gone, not training on
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
  assert not any(workdir_lib.trainer_holding(w) for w in workdirs)


def checkpointing_steps(workdir):
  from gan import checkpointing  # pylint: disable=g-import-not-at-top
  return checkpointing.Checkpointer.steps_on_disk(os.path.join(workdir, "checkpoints"))


_TINY = ["--config.batch_size=16", "--config.model_args.hidden=(32,32)",
         "--config.sample_every=0", "--config.log_every=1"]


@pytest.mark.slow
def test_a_failing_run_is_reported_once_and_the_others_finish(tmp_path):
  """Issue 24, fault 3: a run that fails (here its workdir holds a file where a run keeps a
  directory) is not retried; the other finishes; --status names the failure and its log; fixed,
  the same command trains it and skips the finished one."""
  root = tmp_path / "sweep"
  (root / "loss=least_squares").mkdir(parents=True)
  (root / "loss=least_squares" / "samples").write_text("a file")
  command = _sweep_command(str(root), "--grid=loss=hinge,least_squares", "--parallel=2",
                           "--config.num_steps=4", *_TINY)
  done = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
  assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
  assert done.stderr.count("error:") == 1
  assert "run loss=least_squares (exit 2; see " in done.stderr and "the other runs finished" in (
      done.stderr)
  status = subprocess.run(_sweep_command(str(root), "--status"), cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=120)
  lines = status.stdout.splitlines()
  assert lines[0].startswith("done     loss=hinge  step 4/4"), status.stdout
  assert lines[1].startswith("failed   loss=least_squares  step -/4  (exit 2; read "), status.stdout
  assert "is not a directory" in open(root / "loss=least_squares.log").read()
  assert lines[-1] == "1 done, 1 failed of 2"
  os.remove(root / "loss=least_squares" / "samples")
  again = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=300)
  assert again.returncode == 0, again.stderr
  assert "== loss=hinge: finished, skipped" in again.stdout
  assert sweeps.status_table(sweeps.status(str(root))).splitlines()[-1] == "2 done of 2"


@pytest.mark.slow
def test_status_while_the_sweep_runs(tmp_path):
  """--status from another process while two trainers run: both running, at a step, with their
  last losses; a second driver on the same root is refused."""
  import signal  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  root = str(tmp_path / "sweep")
  command = _sweep_command(root, "--grid=loss=hinge,least_squares", "--parallel=2",
                           "--config.num_steps=100000", "--config.checkpoint_every=50", *_TINY)
  driver = subprocess.Popen(command, cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
  try:
    deadline, shown = time.monotonic() + 120, ""
    while time.monotonic() < deadline and not re.search(
        r"^running  loss=hinge  step \d+.*\n^running  loss=least_squares  step \d+", shown, re.M):
      time.sleep(0.5)
      if os.path.exists(os.path.join(root, "sweep.json")):
        shown = subprocess.run(_sweep_command(root, "--status"), cwd=ROOT, env=_env(),
                               capture_output=True, text=True, timeout=120).stdout
    assert re.search(r"^running  loss=hinge  step \d+/100000  d_fake=\S+ d_loss=\S+ d_real=\S+ "
                     r"g_loss=\S+$", shown, re.M), shown
    assert shown.splitlines()[-1] == "2 running of 2", shown
    second = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True,
                            timeout=120)
    assert second.returncode == 2 and f"in use by another sweep (process {driver.pid})" in (
        second.stderr), second.stderr
  finally:
    driver.send_signal(signal.SIGTERM)
    driver.communicate(timeout=60)
  assert driver.returncode == 130


def test_rows_follow_every_override_but_the_seed_wherever_it_stands():
  """Issue 28: runs whose seed is not their last override, or whose settings differ in a field
  after the seed, are grouped by every other field: never pooled as seeds of one row."""
  runs = [dict(setting=sweeps.setting_of(o), values=[{"m": v}]) for o, v in [
      ({"seed": 0, "loss": "hinge", "pack": 1}, 1.0),
      ({"seed": 1, "loss": "hinge", "pack": 1}, 3.0),
      ({"seed": 0, "loss": "hinge", "pack": 2}, 10.0),
      ({"loss": "minimax", "seed": 0, "pack": 1}, 20.0)]]
  rows = sweeps.aggregate(runs)
  assert [(r["name"], r["n"], r["metrics"]["m"][0]) for r in rows] == [
      ("loss=hinge,pack=1", 2, 2.0), ("loss=hinge,pack=2", 1, 10.0),
      ("loss=minimax,pack=1", 1, 20.0)]


@pytest.mark.slow
def test_a_runs_overrides_reach_its_process_exactly(tmp_path):
  """Issue 28, item 2: every launched run (the command is the same for every launcher) trains
  exactly the config the sweep planned: the base flags (a space-separated one included), a model
  family switched with one of its settings, a tuple, a float and a bool, all compared field by
  field with the planned config."""
  root = str(tmp_path / "sweep")
  args = ["--grid=model=pacgan_mlp", "--grid=model_args.d_dropout=0.25,0.5",
          "--grid=ema_decay=0.5", "--grid=conditional=false", "--parallel=2",
          "--config.num_steps", "2", "--config.batch_size=16", "--config.sample_every=0",
          "--config.d_learning_rate=3e-4"]
  done = subprocess.run(_sweep_command(root, *args), cwd=ROOT, env=_env(), capture_output=True,
                        text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  base = toy_ring.get_config()
  base.num_steps, base.batch_size, base.sample_every, base.d_learning_rate = 2, 16, 0, 3e-4
  names = sorted(os.listdir(root))
  runs = [n for n in names if os.path.isdir(os.path.join(root, n)) and not n.startswith(".")]
  assert len(runs) == 2, names
  for name in runs:
    overrides = next(r["overrides"] for r in workdir_lib.read_sweep(root)["runs"]
                     if r["name"] == name)
    planned = sweeps.apply_overrides(base, overrides)
    saved = workdir_lib.saved_config(os.path.join(root, name))
    assert config_lib.config_differences(saved, planned.to_dict()) == [], name
    assert saved["num_steps"] == 2 and saved["model"] == "pacgan_mlp"
    assert saved["model_args"]["d_dropout"] == overrides["model_args.d_dropout"]
