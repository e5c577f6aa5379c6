"""Tests for experiments/evaluate.py: a run's checkpoint evaluated as it was trained, and with G's
BatchNorm statistics chosen at evaluation time."""

import json
import os

import pytest

from experiments import evaluate
from gan import config as config_lib
from gan import loop
from test_loop import tiny_config


def test_evaluate_samples_with_the_batchnorm_statistics_asked_for(tmp_path, data_dir):
  workdir = str(tmp_path / "run")
  loop.train_and_evaluate(tiny_config(data_dir, num_steps=2, sample_every=0, ema_decay=0.9,
                                      eval_num_samples=200), workdir, log=lambda m: None,
                          progress=False)
  saved = open(os.path.join(workdir, "config.json")).read()
  results = {}
  for mode in (None, "running", "standing"):
    out = str(tmp_path / f"eval_{mode}")
    results[mode] = evaluate.evaluate(workdir, log=lambda m: None, output_dir=out,
                                      sample_batch_stats=mode)
    with open(os.path.join(out, "step_2.json")) as f:
      assert json.load(f) == json.loads(json.dumps(results[mode]))
  # The run's own choice (running), asked for or not, gives the same numbers; standing ones differ.
  assert results[None]["sample_batch_stats"] == results["running"]["sample_batch_stats"] == "running"
  assert results[None]["model"] == results["running"]["model"]
  assert results["standing"]["sample_batch_stats"] == "standing"
  assert results["standing"]["model"]["fid"] != results["running"]["model"]["fid"]
  # The workdir is read, never changed.
  assert open(os.path.join(workdir, "config.json")).read() == saved
  with pytest.raises(config_lib.ConfigError, match="sample_batch_stats"):
    evaluate.evaluate(workdir, log=lambda m: None, output_dir=str(tmp_path / "x"),
                      sample_batch_stats="stale")
