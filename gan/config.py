"""Configs, resolved and validated once, at the door: what a run means, and how it is scheduled.

A config is an ``ml_collections.ConfigDict`` (``experiments/configs/*.py``; every field is
documented in ``experiments/configs/common.py``). This module turns it into the two halves the
step takes:

* `build_gan`: the objective, a `gan.step.GAN` (models from the model registry, shapes from the
  dataset registry, optimizers, the loss and its regularizers). It never depends on the machine.
* `resolve_schedule`: a `gan.step.Schedule`, how the step is laid out on this backend and mesh
  (the model family's CPU defaults, unless the config sets them). It never changes the function.

`check_config` refuses, with one message naming the field and what would work, every value that
cannot work and every combination that would silently compute something else (a gradient penalty
on a BatchNorm discriminator; the Wasserstein loss with no Lipschitz constraint on D). Each field's
type and range is one entry of `FIELDS` (a registered name is looked up in its registry);
`check_field` checks one value by it, as the sweep's ``--grid`` parser does.
"""

from __future__ import annotations

import difflib
import json
from typing import Any, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import ml_collections

from gan import augment
from gan import data
from gan import fields
from gan import latent
from gan import losses
from gan import models
from gan import step as step_lib
from gan import workdir as workdir_lib

# Changing these does not change what a resumed run computes.
RESUME_FREE_FIELDS = ("num_steps", "num_epochs")  # a run (GAN or autoencoder) may be extended
# Fields added after runs were saved, with the value their absence meant: an older config.json
# without them is the same experiment as a config that sets them to that value.
ADDED_FIELDS = {"latent_distribution": "normal", "diffaugment": "", "diffaugment_strength": 1.0,
                "ema_warmup": False, "sample_batch_stats": "running"}
# Model settings that were flat fields before they moved under their family (config.model_args):
# a saved config.json with the old keys is read with each key its family declares moved there
# (`upgrade_saved`); a family that does not declare one never read it.
FLAT_MODEL_ARGS = {"d_dropout": "d_dropout", "mlp_hidden": "hidden", "mlp_output": "output",
                   "model_width": "width", "phase_decomposed_upsample": "phase_decomposed_upsample"}
NAN_POLICIES = ("stop", "skip_step")
AUTO = "auto"  # xla_cpu_options: the model family's default
AUTO_CHUNK = -1  # d_chunk_size: the model family's default


from gan.errors import ConfigError
from gan.fields import Field, is_directory_path


def _require(ok: bool, message: str) -> None:
  if not ok:
    raise ConfigError(message)


# ----------------------------------------------------------------------------------------------
# The objective.


