"""Tests for gan/autoencoder.py and gan/models/autoencoder.py: the material's convolutional
autoencoder, its loss, its step, and the run behind experiments.autoencoder."""

import functools
import json
import os
import shutil
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import autoencoder_mnist
from experiments.configs import denoising_autoencoder_mnist
from gan import autoencoder as ae
from gan import data
from gan.config import ConfigError
from gan.models import autoencoder as models

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def heldout(data_dir):
  return ae.to_unit_interval(data.make_source("mnist5k", "test", data_dir=data_dir)
                             .all_examples()["image"])


def build(config=None):
  objective = ae.build_objective(config or autoencoder_mnist.get_config())
  return objective, ae.create_state(objective, jax.random.key(0))


def test_decoder_returns_28x28x1_for_28x28x1_input():
  objective, state = build()
  x = jnp.zeros((3, 28, 28, 1))
  variables = {"params": state.params}
  assert objective.model.apply(variables, x).shape == (3, 28, 28, 1)
  code = objective.model.apply(variables, x, method="encode")
  assert code.shape == (3, 4, 4, 8)
  assert objective.model.apply(variables, code, method="decode").shape == (3, 28, 28, 1)


def test_layers_follow_keras_conventions():
  # UpSampling2D: nearest neighbour, each pixel a 2x2 block.
  x = np.arange(6.0).reshape(1, 2, 3, 1)
  np.testing.assert_array_equal(models.upsample_nearest(jnp.asarray(x))[0, :, :, 0],
                                np.kron(x[0, :, :, 0], np.ones((2, 2))))
  # Conv2D(strides=2, padding='same') on 7x7: TensorFlow pads (3*2 + 3 - 7) = 2 rows, 1 on each
  # side, giving 4x4; flax's 'SAME' pads the same way.
  conv = models._conv(8, "c", strides=2)  # pylint: disable=protected-access
  h = jax.random.normal(jax.random.key(0), (2, 7, 7, 8))
  variables = conv.init(jax.random.key(1), h)
  explicit = jax.lax.conv_general_dilated(
      h, variables["params"]["kernel"], (2, 2), ((1, 1), (1, 1)),
      dimension_numbers=("NHWC", "HWIO", "NHWC")) + variables["params"]["bias"]
  np.testing.assert_allclose(conv.apply(variables, h), explicit, rtol=1e-5, atol=1e-6)
  assert explicit.shape == (2, 4, 4, 8)


def test_parameter_count_equals_the_keras_model():
  # Keras's Conv2D(f, (3, 3)) on c input channels has 3*3*c*f weights and f biases.
  encoder = [3 * 3 * 1 * 16 + 16,   # Conv2D(16, (3, 3)) on 1 channel: 160
             3 * 3 * 16 * 8 + 8,    # Conv2D(8, (3, 3)) on 16: 1,160
             3 * 3 * 8 * 8 + 8]     # Conv2D(8, (3, 3), strides=2) on 8: 584
  decoder = [3 * 3 * 8 * 8 + 8,     # Conv2D(8, (3, 3)): 584
             3 * 3 * 8 * 8 + 8,     # Conv2D(8, (3, 3)): 584
             3 * 3 * 8 * 16 + 16,   # Conv2D(16, (3, 3)), valid: 1,168
             3 * 3 * 16 * 1 + 1]    # Conv2D(1, (3, 3)), sigmoid: 145
  assert sum(encoder) + sum(decoder) == 4385  # Keras's model.summary(): "Total params: 4,385"
  _, state = build()
  assert ae.num_params(state.params) == sum(encoder) + sum(decoder)
  counts = [int(np.size(state.params[f"conv_{i}"]["kernel"]) +
                np.size(state.params[f"conv_{i}"]["bias"])) for i in range(7)]
  assert counts == encoder + decoder


