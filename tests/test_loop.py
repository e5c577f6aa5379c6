"""Tests for gan/loop.py: the whole loop, exact resumption, workdir checks, two processes."""

import json
import os
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest
import tensorflow_datasets as tfds

from experiments.configs import common
from experiments.configs import dcgan_mnist
import gan
from gan import checkpointing
from gan import config as config_lib
from gan import data
from gan import loop
from gan import step as step_lib
from gan import workdir as workdir_lib
from gan.checkpointing import READERS_LOCK

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_config(data_dir, **overrides):
  config = dcgan_mnist.get_config()
  config.data_dir = data_dir
  config.batch_size = 8
  config.num_steps = 4
  config.log_every = 2
  config.sample_every = 2
  config.checkpoint_every = 2
  config.num_samples = 16
  return common.update(config, **overrides)


def checkpoint_checksum(workdir, step):
  with open(os.path.join(workdir, "checkpoints", str(step), "meta", "metadata")) as f:
    return json.load(f)["checksum"]


@pytest.mark.slow
def test_smoke_dcgan28_on_offline_mnist(tmp_path, data_dir):
  workdir = str(tmp_path / "run")
  metrics = loop.train_and_evaluate(tiny_config(data_dir), workdir, log=lambda m: None,
                                       progress=False)
  assert metrics["finite"] == 1.0 and 0.0 < metrics["d_real"] < 1.0
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == [READERS_LOCK, "2", "4"]
  assert sorted(os.listdir(os.path.join(workdir, "samples"))) == [
      "step_000000.png", "step_000002.png", "step_000004.png"]
  lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [l["step"] for l in lines] == [2, 4]
  assert {"d_loss", "g_loss", "d_real", "d_fake", "d_grad_norm", "g_grad_norm",
          "steps_per_sec"} <= set(lines[0])
  assert os.path.getsize(os.path.join(workdir, "progress.png")) > 0
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  # A second run with the same budget has nothing to do and changes no checkpoint.
  before = checkpoint_checksum(workdir, 4)
  loop.train_and_evaluate(tiny_config(data_dir), workdir, log=lambda m: None, progress=False)
  assert checkpoint_checksum(workdir, 4) == before


@pytest.mark.slow
def test_smoke_on_mock_tfds_mnist(tmp_path):
  config = tiny_config(str(tmp_path / "tfds"), dataset="mnist", model="mlp", num_steps=2,
                       sample_every=0, checkpoint_every=2)
  with tfds.testing.mock_data(num_examples=32):
    metrics = loop.train_and_evaluate(config, str(tmp_path / "run"), log=lambda m: None,
                                         progress=False)
  assert metrics["finite"] == 1.0
  assert os.path.exists(tmp_path / "run" / "samples.png")


@pytest.mark.slow
def test_interrupted_and_resumed_run_is_bitwise_identical(tmp_path, data_dir):
  straight = str(tmp_path / "straight")
  loop.train_and_evaluate(tiny_config(data_dir, num_steps=6, checkpoint_every=3), straight,
                             log=lambda m: None, progress=False)
  resumed = str(tmp_path / "resumed")
  loop.train_and_evaluate(tiny_config(data_dir, num_steps=3, checkpoint_every=3), resumed,
                             log=lambda m: None, progress=False)
  messages = []
  loop.train_and_evaluate(tiny_config(data_dir, num_steps=6, checkpoint_every=3), resumed,
                             log=messages.append, progress=False)
  assert any("Resuming from checkpoint step 3" in m for m in messages)
  assert checkpoint_checksum(resumed, 6) == checkpoint_checksum(straight, 6)


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_on_localhost_match_one_process(tmp_path, data_dir):
  # SGD: see test_parallel.py for why Adam would compare rounding noise, not the step.
  flags = ["--config.model=mlp", "--config.num_steps=4", "--config.batch_size=8",
           "--config.sample_every=0", "--config.checkpoint_every=4", "--config.log_every=2",
           "--config.optimizer=sgd", "--config.g_learning_rate=0.01",
           "--config.d_learning_rate=0.01", f"--config.data_dir={data_dir}"]
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_force_host_platform_device_count=1",
             PYTHONPATH=ROOT)
  command = [sys.executable, "-m", "experiments.train"]
  port = _free_port()
  two = str(tmp_path / "two")
  procs = [subprocess.Popen(command + [f"--workdir={two}", f"--coordinator_address=127.0.0.1:{port}",
                                       "--num_processes=2", f"--process_id={i}"] + flags,
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True) for i in range(2)]
  outputs = [p.communicate(timeout=600)[0] for p in procs]
  assert [p.returncode for p in procs] == [0, 0], outputs
  one = str(tmp_path / "one")
  subprocess.run(command + [f"--workdir={one}"] + flags, env=env, cwd=ROOT, check=True,
                 capture_output=True)
  # Process 0 wrote the logs; the state equals the one-process state on the same global batch.
  assert os.path.exists(os.path.join(two, "metrics.jsonl"))
  gan = config_lib.build_gan((tiny_config(data_dir, model="mlp",
                                                                 optimizer="sgd")))
  like = step_lib.create_state(gan, jax.random.key(0))
  states = [checkpointing.Checkpointer(os.path.join(d, "checkpoints")).restore(4, like)
            for d in (two, one)]
  for a, b in zip(jax.tree.leaves(states[0]), jax.tree.leaves(states[1])):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


