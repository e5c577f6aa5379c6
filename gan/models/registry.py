"""The model-family registry and the contract every generator and discriminator keeps.

The train step (`gan.step`) needs exactly this of the modules a family builds, and nothing else:

* ``G(z, labels=None, train=...)`` maps latents ``[B, latent_dim]`` to data ``[B, *data_shape]``.
* ``D(x, labels=None, train=..., dropout_keys=None)`` returns one **logit** per example, ``[B]``;
  the sigmoid lives in the loss. Dropout draws its mask from ``dropout_keys``, one PRNG key per
  example (`gan.models.layers.example_dropout`), so a mask depends only on the example and never
  on how the batch is split across devices.
* Both are Flax linen modules with a field ``axis_name`` (the step sets it with
  ``.clone(axis_name=...)``): BatchNorm statistics then become global-batch statistics under
  pmap. BatchNorm statistics live in the ``batch_stats`` collection.
* D declares ``uses_batchnorm``: whether it normalises over the batch, so that its examples are
  not independent. The step and the config checks rely on it: gradient penalties need
  per-example input gradients, and D can only be run in pieces (``d_chunk_size``) or on
  [real; fake] at once when examples are independent.
* With ``num_classes > 0`` a family is class conditional (a label embedding in G, a projection
  discriminator, Miyato & Koyama 2018, in D) and ``labels`` are required.

`register` checks a family's module classes against this contract (`Generator`,
`Discriminator`), so a family that breaks it fails at import, not mid-training.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from typing import Any, Callable, Mapping, Optional, Protocol, runtime_checkable

import flax.linen as nn
import jax

from gan.errors import ConfigError
from gan.fields import Arg
from gan.registry import Registry


@runtime_checkable
class Generator(Protocol):
  """What the step calls on a generator (a Flax linen module)."""
  axis_name: Optional[str]

  def __call__(self, z: jax.Array, labels: Optional[jax.Array] = None,
               train: bool = True) -> jax.Array:
    ...

  def init(self, rngs, *args, **kwargs) -> Any:
    ...

  def apply(self, variables, *args, **kwargs) -> Any:
    ...

  def clone(self, **updates) -> "Generator":
    ...


@runtime_checkable
class Discriminator(Protocol):
  """What the step calls on a discriminator (a Flax linen module). It returns logits ``[B]``."""
  axis_name: Optional[str]
  uses_batchnorm: bool

  def __call__(self, x: jax.Array, labels: Optional[jax.Array] = None, train: bool = True,
               dropout_keys: Optional[jax.Array] = None) -> jax.Array:
    ...

  def init(self, rngs, *args, **kwargs) -> Any:
    ...

  def apply(self, variables, *args, **kwargs) -> Any:
    ...

  def clone(self, **updates) -> "Discriminator":
    ...


@dataclasses.dataclass(frozen=True)
class ModelFamily:
  """A registered family of G/D pairs.

  Attributes:
    name: the name configs use (``config.model``).
    generator, discriminator: the module classes (checked against the contract).
    build: ``build(args, data_shape, num_classes) -> (generator, discriminator)``; ``args`` holds
      the family's own settings (``config.model_args``, each already checked by its `Arg`); it
      raises `ValueError` for what only the data can refuse, such as a data shape it does not
      make.
    args: the family's own settings, ``{name: Arg(default, field)}``: a config carries them as
      ``config.model_args.<name>`` (`default_args` gives them all at their defaults).
    cpu_xla_options: XLA:CPU compiler options the step defaults to on a CPU backend
      (``((name, value), ...)``); scheduling only, never part of the objective.
    cpu_d_chunk_size: examples per D call the step defaults to on a single CPU device (0: whole
      batches); only for a D without BatchNorm.
    description: one line for listings.
  """
  name: str
  generator: type
  discriminator: type
  build: Callable[..., tuple[nn.Module, nn.Module]]
  args: Mapping[str, Arg] = dataclasses.field(default_factory=dict)
  cpu_xla_options: tuple = ()
  cpu_d_chunk_size: int = 0
  description: str = ""

  def default_args(self) -> dict:
    """Every setting of the family at its default: a config's ``model_args`` to start from."""
    return {name: arg.default for name, arg in self.args.items()}

  def check_args(self, args: Mapping[str, Any]) -> None:
    """Raises `ConfigError` naming the first of ``config.model_args`` that the family does not
    declare, lacks, or does not accept."""
    for name in args:
      if name not in self.args:
        close = difflib.get_close_matches(name, self.args, n=1)
        raise ConfigError(
            f"config.model_args.{name} is not a setting of model {self.name!r}"
            f"{f' (did you mean {close[0]}?)' if close else ''}; its settings are: "
            f"{', '.join(self.args) or 'none'}.")
    for name, arg in self.args.items():
      if name not in args:
        raise ConfigError(
            f"config.model_args.{name} is missing: model {self.name!r} needs all its settings "
            f"({', '.join(self.args)}); start from gan.models.default_args({self.name!r}).")
      arg.field.check(f"model_args.{name}", args[name])


def _call_parameters(cls: type) -> list[str]:
  return list(inspect.signature(cls.__call__).parameters)[1:]


def check_contract(generator: type, discriminator: type) -> None:
  """Raises `TypeError` saying how a pair of module classes breaks the step's contract."""
  for role, cls, params in (("generator", generator, ["z", "labels", "train"]),
                            ("discriminator", discriminator,
                             ["x", "labels", "train", "dropout_keys"])):
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
      raise TypeError(f"The {role} {cls!r} must be a flax.linen.Module subclass.")
    if "axis_name" not in {f.name for f in dataclasses.fields(cls)}:
      raise TypeError(f"The {role} {cls.__name__} needs a field `axis_name: Optional[str] = None` "
                      "(the step sets it for cross-device BatchNorm statistics).")
    got = _call_parameters(cls)
    if got[:len(params)] != params:
      raise TypeError(f"The {role} {cls.__name__}.__call__ takes ({', '.join(got)}); the step "
                      f"calls it as ({', '.join(params)}).")
  if not isinstance(getattr(discriminator, "uses_batchnorm", None), bool):
    raise TypeError(f"The discriminator {discriminator.__name__} must declare a class attribute "
                    "`uses_batchnorm: bool` (does it normalise over the batch?).")


MODELS: Registry[ModelFamily] = Registry("model family", "model families")


def register(family: ModelFamily) -> ModelFamily:
  """Checks ``family``'s modules against the contract and adds it; returns it."""
  check_contract(family.generator, family.discriminator)
  return MODELS.register(family.name, family)


def get(name: str) -> ModelFamily:
  """The family registered as ``name``; `gan.errors.UnknownNameError` naming the registered
  ones otherwise."""
  return MODELS.get(name)


def names() -> tuple[str, ...]:
  """Every registered family name, in registration order."""
  return MODELS.names()


def default_args(name: str) -> dict:
  """Family ``name``'s settings at their defaults (`ModelFamily.default_args`)."""
  return get(name).default_args()