def test_binary_cross_entropy_equals_the_probability_form():
  logits = jnp.array([[-3.0, -0.5, 0.0], [0.7, 2.0, 5.0]])
  targets = jnp.array([[0.0, 1.0, 0.5], [1.0, 0.2, 0.0]])
  p = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
  t = np.asarray(targets, np.float64)
  expected = np.mean(-t * np.log(p) - (1 - t) * np.log(1 - p))
  assert float(ae.binary_cross_entropy_with_logits(logits, targets)) == pytest.approx(expected,
                                                                                      rel=1e-6)
  # Finite where the probability form would need Keras's clipping.
  assert np.isfinite(float(ae.binary_cross_entropy_with_logits(jnp.array([200.0]),
                                                              jnp.array([0.0]))))


def test_corruption_is_per_example_and_clipped():
  images = jnp.full((4, 28, 28, 1), 0.5)
  keys = ae.per_example_keys(jax.random.key(3), jnp.arange(4))
  noisy = ae.corrupt(images, keys, 0.5)
  assert float(noisy.min()) == 0.0 and float(noisy.max()) == 1.0  # clipped, as the Keras blog
  # Example 2's noise depends only on its key, not on the batch around it.
  np.testing.assert_array_equal(ae.corrupt(images[2:3], keys[2:3], 0.5), noisy[2:3])
  assert ae.corrupt(images, keys, 0.0) is images


def _train(objective, state, steps, batch_size, data_dir):
  source = data.make_source("mnist5k", "train", data_dir=data_dir)
  step = jax.jit(functools.partial(ae.train_step, objective))
  rng = jax.random.key(1)
  for i in range(steps):
    state, metrics = step(state, ae.to_unit_interval(source.batch(i, batch_size, 0)["image"]), rng)
    assert metrics["finite"] == 1.0
  return state


def test_a_few_steps_lower_the_heldout_loss(data_dir, heldout):
  objective, state = build()
  key = jax.random.key(2)
  before = ae.heldout_metrics(objective, state.params, heldout, key)
  after = ae.heldout_metrics(objective, _train(objective, state, 5, 64, data_dir).params, heldout,
                             key)
  assert after["loss"] < before["loss"] - 0.01
  assert after["mse"] < before["mse"]


@pytest.mark.slow  # 150 training steps at batch 64
def test_the_denoiser_beats_the_identity_map_on_noisy_heldout_digits(data_dir, heldout):
  objective, state = build(denoising_autoencoder_mnist.get_config())
  state = _train(objective, state, 150, 64, data_dir)
  scores = ae.heldout_metrics(objective, state.params, heldout, jax.random.key(2))
  # Returning the noisy input (std 0.5, clipped) scores about 0.115.
  assert scores["mse"] < scores["identity_mse"]
  # And it does more than draw an average digit: the mean training image, the best input-blind
  # answer, scores about 0.067.
  train = ae.to_unit_interval(data.make_source("mnist5k", "train", data_dir=data_dir)
                              .all_examples()["image"])
  assert scores["mse"] < float(np.mean(np.square(heldout - train.mean(0))))


def test_config_values_are_checked_at_the_door():
  config = autoencoder_mnist.get_config()
  config.noise_std = -0.1
  with pytest.raises(ConfigError, match=r"config.noise_std=-0.1 must be a number >= 0"):
    ae.check_config(config)
  config = autoencoder_mnist.get_config()
  config.figure_epochs = (10, 60)
  with pytest.raises(ConfigError, match=r"after epoch\(s\) \[60\], past config.num_epochs=50"):
    ae.check_config(config)
  config = autoencoder_mnist.get_config()
  config.dataset = "cifar10"
  with pytest.raises(ConfigError, match="takes 28x28x1 images"):
    ae.check_config(config)
  with pytest.raises(ValueError, match="registered: conv_autoencoder28"):
    models.get("nope")


def _tiny(data_dir, **overrides):
  config = autoencoder_mnist.get_config()
  config.data_dir = data_dir
  config.batch_size = 500  # 8 steps per epoch
  config.num_epochs = 2
  config.figure_epochs = (2,)
  config.checkpoint_every_epochs = 1
  config.update(overrides)
  return config


def _checksum(workdir, step):
  with open(os.path.join(workdir, "checkpoints", str(step), "meta", "metadata")) as f:
    return json.load(f)["checksum"]


