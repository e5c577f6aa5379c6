"""Adding a model family with a setting of its own: its module, one registration, a config.

Issue 22's promise, kept by running it: a family declared here (`ScaledMLP`, with a setting
``scale`` no other family has) is registered, configured through ``config.model_args``, checked at
the door by its own field, trained, saved and opened again, with no other file of the library
touched.
"""

import json
import os
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import pytest

from experiments.configs import common
from gan import config as config_lib
from gan import fields
from gan import loop
from gan import models
from gan import runs
from gan.models import registry


class ScaledGenerator(nn.Module):
  """One hidden layer; the output multiplied by ``scale`` (the family's own setting)."""
  data_shape: tuple
  scale: float
  axis_name: Optional[str] = None

  @nn.compact
  def __call__(self, z, labels=None, train: bool = True):
    h = nn.relu(nn.Dense(16)(z))
    return self.scale * nn.Dense(self.data_shape[0])(h)


class ScaledDiscriminator(nn.Module):
  axis_name: Optional[str] = None
  uses_batchnorm = False

  @nn.compact
  def __call__(self, x, labels=None, train: bool = True, dropout_keys=None):
    return nn.Dense(1)(nn.relu(nn.Dense(16)(x)))[:, 0]


def _build(args, data_shape, num_classes):
  if len(data_shape) != 1:
    raise ValueError(f"scaled_mlp makes points, not data of shape {tuple(data_shape)}.")
  return ScaledGenerator(tuple(data_shape), args["scale"]), ScaledDiscriminator()


FAMILY = registry.ModelFamily(
    name="scaled_mlp", generator=ScaledGenerator, discriminator=ScaledDiscriminator,
    build=_build, args={"scale": fields.Arg(2.0, fields.number(
        lambda v: v > 0, "must be a positive number (G's output scale)."))})


@pytest.fixture
def scaled_mlp(monkeypatch):
  """The family registered for this test only (into a copy of the registry)."""
  monkeypatch.setattr(registry, "MODELS", registry.MODELS.copy())
  models.register(FAMILY)
  yield FAMILY


def toy_config(**args):
  c = common.base_config()
  common.set_model(c, "scaled_mlp", **args)
  common.update(c, dataset="toy_ring", latent_dim=2, batch_size=16, num_steps=3, log_every=1,
                sample_every=0, checkpoint_every=3)
  return c


def test_a_new_family_with_its_own_setting_trains_saves_and_loads(scaled_mlp, tmp_path):
  assert models.default_args("scaled_mlp") == {"scale": 2.0}
  config = toy_config(scale=0.5)
  gan, _ = config_lib.check_config(config)
  assert gan.generator.scale == 0.5
  workdir = str(tmp_path / "run")
  metrics = loop.train_and_evaluate(config, workdir, log=lambda m: None, progress=False)
  assert metrics["finite"] == 1.0
  with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
    assert json.load(f)["model_args"] == {"scale": 0.5}
  run = runs.load_run(workdir)
  assert run.step == 3 and run.gan.generator.scale == 0.5
  samples = run.sample(4, use_ema=False)
  assert samples.shape == (4, 2)
  # G's output is 0.5 x its last layer: the setting reached the module that was trained.
  params = run.state.g_params
  z = jnp.zeros((1, 2))
  unscaled = ScaledGenerator((2,), 1.0).apply({"params": params}, z)
  scaled = run.gan.generator.apply({"params": params}, z)
  assert jnp.allclose(scaled, 0.5 * unscaled)


def test_the_new_setting_is_checked_at_the_door_by_its_family(scaled_mlp):
  with pytest.raises(config_lib.ConfigError, match=r"config.model_args.scale=-1.0 must be a "
                     r"positive number \(G's output scale\)"):
    config_lib.check_config(toy_config(scale=-1.0))
  config = toy_config()
  config.model_args.scal = 1.0
  with pytest.raises(config_lib.ConfigError, match=r"config.model_args.scal is not a setting of "
                     r"model 'scaled_mlp' \(did you mean scale\?\)"):
    config_lib.check_config(config)
  with pytest.raises(config_lib.ConfigError, match="does not fit config.dataset='mnist5k'"):
    config_lib.check_config(common.update(toy_config(), dataset="mnist5k"))
  # A sweep takes it as a dotted key, checked by the same field.
  from gan import sweeps  # pylint: disable=g-import-not-at-top
  assert sweeps.parse_grid(["model_args.scale=1,3"], toy_config()) == [
      ("model_args.scale", [1.0, 3.0])]
  with pytest.raises(config_lib.ConfigError, match="config.model_args.scale=0.0 must be"):
    sweeps.parse_grid(["model_args.scale=0"], toy_config())
