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
on a BatchNorm discriminator; the Wasserstein loss with no Lipschitz constraint on D).
"""

from __future__ import annotations

import json
import os
from typing import Optional

import jax
import jax.numpy as jnp
import ml_collections

from gan import data
from gan import losses
from gan import models
from gan import step as step_lib

# Changing these does not change what a resumed run computes.
RESUME_FREE_FIELDS = ("num_steps",)
NAN_POLICIES = ("stop", "skip_step")
AUTO = "auto"  # xla_cpu_options: the model family's default
AUTO_CHUNK = -1  # d_chunk_size: the model family's default


class ConfigError(ValueError):
  """The config (or the workdir it is run in) cannot work; the message says what would."""


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
      loss=resolved.loss,
      n_critic=int(resolved.get("n_critic", 1)),
      num_classes=int(resolved.get("num_classes", 0)),
      ema_decay=float(resolved.get("ema_decay", 0.0)),
      r1_gamma=float(resolved.get("r1_gamma", 0.0)),
      gp_weight=float(resolved.get("gp_weight", 0.0)),
      d_weight_clip=float(resolved.get("d_weight_clip", 0.0)),
      pack=int(resolved.get("pack", 1)),
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
  _require(isinstance(chunk, int) and not isinstance(chunk, bool) and chunk >= AUTO_CHUNK,
           f"config.d_chunk_size={chunk!r} must be an integer: -1 (the model's default), 0 "
           "(whole batches) or the examples per D call.")
  if chunk == AUTO_CHUNK:
    chunk = family.cpu_d_chunk_size if on_one_cpu else 0
  _require(not (chunk and family.discriminator.uses_batchnorm),
           f"config.d_chunk_size={chunk} needs a discriminator without BatchNorm: "
           f"{config.model!r}'s normalises over the batch, so pieces of it would compute another "
           "function. Use d_chunk_size=0.")
  options = config.get("xla_cpu_options", AUTO)
  _require(isinstance(options, str),
           f"config.xla_cpu_options={options!r} must be a string: 'auto', '' or "
           "'name=value,name=value'.")
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


def check_config(config: ml_collections.ConfigDict) -> None:
  """Raises `ConfigError` naming the first field that cannot work and what would."""
  def choice(field, valid):
    _require(config.get(field) in valid, f"config.{field}={config.get(field)!r} is not valid; "
             f"choose one of: {', '.join(valid)}.")

  def positive(field, kind=float):
    value = config.get(field)
    _require(isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 and
             (kind is float or float(value).is_integer()),
             f"config.{field}={value!r} must be a positive {'integer' if kind is int else 'number'}.")

  choice("dataset", data.names())
  choice("model", models.names())
  choice("loss", losses.names())
  choice("optimizer", tuple(step_lib.OPTIMIZERS))
  choice("nan_policy", NAN_POLICIES)
  for field in ("g_learning_rate", "d_learning_rate"):
    positive(field)
  for field in ("batch_size", "num_steps", "n_critic", "latent_dim", "log_every",
                "checkpoint_every", "keep_checkpoints", "num_samples"):
    positive(field, int)
  if "num_seeds" in config:
    positive("num_seeds", int)
  _require(0.0 <= config.ema_decay < 1.0,
           f"config.ema_decay={config.ema_decay!r} must be in [0, 1) (0 turns EMA off).")
  _require(0.0 <= config.d_dropout < 1.0,
           f"config.d_dropout={config.d_dropout!r} must be in [0, 1).")
  _require(config.sample_every >= 0, "config.sample_every must be >= 0 (0 = only at the end).")
  _require(config.r1_gamma >= 0 and config.gp_weight >= 0,
           "config.r1_gamma and config.gp_weight must be >= 0.")
  _require(config.get("d_weight_clip", 0.0) >= 0,
           f"config.d_weight_clip={config.get('d_weight_clip')!r} must be >= 0 (0 = no clipping).")
  _require(config.seed >= 0 and float(config.seed).is_integer(),
           f"config.seed={config.seed!r} must be a non-negative integer.")
  devices, processes = jax.device_count(), jax.process_count()
  _require(config.batch_size % devices == 0,
           f"config.batch_size={config.batch_size} cannot be split evenly over {devices} devices; "
           f"use a multiple of {devices}.")
  _require(config.batch_size % processes == 0,
           f"config.batch_size={config.batch_size} cannot be split evenly over {processes} "
           f"processes; use a multiple of {processes}.")
  pack = config.get("pack", 1)  # batch_size counts samples; D sees batch_size / pack inputs
  _require(isinstance(pack, int) and not isinstance(pack, bool) and pack >= 1,
           f"config.pack={pack!r} must be a positive integer: 1 (no packing) or m, the samples "
           "D judges at once (PacGAN2 = 2).")
  _require(config.batch_size % (pack * devices) == 0,
           f"config.batch_size={config.batch_size} samples cannot be packed {pack} at a time into "
           f"whole packed inputs on each of {devices} devices; use a multiple of pack x devices = "
           f"{pack * devices} (the PacGAN configs set batch_size = 100 * pack).")
  _require(pack == 1 or not config.conditional,
           f"config.pack={pack} with config.conditional=True: a packed input would hold {pack} "
           "samples of different classes, but D takes one label per input. Use pack=1 or "
           "conditional=False.")
  spec = data.get(config.dataset)
  _require(not config.conditional or spec.num_classes > 0,
           f"config.conditional=True needs labelled data, but {config.dataset!r} has no classes.")
  _require(not config.get("final_eval", False) or spec.evaluation is not None,
           f"config.final_eval=True asks for a final evaluation, but {config.dataset!r} cannot "
           f"be evaluated here: {spec.evaluation_note} Set final_eval=False.")
  _require(not config.get("eval_every", 0) or spec.evaluation is not None,
           f"config.eval_every={config.get('eval_every')} asks for evaluation during training, but "
           f"{config.dataset!r} cannot be evaluated here: {spec.evaluation_note} Set "
           "eval_every=0.")
  try:
    gan = build_gan(config)
  except ValueError as e:
    raise ConfigError(f"config.model={config.model!r} does not fit config.dataset="
                      f"{config.dataset!r}: {e}") from e
  _check_objective(config, gan)
  schedule = resolve_schedule(config, num_devices=devices)
  _check_xla_options(schedule)


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


def config_differences(saved: dict, current: dict) -> list[str]:
  """Fields (other than `RESUME_FREE_FIELDS`) whose values differ, as ``'field: old -> new'``."""
  a, b = _flatten(saved), _flatten(json.loads(json.dumps(current)))
  return [f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}"
          for k in sorted(set(a) | set(b)) if k not in RESUME_FREE_FIELDS and a.get(k) != b.get(k)]


def load_run_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a training run saved in ``workdir`` (raises `ConfigError` if there is none)."""
  path = os.path.join(workdir, "config.json")
  if not os.path.isfile(path):
    raise ConfigError(f"--workdir {workdir} holds no training run (no config.json); pass the "
                      f"workdir given to experiments.train.")
  with open(path, encoding="utf-8") as f:
    return ml_collections.ConfigDict(json.load(f))