@pytest.mark.slow
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, data_dir):
  quiet = lambda message: None
  straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
  results = ae.train_autoencoder(_tiny(data_dir), straight, log=quiet)
  assert results["step"] == 16 and results["num_params"] == 4385
  assert results["figures"] == ["reconstructions_epoch002.png"]
  assert set(results["heldout"]) == {"loss", "mse"}
  # The same run, interrupted after epoch 1: its last checkpoint and results are gone.
  ae.train_autoencoder(_tiny(data_dir), resumed, log=quiet)
  shutil.rmtree(os.path.join(resumed, "checkpoints", "16"))
  os.remove(os.path.join(resumed, "results.json"))
  messages = []
  again = ae.train_autoencoder(_tiny(data_dir), resumed, log=messages.append)
  assert any("Resuming from checkpoint step 8 (epoch 1)" in m for m in messages)
  assert _checksum(resumed, 16) == _checksum(straight, 16)
  assert again["heldout"] == results["heldout"]
  rows = [json.loads(line) for line in open(os.path.join(resumed, "metrics.jsonl"))]
  assert [r["epoch"] for r in rows] == [1, 2]  # epoch 2 logged once
  # Finished: a second call trains nothing; another config is refused.
  messages = []
  assert ae.train_autoencoder(_tiny(data_dir), straight, log=messages.append) == results
  assert any("Nothing to do" in m for m in messages)
  with pytest.raises(ConfigError, match="noise_std: 0.0 -> 0.5"):
    ae.train_autoencoder(_tiny(data_dir, noise_std=0.5), straight, log=quiet)


@pytest.mark.slow
def test_the_command_line_reports_a_bad_config_value_in_one_line(tmp_path):
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  done = subprocess.run([sys.executable, "-m", "experiments.autoencoder",
                         f"--workdir={tmp_path / 'run'}", "--config.noise_std=-1.0"],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert done.returncode == 2, done.stderr
  lines = done.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error: config.noise_std=-1.0 must be"), lines
  assert "Traceback" not in done.stderr
  assert not os.path.exists(tmp_path / "run")  # nothing claimed


@pytest.mark.slow
def test_the_command_line_trains_and_names_its_results(tmp_path, data_dir):
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  workdir = tmp_path / "run"
  done = subprocess.run([sys.executable, "-m", "experiments.autoencoder", f"--workdir={workdir}",
                         f"--config.data_dir={data_dir}", "--config.num_epochs=1",
                         "--config.figure_epochs=(1,)"],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr
  assert done.stdout.strip().splitlines()[-1].endswith(f"results: {workdir / 'results.json'}")
  assert os.path.isfile(workdir / "results.json")


def test_the_training_noise_is_drawn_from_the_step_and_example_key():
  """Issue 28: the denoiser's input noise of example i at step s comes from
  fold_in(fold_in(rng, s), i), so it changes with the step and differs between examples; the
  loss the step reports is the loss on exactly that input (a reference written here)."""
  objective, state = build(denoising_autoencoder_mnist.get_config())
  images = jax.random.uniform(jax.random.key(7), (3, 28, 28, 1))
  rng = jax.random.key(11)
  losses = []
  for step in (0, 3):
    at = state.replace(step=jnp.asarray(step, state.step.dtype))
    _, metrics = ae.train_step(objective, at, images, rng)
    noise = np.stack([np.asarray(jax.random.normal(
        jax.random.fold_in(jax.random.fold_in(rng, step), i), (28, 28, 1))) for i in range(3)])
    inputs = np.clip(np.asarray(images) + objective.noise_std * noise, 0.0, 1.0)
    logits = np.asarray(objective.model.apply({"params": state.params}, inputs), np.float64)
    x = np.asarray(images, np.float64)
    reference = np.mean(np.logaddexp(0.0, logits) - x * logits)
    np.testing.assert_allclose(float(metrics["loss"]), reference, rtol=1e-5)
    losses.append(float(metrics["loss"]))
  assert losses[0] != losses[1]  # the step is folded into the key