def model_config(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The config with the dataset's ``data_shape`` and ``num_classes`` filled in (a copy)."""
  spec = data.get(config.dataset)
  resolved = ml_collections.ConfigDict(config.to_dict())
  resolved.data_shape = tuple(spec.data_shape)
  resolved.num_classes = spec.num_classes if config.get("conditional", False) else 0
  return resolved


def build_gan(config: ml_collections.ConfigDict) -> step_lib.GAN:
  """The `GAN` (objective) a config describes.

  Shapes come from the dataset registry when the config names a ``dataset``; a config without
  one must carry ``data_shape`` (and ``num_classes``) itself.

  Raises:
    ValueError: a setting the model family, loss or optimizer cannot take.
  """
  resolved = model_config(config) if "dataset" in config else config
  generator, discriminator = models.make_models(resolved)
  losses.get(resolved.loss)
  optimizer = lambda lr: step_lib.make_optimizer(resolved.optimizer, lr,
                                                 resolved.get("adam_b1", 0.5),
                                                 resolved.get("adam_b2", 0.999))
  return step_lib.GAN(
      generator=generator,
      discriminator=discriminator,
      g_optimizer=optimizer(resolved.g_learning_rate),
      d_optimizer=optimizer(resolved.d_learning_rate),
      data_shape=tuple(resolved.data_shape),
      latent_dim=int(resolved.latent_dim),
      latent_distribution=resolved.get("latent_distribution", "normal"),
      loss=resolved.loss,
      n_critic=int(resolved.get("n_critic", 1)),
      num_classes=int(resolved.get("num_classes", 0)),
      ema_decay=float(resolved.get("ema_decay", 0.0)),
      ema_warmup=bool(resolved.get("ema_warmup", False)),
      r1_gamma=float(resolved.get("r1_gamma", 0.0)),
      gp_weight=float(resolved.get("gp_weight", 0.0)),
      d_weight_clip=float(resolved.get("d_weight_clip", 0.0)),
      pack=int(resolved.get("pack", 1)),
      diffaugment=augment.parse_policy(resolved.get("diffaugment", "")),
      diffaugment_strength=float(resolved.get("diffaugment_strength", 1.0)),
      sample_batch_stats=resolved.get("sample_batch_stats", "running"),
  )


# ----------------------------------------------------------------------------------------------
# The schedule.


def parse_xla_options(text: str) -> tuple:
  """``'name=value,name=value'`` -> ``(('name', 'value'), ...)`` sorted; ``''`` -> ``()``."""
  options = []
  for item in filter(None, (part.strip() for part in text.split(","))):
    name, sep, value = item.partition("=")
    _require(bool(sep and name.strip() and value.strip()),
             f"config.xla_cpu_options={text!r}: {item!r} is not of the form name=value; write "
             "'auto' (the model family's default), '' (XLA's defaults) or "
             "'name=value,name=value'.")
    options.append((name.strip(), value.strip()))
  return tuple(sorted(options))


def resolve_schedule(config: ml_collections.ConfigDict, backend: Optional[str] = None,
                     num_devices: int = 1) -> step_lib.Schedule:
  """The `Schedule` for ``config`` on ``backend`` (default: JAX's) over ``num_devices`` devices.

  ``d_chunk_size = -1`` and ``xla_cpu_options = 'auto'`` take the model family's CPU defaults
  (`gan.models.ModelFamily`) on a CPU backend, and whole batches / XLA's defaults elsewhere (an
  accelerator wants whole batches; on a multi-device mesh pieces of a batch would straddle
  devices). Set explicitly, they are used as given (XLA options only on a CPU backend, where
  they mean something).

  Raises:
    ConfigError: a ``d_chunk_size`` for a discriminator with BatchNorm, or malformed options.
  """
  backend = backend or jax.default_backend()
  family = models.get(config.model)
  on_one_cpu = backend == "cpu" and num_devices == 1
  chunk = config.get("d_chunk_size", AUTO_CHUNK)
  check_field("d_chunk_size", chunk)
  spectral_norm = bool(config.get("model_args", {}).get("spectral_norm", False))
  if chunk == AUTO_CHUNK:
    chunk = family.cpu_d_chunk_size if on_one_cpu and not spectral_norm else 0
  _require(not (chunk and family.discriminator.uses_batchnorm),
           f"config.d_chunk_size={chunk} needs a discriminator without BatchNorm: "
           f"{config.model!r}'s normalises over the batch, so pieces of it would compute another "
           "function. Use d_chunk_size=0.")
  _require(not (chunk and spectral_norm),
           f"config.d_chunk_size={chunk} cannot go with model_args.spectral_norm: each piece of "
           "a batch would take one more power iteration, so the chunk size would change the "
           "numbers. Use d_chunk_size=0.")
  options = config.get("xla_cpu_options", AUTO)
  check_field("xla_cpu_options", options)
  if backend != "cpu":
    options = ()
  elif options == AUTO:
    options = tuple(family.cpu_xla_options)
  else:
    options = parse_xla_options(options)
  return step_lib.Schedule(
      share_generator_forward=bool(config.get("share_generator_forward", True)),
      concat_real_fake=bool(config.get("concat_real_fake", False)),
      d_chunk_size=int(chunk), xla_cpu_options=options)


# ----------------------------------------------------------------------------------------------
# Validation at the door.


def _is_policy(text: str) -> bool:
  try:
    augment.parse_policy(text)
  except ValueError:
    return False
  return True


_POSITIVE_INT = "must be a positive integer."
_IN_0_1 = "must be in [0, 1)"

# Every field of a config (experiments/configs/common.py documents them), in its order. Fields
# that name a component are looked up in its registry.
FIELDS = {
    # Data.
    "dataset": fields.one_of(data.names),
    "data_dir": Field(str, is_directory_path,
                      "must be '' ($TFDS_DATA_DIR or ~/tensorflow_datasets) or the path of a "
                      "directory (made if missing), not of a file."),
    "conditional": fields.switch(),
    # Model.
    "model": fields.one_of(models.names),
    "latent_dim": fields.integer(1, _POSITIVE_INT),
    "latent_distribution": fields.one_of(lambda: tuple(latent.DISTRIBUTIONS)),
    # The family's own settings; each is checked by the family (`ModelFamily.check_args`).
    "model_args": Field(dict, lambda v: isinstance(v, (dict, ml_collections.ConfigDict)),
                        "must be the model family's settings, e.g. "
                        "gan.models.default_args('mlp')."),
    # Objective and optimisation.
    "loss": fields.one_of(losses.names),
    "n_critic": fields.integer(1, "must be a positive integer (D updates per G update)."),
    "r1_gamma": fields.number(lambda v: v >= 0, "must be >= 0 and finite (0 = no R1 penalty)."),
    "gp_weight": fields.number(lambda v: v >= 0, "must be >= 0 and finite (0 = no gradient penalty)."),
    "d_weight_clip": fields.number(lambda v: v >= 0, "must be >= 0 and finite (0 = no clipping)."),
    "pack": step_lib.PACK,
    "diffaugment": Field(str, lambda v: isinstance(v, str) and _is_policy(v),
                         lambda: "must be '' (off) or a comma-separated list of "
                                 f"{', '.join(augment.AUGMENTATIONS)}, e.g. 'translation,cutout'."),
    "diffaugment_strength": fields.number(lambda v: 0 <= v <= 2, "must be in [0, 2]: 1 = Zhao et al. "
                                    "2020's transform sizes, 0 = identity."),
    "optimizer": fields.one_of(lambda: tuple(step_lib.OPTIMIZERS)),
    "g_learning_rate": fields.number(lambda v: v > 0, "must be a positive number (finite), e.g. 2e-4."),
    "d_learning_rate": fields.number(lambda v: v > 0, "must be a positive number (finite), e.g. 2e-4."),
    "adam_b1": fields.number(lambda v: 0 <= v < 1, f"{_IN_0_1}: Adam's first-moment decay (0.5 in "
                       "Radford et al. 2015; SGD's momentum)."),
    "adam_b2": fields.number(lambda v: 0 <= v < 1, f"{_IN_0_1}: Adam's second-moment decay, e.g. "
                       "0.999."),
    "ema_decay": fields.number(lambda v: 0 <= v < 1, f"{_IN_0_1} (0 turns EMA off)."),
    "ema_warmup": fields.switch(),
    "sample_batch_stats": step_lib.SAMPLE_BATCH_STATS,
    "batch_size": fields.integer(1, _POSITIVE_INT),
    "num_steps": fields.integer(1, _POSITIVE_INT),
    "seed": fields.integer(0, "must be a non-negative integer."),
    "num_seeds": fields.integer(1, "must be a positive integer (seeds trained together)."),
    "nan_policy": fields.one_of(lambda: NAN_POLICIES),
    # Scheduling.
    "share_generator_forward": fields.switch(),
    "concat_real_fake": fields.switch(),
    "d_chunk_size": fields.integer(AUTO_CHUNK, "must be an integer: -1 (the model's default), 0 "
                             "(whole batches) or the examples per D call."),
    "xla_cpu_options": Field(str, lambda v: isinstance(v, str),
                             "must be a string: 'auto', '' or 'name=value,name=value'."),
    # Outputs.
    "log_every": fields.integer(1, _POSITIVE_INT),
    "checkpoint_every": fields.integer(1, _POSITIVE_INT),
    "keep_checkpoints": fields.integer(1, _POSITIVE_INT),
    "sample_every": fields.integer(0, "must be an integer >= 0 (0 = samples only at the end)."),
    "num_samples": fields.integer(1, "must be a positive integer (the fixed-z sample grid)."),
    "eval_every": fields.integer(0, "must be an integer >= 0: 0 (no evaluation during training) or N "
                           "(every N steps)."),
    "eval_num_samples": fields.integer(1, "must be a positive integer (samples scored per "
                                 "evaluation)."),
    "final_eval": fields.switch(),
}


def field_of(name: str, config: Optional[ml_collections.ConfigDict] = None) -> Field:
  """The `Field` that checks ``config.<name>``: one of `FIELDS`, or for a dotted
  ``model_args.<setting>`` the setting's field as ``config.model``'s family declares it.

  Raises:
    ConfigError: no such field (or the family has no such setting).
  """
  head, dot, setting = name.partition(".")
  if head == "model_args" and dot:
    _require(config is not None and "model" in config,
             f"config.{name}: which model family's setting it is depends on config.model; "
             "pass the config.")
    family = models.get(config.model)
    if setting not in family.args:
      close = difflib.get_close_matches(setting, family.args, n=1)
      raise ConfigError(f"config.{name} is not a setting of model {config.model!r}"
                        f"{f' (did you mean model_args.{close[0]}?)' if close else ''}; its "
                        f"settings are: {', '.join(family.args) or 'none'}.")
    return family.args[setting].field
  if name not in FIELDS:
    close = difflib.get_close_matches(name, FIELDS, n=1)
    raise ConfigError(f"config.{name} is not a field jaxgan reads"
                      f"{f' (did you mean {close[0]}?)' if close else ''}; the fields are "
                      "documented in experiments/configs/common.py.")
  return FIELDS[name]


def check_field(name: str, value: Any, config: Optional[ml_collections.ConfigDict] = None
                ) -> None:
  """Raises `ConfigError` unless ``value`` is one ``config.<name>`` accepts (by itself; how
  fields combine is `check_config`'s). A dotted ``model_args.<setting>`` needs ``config``
  (its family)."""
  field_of(name, config).check(name, value)


def check_config(config: ml_collections.ConfigDict
                 ) -> tuple[step_lib.GAN, step_lib.Schedule]:
  """Raises `ConfigError` naming the first field that cannot work and what would.

  Every field is checked by itself (`FIELDS`), then the combinations: the batch over devices
  and packs, labelled data for a conditional GAN, the model on the dataset, the objective.

  Returns:
    What checking it built: the objective (`build_gan`) and its schedule over every device
    (`resolve_schedule`), so that a caller need not build them again.
  """
  for name in config.keys():
    field_of(name)
  for name in FIELDS:
    _require(name in config, f"config.{name} is missing; start the config from "
             "experiments/configs/common.py's base_config(), which sets every field.")
    check_field(name, config[name])
  models.get(config.model).check_args(dict(config.model_args))
  devices, processes = jax.device_count(), jax.process_count()
  _require(config.batch_size % devices == 0,
           f"config.batch_size={config.batch_size} cannot be split evenly over {devices} devices; "
           f"use a multiple of {devices}.")
  _require(config.batch_size % processes == 0,
           f"config.batch_size={config.batch_size} cannot be split evenly over {processes} "
           f"processes; use a multiple of {processes}.")
  pack = config.pack  # batch_size counts samples; D sees batch_size / pack inputs
  _require(config.batch_size % (pack * devices) == 0,
           f"config.batch_size={config.batch_size} samples cannot be packed {pack} at a time into "
           f"whole packed inputs on each of {devices} devices; use a multiple of pack x devices = "
           f"{pack * devices} (the PacGAN configs set batch_size = 100 * pack).")
  spec = data.get(config.dataset)
  _require(not config.conditional or spec.num_classes > 0,
           f"config.conditional=True needs labelled data, but {config.dataset!r} has no classes.")
  _require(not config.final_eval or spec.evaluation is not None,
           f"config.final_eval=True asks for a final evaluation, but {config.dataset!r} cannot "
           f"be evaluated here: {spec.evaluation_note} Set final_eval=False.")
  _require(not config.eval_every or spec.evaluation is not None,
           f"config.eval_every={config.eval_every} asks for evaluation during training, but "
           f"{config.dataset!r} cannot be evaluated here: {spec.evaluation_note} Set "
           "eval_every=0.")
  try:
    gan = build_gan(config)  # the objective's own rules (`gan.step.GAN`) report themselves
  except ConfigError:
    raise
  except ValueError as e:
    raise ConfigError(f"config.model={config.model!r} does not fit config.dataset="
                      f"{config.dataset!r}: {e}") from e
  _check_objective(config, gan)
  schedule = resolve_schedule(config, num_devices=devices)
  _check_xla_options(schedule)
  return gan, schedule


def _check_objective(config: ml_collections.ConfigDict, gan: step_lib.GAN) -> None:
  """Combinations that would silently compute something other than what they say."""
  if gan.discriminator.uses_batchnorm:
    for field in ("r1_gamma", "gp_weight"):
      _require(not config.get(field),
               f"config.{field}={config.get(field)} needs per-example input gradients of D, but "
               f"{config.model!r}'s discriminator uses BatchNorm, which mixes the examples of a "
               f"batch, so the penalty would not be the one in the paper. Use a model whose D has "
               f"no BatchNorm (dcgan28, mlp) or set {field}=0.")
  if losses.get(config.loss).needs_lipschitz:
    _require(bool(config.gp_weight or config.get("d_weight_clip", 0.0)),
             f"config.loss={config.loss!r} needs a Lipschitz constraint on D, or the critic's "
             "loss is unbounded below. Set config.gp_weight=10 (WGAN-GP, Gulrajani et al. 2017) "
             "or config.d_weight_clip=0.01 (WGAN, Arjovsky et al. 2017).")


def _check_xla_options(schedule: step_lib.Schedule) -> None:
  """Compiling a trivial function is how XLA says whether it knows the options."""
  options = schedule.compiler_options()
  if not options:
    return
  try:
    jax.jit(lambda: jnp.zeros(()), compiler_options=options).lower().compile()
  except Exception as e:  # pylint: disable=broad-except
    raise ConfigError(f"config.xla_cpu_options={options!r} is not accepted by XLA: "
                      f"{str(e).splitlines()[0]}. Fix or remove the option.") from e


# ----------------------------------------------------------------------------------------------
# Saved configs.


def _flatten(tree, prefix=""):
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict):
      out.update(_flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
  return out


def upgrade_saved(saved: Mapping[str, Any]) -> dict:
  """A config saved before the model settings moved under their family, with today's fields:
  each of `FLAT_MODEL_ARGS` that ``saved['model']``'s family declares moves to ``model_args``
  (the others were never read by it and are dropped). A config with no flat key is returned as
  it is."""
  saved = dict(saved)
  flat = {name: saved.pop(name) for name in list(saved) if name in FLAT_MODEL_ARGS}
  if flat and "model_args" not in saved:
    family = models.get(saved["model"])
    moved = {FLAT_MODEL_ARGS[name]: value for name, value in flat.items()}
    saved["model_args"] = {**family.default_args(),
                           **{k: v for k, v in moved.items() if k in family.args}}
  elif isinstance(saved.get("model_args"), dict) and saved.get("model") in models.names():
    # A setting the family declared after the run was saved, at the default that keeps the
    # family's earlier behaviour (the rule for adding one, e.g. spectral_norm=False).
    saved["model_args"] = {**models.default_args(saved["model"]), **saved["model_args"]}
  return saved


def comparable_fields(saved: Mapping[str, Any]) -> dict:
  """A saved config as flat today's fields (``{'model_args.hidden': [64, 64], ...}``; tuples as
  lists, as JSON has them): old flat model settings moved (`upgrade_saved`), each field added
  since at the value its absence meant (`ADDED_FIELDS`). Two runs compute the same thing when
  these are equal."""
  return {**ADDED_FIELDS, **_flatten(upgrade_saved(json.loads(json.dumps(dict(saved)))))}


def config_differences(saved: dict, current: dict) -> list[str]:
  """Fields (other than `RESUME_FREE_FIELDS`) whose values differ, as ``'field: old -> new'``;
  ``saved`` is read as today's fields (`upgrade_saved`; a field added since, `ADDED_FIELDS`, at
  the value its absence meant)."""
  a, b = _flatten(upgrade_saved(saved)), _flatten(json.loads(json.dumps(current)))
  a = {**{k: v for k, v in ADDED_FIELDS.items() if k in b}, **a}
  return [f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}"
          for k in sorted(set(a) | set(b)) if k not in RESUME_FREE_FIELDS and a.get(k) != b.get(k)]


