"""The public API: the README's minimal example as written, `gan.load_run`, `experiments.sample`."""

import os
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

import gan
from experiments.configs import common
from gan import images
from gan import loop
from gan import step as step_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _readme_example() -> str:
  with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
    readme = f.read()
  start = readme.index("A minimal experiment script")
  return re.search(r"```python\n(.*?)```", readme[start:], re.S).group(1)


@pytest.mark.slow
def test_readme_minimal_example_runs_as_written(monkeypatch, tmp_path):
  monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
  namespace = {}
  exec(compile(_readme_example(), "README.md", "exec"), namespace)  # pylint: disable=exec-used
  assert int(namespace["state"].step) == 100
  metrics = namespace["metrics"]
  assert 0.0 < float(metrics["d_real"]) < 1.0 and 0.0 < float(metrics["d_fake"]) < 1.0
  assert float(metrics["finite"]) == 1.0


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
  base = tmp_path_factory.mktemp("api")
  config = common.base_config()
  common.update(config, model="mlp", hidden=(16,), batch_size=8, num_steps=3, sample_every=0,
                checkpoint_every=3, ema_decay=0.5, conditional=True, data_dir=str(base / "tfds"))
  workdir = str(base / "run")
  loop.train_and_evaluate(config, workdir, log=lambda m: None, progress=False)
  return workdir


@pytest.mark.slow
def test_load_run_gives_config_models_and_the_newest_state(trained_run):
  run = gan.load_run(trained_run)
  assert run.step == 3 and int(run.state.step) == 3
  assert run.config.model == "mlp" and run.gan.num_classes == 10 and run.uses_ema
  samples = run.sample(5, seed=1, labels=[0, 1, 2, 3, 4])
  assert samples.shape == (5, 28, 28, 1)
  from gan import sampling  # pylint: disable=g-import-not-at-top
  key = jax.random.fold_in(jax.random.key(1), sampling._EVAL_SALT)  # pylint: disable=protected-access
  z = jax.random.normal(jax.random.fold_in(key, 0), (5, run.gan.latent_dim))
  expected = step_lib.generate(run.gan, run.state, z, np.arange(5), use_ema=True)
  np.testing.assert_allclose(samples, expected, atol=1e-6)
  raw = run.sample(5, seed=1, labels=[0, 1, 2, 3, 4], use_ema=False)
  assert not np.allclose(raw, samples)  # the EMA (decay 0.5) differs from the params


@pytest.mark.slow
def test_sample_command_writes_npz_and_pngs(trained_run, tmp_path):
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  npz = str(tmp_path / "out" / "samples.npz")
  subprocess.run([sys.executable, "-m", "experiments.sample", f"--workdir={trained_run}",
                  "--num_samples=6", f"--output={npz}", "--labels=7", "--seed=2"], cwd=ROOT,
                 env=env, check=True, capture_output=True)
  with np.load(npz) as saved:
    arr, labels = saved["arr_0"], saved["labels"]
  assert arr.dtype == np.uint8 and arr.shape == (6, 28, 28, 1)
  np.testing.assert_array_equal(labels, np.full(6, 7))
  expected = images.to_uint8(gan.load_run(trained_run).sample(6, seed=2, labels=7))
  assert np.abs(arr.astype(int) - expected.astype(int)).max() <= 1  # rounding at .5 only
  png_dir = str(tmp_path / "pngs") + os.sep
  subprocess.run([sys.executable, "-m", "experiments.sample", f"--workdir={trained_run}",
                  "--num_samples=3", f"--output={png_dir}", "--labels=1,2"], cwd=ROOT, env=env,
                 check=True, capture_output=True)
  assert sorted(os.listdir(png_dir)) == [f"sample_{i:06d}.png" for i in range(3)]


@pytest.mark.slow
def test_samples_come_in_chunks_with_the_same_numbers(trained_run, tmp_path):
  """Issue 23: sampling writes chunk by chunk (bounded memory) and gives the rows all-at-once
  sampling gives; a size that cannot fit is refused before anything is drawn."""
  from experiments import sample  # pylint: disable=g-import-not-at-top
  run = gan.load_run(trained_run)
  whole = run.sample(23, seed=4, batch_size=5)
  chunks = list(run.sample_chunks(23, 10, seed=4, batch_size=5))
  assert [len(c) for c in chunks] == [10, 10, 3]
  np.testing.assert_array_equal(np.concatenate(chunks), whole)
  npz = str(tmp_path / "s.npz")
  sample.write_samples(trained_run, 23, npz, seed=4, log=lambda m: None, chunk_rows=4)
  with np.load(npz) as saved:
    np.testing.assert_array_equal(saved["arr_0"], images.to_uint8(run.sample(23, seed=4)))
    assert saved["labels"].shape == (23,)
  with pytest.raises(gan.errors.ConfigError, match=r"--num_samples=1000000000000 needs about "
                     r"\d.* GB at .*, but .* has .* GB free"):
    sample.write_samples(trained_run, 10**12, str(tmp_path / "big.npz"), log=lambda m: None)
  assert not os.path.exists(tmp_path / "big.npz") and not os.path.exists(tmp_path / "big.npz.tmp.npz")


@pytest.mark.slow
@pytest.mark.parametrize("num,labels,message", [
    (0, None, "num=0: the number of samples must be a positive integer"),
    (-2, None, "num=-2"), (2.5, None, "num=2.5"),
    (3, [1, 2], r"labels must be one class or one per sample \(3\); got shape \(2,\)"),
    (3, 12, r"labels must be in \[0, 10\)")])
def test_load_run_sample_refuses_bad_arguments_in_one_error(trained_run, num, labels, message):
  with pytest.raises(gan.errors.ConfigError, match=message):
    gan.load_run(trained_run).sample(num, labels=labels)
