"""Tests for gan/config.py: validation at the door, the objective and the schedule resolved once."""

import dataclasses
import importlib
import os
import re

import jax
import ml_collections
import pytest

from experiments.configs import common
from experiments.configs import toy_ring
from gan import config as config_lib
from gan import data
from gan import losses
from gan import models
from gan import step as step_lib
from gan import sweeps


def tiny_config(**overrides):
  config = common.base_config()
  config.batch_size = 8
  return common.update(config, **overrides)


@pytest.mark.parametrize("overrides,message", [
    (dict(loss="minimax"), "config.loss='minimax' is not valid; choose one of: saturating"),
    (dict(model="resnet"), "choose one of: mlp, dcgan28"),
    (dict(dataset="imagenet"), "choose one of: mnist5k"),
    (dict(optimizer="adagrad"), "choose one of: adam, rmsprop, sgd"),
    (dict(g_learning_rate=0.0), "g_learning_rate=0.0 must be a positive number"),
    (dict(batch_size=-8), "batch_size=-8 must be a positive integer"),
    (dict(num_steps=0), "num_steps=0 must be a positive integer"),
    (dict(batch_size=12), "cannot be split evenly over 8 devices"),
    (dict(dataset="cifar10"), "does not fit config.dataset='cifar10'"),
    (dict(dataset="toy_ring", conditional=True), "needs labelled data"),
    (dict(ema_decay=1.0), "ema_decay=1.0 must be in [0, 1)"),
    (dict(nan_policy="ignore"), "choose one of: stop, skip_step"),
    (dict(d_weight_clip=-0.01), "d_weight_clip=-0.01 must be >= 0"),
    (dict(xla_cpu_options="fast"), "'fast' is not of the form name=value"),
    (dict(d_chunk_size=-2), "config.d_chunk_size=-2 must be an integer: -1"),
    (dict(xla_cpu_options="xla_cpu_no_such_option=true"), "is not accepted by XLA"),
    # Combinations that would silently compute something else.
    (dict(model="dcgan32", dataset="cifar10", r1_gamma=10.0), "r1_gamma=10.0 needs per-example"),
    (dict(model="dcgan32", dataset="cifar10", gp_weight=10.0), "BatchNorm, which mixes"),
    (dict(loss="wasserstein"), "needs a Lipschitz constraint on D"),
    (dict(model="dcgan32", dataset="cifar10", d_chunk_size=16), "needs a discriminator without "
     "BatchNorm"),
    (dict(dataset="fashion_mnist", eval_every=100), "no feature network for clothing images"),
])
def test_bad_configs_are_refused_with_a_clear_message(overrides, message):
  with pytest.raises(config_lib.ConfigError) as info:
    config_lib.check_config(tiny_config(**overrides))
  assert message in str(info.value)


@pytest.mark.parametrize("overrides", [
    dict(), dict(loss="wasserstein", gp_weight=10.0), dict(loss="wasserstein", d_weight_clip=0.01),
    dict(r1_gamma=1.0), dict(loss="relativistic_average"), dict(xla_cpu_options=""),
    dict(d_chunk_size=16), dict(dataset="fashion_mnist")])
def test_good_configs_pass(overrides):
  config_lib.check_config(tiny_config(**overrides))


def test_build_gan_takes_shapes_from_the_dataset_registry():
  gan = config_lib.build_gan(toy_ring.get_config())
  assert gan.data_shape == (2,) and gan.latent_dim == 2 and gan.num_classes == 0
  conditional = config_lib.build_gan(tiny_config(conditional=True, d_weight_clip=0.5))
  assert conditional.data_shape == (28, 28, 1) and conditional.num_classes == 10
  assert conditional.d_weight_clip == 0.5
  # Without a dataset the config carries the shapes itself.
  raw = ml_collections.ConfigDict(dict(model="mlp", model_args=models.default_args("mlp"),
                                       data_shape=(3,), num_classes=0, loss="hinge",
                                       optimizer="sgd", g_learning_rate=0.1, d_learning_rate=0.2,
                                       latent_dim=4))
  assert config_lib.build_gan(raw).data_shape == (3,)