def _poison_step(monkeypatch, bad_step):
  """Makes the training data of iteration ``bad_step`` (0-based) NaN."""
  make_source = data.make_source

  def poisoned(*args, **kwargs):
    source = make_source(*args, **kwargs)
    batch = source.batch

    def poisoned_batch(step, *a, **k):
      out = batch(step, *a, **k)
      if step == bad_step:
        out = dict(out, image=np.full_like(out["image"], np.nan))
      return out

    source.batch = poisoned_batch
    return source

  monkeypatch.setattr(loop.data, "make_source", poisoned)


@pytest.mark.slow
def test_nan_policy_stop_keeps_the_last_good_checkpoint(tmp_path, data_dir, monkeypatch):
  _poison_step(monkeypatch, bad_step=2)
  workdir = str(tmp_path / "run")
  config = tiny_config(data_dir, model="mlp", num_steps=6, checkpoint_every=2, sample_every=0)
  with pytest.raises(loop.NonFiniteError,
                     match=r"stopped at step 3: the discriminator loss became non-finite.*"
                           r"last good checkpoint \(step 2\) is kept"):
    loop.train_and_evaluate(config, workdir, log=lambda m: None, progress=False)
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == [READERS_LOCK, "2"]


def test_nan_policy_skip_step_skips_only_the_bad_update(tmp_path, data_dir, monkeypatch):
  _poison_step(monkeypatch, bad_step=2)
  messages = []
  config = tiny_config(data_dir, model="mlp", num_steps=4, checkpoint_every=4, sample_every=0,
                       nan_policy="skip_step", log_every=1)
  workdir = str(tmp_path / "run")
  metrics = loop.train_and_evaluate(config, workdir, log=messages.append, progress=False)
  assert metrics["finite"] == 1.0
  assert [m for m in messages if "non-finite" in m] == [
      "WARNING: step 3: the discriminator loss is non-finite; the update was skipped (1 so far)."]
  gan = config_lib.build_gan((config))
  state = checkpointing.Checkpointer(os.path.join(workdir, "checkpoints")).restore(
      4, step_lib.create_state(gan, jax.random.key(0)))
  assert int(state.step) == 4
  assert all(np.all(np.isfinite(np.asarray(x))) for x in jax.tree.leaves(state))