def from_saved(saved: dict) -> ml_collections.ConfigDict:
  """A config saved in a workdir's ``config.json``, as today's config: old flat model settings
  moved under ``model_args`` (`upgrade_saved`), and each field added since (`ADDED_FIELDS`) at
  the value its absence meant."""
  return ml_collections.ConfigDict({**ADDED_FIELDS, **upgrade_saved(saved)})


def load_saved(workdir: str) -> ml_collections.ConfigDict:
  """The config a training run saved in ``workdir`` (`from_saved`); `ConfigError` when there is
  none or it is damaged."""
  return from_saved(workdir_lib.read_config(workdir))


def switch_model(config: ml_collections.ConfigDict, model: str, keep: Sequence[str] = ()) -> None:
  """Sets ``config.model = model`` with ``config.model_args`` at that family's defaults: the
  settings of a config's own family do not carry over to another. The settings named in
  ``keep`` (given explicitly, e.g. on the command line) keep their values, declared by the new
  family or not (one it lacks is then refused by `check_config`).

  Raises:
    ConfigError: ``model`` is not a registered family.
  """
  settings = models.default_args(model)
  settings.update({k: config.model_args[k] for k in keep if k in config.model_args})
  with config.ignore_type():
    config.model = model
    config.model_args = ml_collections.ConfigDict(settings)