def test_the_objective_does_not_depend_on_the_machine(monkeypatch):
  # Optimizers are closures (equal only to themselves); every other field must match.
  without_optimizers = lambda gan: dataclasses.replace(gan, g_optimizer=None, d_optimizer=None)
  on_cpu = without_optimizers(config_lib.build_gan(tiny_config()))
  monkeypatch.setattr(jax, "default_backend", lambda: "gpu")
  assert without_optimizers(config_lib.build_gan(tiny_config())) == on_cpu


def test_schedule_defaults_come_from_the_model_family():
  dcgan28 = models.get("dcgan28")
  cpu = config_lib.resolve_schedule(tiny_config(), backend="cpu")
  assert cpu == step_lib.Schedule(d_chunk_size=dcgan28.cpu_d_chunk_size,
                                  xla_cpu_options=dcgan28.cpu_xla_options)
  assert cpu.d_chunk_size == 64
  assert cpu.compiler_options() == {
      "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}
  # Accelerators and multi-device meshes get whole batches; XLA options only mean something on
  # a CPU.
  assert config_lib.resolve_schedule(tiny_config(), backend="gpu") == step_lib.Schedule()
  assert config_lib.resolve_schedule(tiny_config(), backend="cpu", num_devices=8).d_chunk_size == 0
  mlp = config_lib.resolve_schedule(toy_ring.get_config(), backend="cpu")
  assert mlp == step_lib.Schedule(concat_real_fake=True)
  assert mlp.compiler_options() is None


def test_schedule_settings_given_in_the_config_are_used_as_given():
  chosen = config_lib.resolve_schedule(
      tiny_config(d_chunk_size=16, share_generator_forward=False,
                  xla_cpu_options="xla_cpu_use_onednn=false, xla_b=1"), backend="cpu")
  assert chosen == step_lib.Schedule(share_generator_forward=False, d_chunk_size=16,
                                     xla_cpu_options=(("xla_b", "1"),
                                                      ("xla_cpu_use_onednn", "false")))
  assert config_lib.resolve_schedule(tiny_config(xla_cpu_options="", d_chunk_size=0),
                                     backend="cpu") == step_lib.Schedule()
  # On an accelerator an explicit chunk size is kept (it is exact), CPU options are not.
  assert config_lib.resolve_schedule(
      tiny_config(d_chunk_size=16, xla_cpu_options="a=b"), backend="gpu") == step_lib.Schedule(
          d_chunk_size=16)


def test_config_differences_name_the_fields():
  saved = tiny_config().to_dict()
  changed = tiny_config(loss="hinge", num_steps=99, d_dropout=0.25).to_dict()
  assert config_lib.config_differences(saved, changed) == [
      "loss: 'non_saturating' -> 'hinge'", "model_args.d_dropout: 0.3 -> 0.25"]


def test_an_older_config_without_a_field_added_since_is_the_same_experiment():
  saved = tiny_config().to_dict()
  del saved["latent_distribution"]  # saved before latent_distribution existed
  assert config_lib.config_differences(saved, tiny_config().to_dict()) == []
  assert config_lib.config_differences(saved, tiny_config(latent_distribution="uniform")
                                       .to_dict()) == [
      "latent_distribution: 'normal' -> 'uniform'"]


def test_a_saved_config_with_every_added_field_changed_is_another_experiment():
  """Issue 28: each field added since runs were first saved, at a value other than the one its
  absence meant, makes a saved config differ from today's default (both ways), so resume refuses
  it; only an absent field reads as that value."""
  non_default = {"latent_distribution": "uniform", "diffaugment": "translation",
                 "diffaugment_strength": 0.5, "ema_warmup": True,
                 "sample_batch_stats": "standing"}
  assert set(non_default) == set(config_lib.ADDED_FIELDS)  # a new added field needs a row here
  default = tiny_config().to_dict()
  for field, value in non_default.items():
    assert value != config_lib.ADDED_FIELDS[field]
    saved = dict(default, **{field: value})
    expected = [f"{field}: {value!r} -> {config_lib.ADDED_FIELDS[field]!r}"]
    assert config_lib.config_differences(saved, default) == expected
    assert config_lib.config_differences(default, saved) == [
        f"{field}: {config_lib.ADDED_FIELDS[field]!r} -> {value!r}"]
    absent = {k: v for k, v in default.items() if k != field}
    assert config_lib.config_differences(absent, saved) == [
        f"{field}: {config_lib.ADDED_FIELDS[field]!r} -> {value!r}"]


# ---------------------------------------------------------------------------------------------
# PacGAN packing.


@pytest.mark.parametrize("overrides,message", [
    (dict(pack=0), "config.pack=0 must be a positive integer: 1 (no packing)"),
    (dict(pack=True), "config.pack=True must be a positive integer"),
    (dict(pack=3), "config.batch_size=8 samples cannot be packed 3 at a time into whole packed "
     "inputs on each of 8 devices; use a multiple of pack x devices = 24"),
    (dict(pack=2, batch_size=16, conditional=True), "a packed input would hold 2 samples of "
     "different classes"),
])
def test_bad_packing_is_refused_with_a_clear_message(overrides, message):
  with pytest.raises(config_lib.ConfigError) as info:
    config_lib.check_config(tiny_config(**overrides))
  assert message in str(info.value)


def test_packing_reaches_the_objective():
  config = tiny_config(pack=2, batch_size=16)
  config_lib.check_config(config)
  assert config_lib.build_gan(config).pack == 2
  assert config_lib.build_gan(tiny_config()).pack == 1


@pytest.mark.parametrize("name", ["pacgan_ring", "pacgan_grid"])
def test_pacgan_configs_keep_100_packed_inputs_per_update(name, monkeypatch):
  module = importlib.import_module(f"experiments.configs.{name}")
  monkeypatch.setattr(jax, "device_count", lambda: 1)  # 100 * pack samples on one device
  for pack in (1, 2, 3, 4):
    config = module.get_config()
    config.pack = pack  # what --config.pack=m does
    assert config.batch_size == 100 * pack
    config_lib.check_config(config)
    gan = config_lib.build_gan(config)
    assert (gan.pack, gan.latent_dim, gan.data_shape) == (pack, 2, (2,))
  assert config.dataset == f"toy_{name.split('_')[1]}_100k" and config.model == "pacgan_mlp"
  assert (config.adam_b1, config.g_learning_rate, config.num_steps) == (0.8, 1e-4, 400_000)
  # Table 1's runs: packing 1-4, ten seeds each (trained together), the batch with the packing.
  runs = module.sweep()
  assert runs == [dict(pack=m, batch_size=100 * m, num_seeds=10) for m in range(1, 5)]
  # The paper's values are keyed by the same overrides, without the seeds.
  assert [overrides for overrides, _ in module.paper_results()] == [
      sweeps.setting_of(run) for run in runs]



# ---------------------------------------------------------------------------------------------
# Every field by its type and range (config_lib.FIELDS), at the door.


CONFIG_FILES = sorted(name[:-3] for name in os.listdir(os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "experiments", "configs"))
                      if name.endswith(".py") and name not in ("__init__.py", "common.py"))