def test_evaluation_every_n_steps_is_logged(tmp_path):
  config = tiny_config(str(tmp_path / "tfds"), dataset="toy_ring", model="mlp", output="linear",
                       latent_dim=2, num_steps=4, eval_every=2, sample_every=0, d_dropout=0.0)
  workdir = str(tmp_path / "run")
  loop.train_and_evaluate(config, workdir, log=lambda m: None, progress=False)
  lines = [json.loads(l) for l in open(os.path.join(workdir, "metrics.jsonl"))]
  evals = [l for l in lines if "eval/modes" in l]
  assert [l["step"] for l in evals] == [2, 4]
  for line in evals:
    assert 0 <= line["eval/modes"] <= 8 and 0.0 <= line["eval/high_quality"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mlp", "dcgan28"])
def test_seeds_trained_together_equal_separate_runs(tmp_path, data_dir, model):
  """num_seeds=2 in one vmapped program against the runs seed=0 and seed=1 trained alone.

  Not bitwise: XLA picks other kernels for a batched (vmapped) matmul or convolution, which sum
  in another order, so float32 rounding differs (about 1e-8 on D's parameters after 3 steps).
  dcgan28 runs with SGD here: its G has parameters whose exact gradient is zero (the bias of the
  conv feeding BatchNorm, which removes it), and Adam's first steps, g / (|g| + eps), turn the
  rounding noise of such a gradient into steps of +-lr, so under Adam those parameters differ by
  O(lr) between any two kernel choices, vmapped or not.
  """
  extra = dict(hidden=(32, 32)) if model == "mlp" else dict(optimizer="sgd", adam_b1=0.0)
  together = str(tmp_path / "together")
  loop.train_and_evaluate(tiny_config(data_dir, model=model, num_steps=3, num_seeds=2,
                                      checkpoint_every=3, sample_every=0, **extra),
                          together, log=lambda m: None, progress=False)
  assert json.load(open(os.path.join(together, "results.json")))["seeds"] == [0, 1]
  for i, seed in enumerate((0, 1)):
    alone = str(tmp_path / f"seed{seed}")
    loop.train_and_evaluate(tiny_config(data_dir, model=model, num_steps=3, seed=seed,
                                        checkpoint_every=3, sample_every=0, **extra),
                            alone, log=lambda m: None, progress=False)
    a, b = gan.load_run(together, seed_index=i), gan.load_run(alone)
    assert int(a.state.step) == int(b.state.step) == 3
    for x, y in zip(jax.tree.leaves(a.state), jax.tree.leaves(b.state)):
      np.testing.assert_allclose(np.asarray(x, np.float64), np.asarray(y, np.float64),
                                 rtol=1e-5, atol=1e-6)
  # Seeds really differ (seed 1 is not a copy of seed 0).
  s0, s1 = gan.load_run(together, seed_index=0), gan.load_run(together, seed_index=1)
  assert not np.allclose(jax.tree.leaves(s0.state.g_params)[0],
                         jax.tree.leaves(s1.state.g_params)[0])


def test_finished_run_returns_its_stored_results(tmp_path, data_dir):
  config = tiny_config(data_dir, model="mlp", num_steps=2, sample_every=0, checkpoint_every=2)
  workdir = str(tmp_path / "run")
  first = loop.train_and_evaluate(config, workdir, log=lambda m: None, progress=False)
  messages = []
  again = loop.train_and_evaluate(config, workdir, log=messages.append, progress=False)
  assert again == first and np.isfinite(first["d_loss"])
  assert any("Nothing to do" in m for m in messages)
  assert workdir_lib.read_results(workdir)["train_per_seed"][0] == first


def test_a_run_that_cannot_start_claims_nothing(tmp_path):
  workdir = str(tmp_path / "run")
  config = tiny_config(str(tmp_path / "empty_tfds"), dataset="cifar10", model="dcgan32")
  with pytest.raises(data.DatasetNotAvailableError):
    loop.train_and_evaluate(config, workdir, log=lambda m: None, progress=False)
  assert not os.path.exists(workdir)  # so the corrected command is not "a different config"


def test_a_batch_larger_than_the_data_claims_nothing(tmp_path, data_dir):
  workdir = str(tmp_path / "run")
  with pytest.raises(config_lib.ConfigError, match=r"config.batch_size=8000 \(x n_critic=1 = "
                     r"8000 examples per step\) cannot be drawn from 'mnist5k'"):
    loop.train_and_evaluate(tiny_config(data_dir, model="mlp", batch_size=8000), workdir,
                            log=lambda m: None, progress=False)
  assert not os.path.exists(workdir)
  loop.train_and_evaluate(tiny_config(data_dir, model="mlp", num_steps=2, sample_every=0),
                          workdir, log=lambda m: None, progress=False)  # the corrected command
  assert workdir_lib.read_results(workdir)["step"] == 2


def test_resume_rewrites_only_the_replayed_steps_and_never_a_longer_run(tmp_path, data_dir):
  config = lambda **kw: tiny_config(data_dir, model="mlp", sample_every=0, log_every=1,
                                    checkpoint_every=2, **kw)
  workdir = str(tmp_path / "run")
  loop.train_and_evaluate(config(num_steps=4), workdir, log=lambda m: None, progress=False)
  results = open(os.path.join(workdir, "results.json")).read()
  # Asked for fewer steps than the run holds: refused, nothing rewritten.
  with pytest.raises(config_lib.ConfigError, match=r"trained to step 4, past "
                     r"--config.num_steps=3"):
    loop.train_and_evaluate(config(num_steps=3), workdir, log=lambda m: None, progress=False)
  assert open(os.path.join(workdir, "results.json")).read() == results
  # Interrupted after step 4's logs but before its checkpoint: steps 3-4 are trained again and
  # logged once.
  checkpointing.Checkpointer(os.path.join(workdir, "checkpoints")).quarantine(4)
  os.remove(os.path.join(workdir, "results.json"))
  loop.train_and_evaluate(config(num_steps=4), workdir, log=lambda m: None, progress=False)
  steps = [json.loads(l)["step"] for l in open(os.path.join(workdir, "metrics.jsonl"))]
  assert steps == [1, 2, 3, 4]
