"""Tests for experiments/evaluate.py (run as a command, as its flags are module-level): a run's
checkpoint evaluated as it was trained, and with G's BatchNorm statistics chosen at evaluation."""

import json
import os
import subprocess
import sys

import pytest

from gan import loop
from test_loop import ROOT, tiny_config


def _evaluate(workdir, output_dir, *flags):
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  return subprocess.run([sys.executable, "-m", "experiments.evaluate", f"--workdir={workdir}",
                         f"--output_dir={output_dir}", *flags], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=600)


@pytest.mark.slow  # a training run, then four evaluation commands (subprocesses)
def test_evaluate_samples_with_the_batchnorm_statistics_asked_for(tmp_path, data_dir):
  workdir = str(tmp_path / "run")
  loop.train_and_evaluate(tiny_config(data_dir, num_steps=2, sample_every=0, ema_decay=0.9,
                                      eval_num_samples=200), workdir, log=lambda m: None,
                          progress=False)
  saved = open(os.path.join(workdir, "config.json")).read()
  results = {}
  out = str(tmp_path / "eval")  # one output directory: no evaluation overwrites another
  for mode, name in ((None, "step_2"), ("running", "step_2"), ("standing", "step_2_standing")):
    done = _evaluate(workdir, out, *([f"--sample_batch_stats={mode}"] if mode else []))
    assert done.returncode == 0, done.stderr
    with open(os.path.join(out, f"{name}.json")) as f:
      results[mode] = json.load(f)
  assert sorted(os.listdir(out)) == ["step_2.json", "step_2.md", "step_2_standing.json",
                                     "step_2_standing.md"]
  # The run's own choice (running), asked for or not, gives the same numbers; standing ones differ.
  assert results[None]["sample_batch_stats"] == results["running"]["sample_batch_stats"] == "running"
  assert results[None]["model"] == results["running"]["model"]
  assert results["standing"]["sample_batch_stats"] == "standing"
  assert results["standing"]["model"]["fid"] != results["running"]["model"]["fid"]
  # The workdir is read, never changed; a bad value is one line, before any evaluation.
  assert open(os.path.join(workdir, "config.json")).read() == saved
  refused = _evaluate(workdir, str(tmp_path / "x"), "--sample_batch_stats=stale")
  assert refused.returncode != 0 and "Traceback" not in refused.stderr
  assert "sample_batch_stats" in refused.stderr and not os.path.exists(tmp_path / "x" / "step_2.json")