def test_the_field_table_covers_every_field_of_the_base_config():
  assert sorted(config_lib.FIELDS) == sorted(common.base_config().keys())


@pytest.mark.parametrize("name", CONFIG_FILES)
def test_every_config_file_and_its_sweep_validate(name, monkeypatch):
  monkeypatch.setattr(jax, "device_count", lambda: 1)  # the configs are written for one device
  module = importlib.import_module(f"experiments.configs.{name}")
  commands = set(re.findall(r"python -m (experiments\.\w+)", module.__doc__ or ""))
  assert commands, f"{name}.py: its docstring holds no command that runs it"
  if not commands & {"experiments.train", "experiments.sweep"}:
    pytest.skip(f"not a GAN config: run by {', '.join(sorted(commands))}, which check their own")
  config_lib.check_config(module.get_config())
  for overrides in getattr(module, "sweep", lambda: [])():
    config_lib.check_config(sweeps.apply_overrides(module.get_config(), overrides))


@pytest.mark.parametrize("field,value,says", [
    # Wrong type.
    ("latent_dim", "100", "must be a positive integer"),
    ("batch_size", 8.0, "must be a positive integer"),
    ("num_steps", True, "must be a positive integer"),
    ("conditional", 1, "must be True or False"),
    ("model_args.hidden", ("abc",), "must be a non-empty tuple of positive integers"),
    ("xla_cpu_options", 1, "must be a string: 'auto', ''"),
    # Not finite.
    ("d_learning_rate", float("inf"), "must be a positive number (finite)"),
    ("g_learning_rate", float("nan"), "must be a positive number (finite)"),
    ("gp_weight", float("inf"), "must be >= 0 and finite"),
    # Out of range.
    ("model_args.hidden", (0,), "must be a non-empty tuple of positive integers"),
    ("model_args.hidden", (), "must be a non-empty tuple of positive integers"),
    ("adam_b1", 2.0, "must be in [0, 1)"),
    ("adam_b2", 1.0, "must be in [0, 1)"),
    ("model_args.d_dropout", -0.1, "must be in [0, 1)"),
    ("eval_every", -1, "must be an integer >= 0: 0 (no evaluation during training)"),
    ("sample_every", -5, "must be an integer >= 0"),
    ("eval_num_samples", 0, "must be a positive integer"),
    ("seed", -1, "must be a non-negative integer"),
    ("num_seeds", 0, "must be a positive integer"),
    ("r1_gamma", -1.0, "must be >= 0"),
    ("model_args.width", 0, "must be a positive integer"),
    # Not one of the choices (registries are looked up).
    ("model_args.output", "relu", "must be 'tanh'"),
    ("loss", "minimax", "is not valid; choose one of: " + ", ".join(losses.names())),
    ("dataset", "imagenet", "is not valid; choose one of: " + ", ".join(data.names())),
])
def test_each_field_is_checked_by_its_type_and_range(field, value, says):
  # A model family's setting (model_args.<name>) is checked as the family declares it.
  model = {"model_args.hidden": "mlp", "model_args.output": "mlp",
           "model_args.width": "dcgan32"}.get(field, "dcgan28")
  with pytest.raises(config_lib.ConfigError) as info:
    config_lib.check_field(field, value, tiny_config(model=model))
  assert str(info.value).startswith(f"config.{field}={value!r} ") and says in str(info.value)
  # A config built from a dict (a saved config.json, a library user's) takes any type.
  config = tiny_config(model=model).to_dict()
  head, _, setting = field.rpartition(".")
  (config[head] if head else config)[setting] = value
  config = ml_collections.ConfigDict(config)
  with pytest.raises(config_lib.ConfigError) as info:
    config_lib.check_config(config)
  assert str(info.value).startswith(f"config.{field}=") and says in str(info.value)


def test_data_dir_must_be_a_directory_or_where_one_can_be_made(tmp_path):
  a_file = tmp_path / "a_file"
  a_file.write_text("x")
  for bad in (str(a_file), str(a_file / "below")):
    with pytest.raises(config_lib.ConfigError, match=r"config.data_dir=.* not of a file"):
      config_lib.check_config(tiny_config(data_dir=bad))
  for good in ("", str(tmp_path), str(tmp_path / "not" / "yet")):
    config_lib.check_field("data_dir", good)


def test_unknown_and_missing_fields_are_named():
  config = tiny_config()
  config.lerning_rate = 0.1
  with pytest.raises(config_lib.ConfigError, match="config.lerning_rate is not a field"):
    config_lib.check_config(config)
  config = ml_collections.ConfigDict({k: v for k, v in tiny_config().items() if k != "pack"})
  with pytest.raises(config_lib.ConfigError, match="config.pack is missing"):
    config_lib.check_config(config)
  with pytest.raises(config_lib.ConfigError, match="config.lerning_rate is not a field"):
    config_lib.check_field("lerning_rate", 0.1)


def test_registered_names_are_looked_up_not_listed(monkeypatch):
  monkeypatch.setattr(losses, "LOSSES", losses.LOSSES.copy())
  losses.register("my_new_loss", losses.get("hinge"))
  config_lib.check_field("loss", "my_new_loss")
  with pytest.raises(config_lib.ConfigError, match="my_new_loss"):
    config_lib.check_field("loss", "minimax")
