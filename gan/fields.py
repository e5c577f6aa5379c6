"""What a config field accepts: the field table's vocabulary, shared by every owner of fields.

`gan.config.FIELDS` (the run's fields), each model family's own settings
(`gan.models.ModelFamily.args`, under ``config.model_args``) and the autoencoder's fields are
written with these. A `Field` checks one value by itself; how fields combine is the owner's check.
This module imports nothing from gan but the error types, so every owner may use it.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any, Callable, Sequence, Union

from gan.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Field:
  """What one config field accepts, and what to tell a person whose value it does not.

  Attributes:
    kind: how a command line writes it (`gan.sweeps.parse_value` reads ``--grid`` text as this):
      ``bool``, ``int``, ``float``, ``str`` or ``tuple``.
    accepts: ``value -> bool``.
    says: completes ``config.<field>=<value> ...``: what would be right (a callable when it
      comes from a registry, so that a newly registered name is listed).
  """
  kind: type
  accepts: Callable[[Any], bool]
  says: Union[str, Callable[[], str]]

  def message(self, name: str, value: Any) -> str:
    says = self.says() if callable(self.says) else self.says
    return f"config.{name}={value!r} {says}"

  def check(self, name: str, value: Any) -> None:
    """Raises `ConfigError` unless ``config.<name>=value`` is accepted."""
    if not self.accepts(value):
      raise ConfigError(self.message(name, value))


@dataclasses.dataclass(frozen=True)
class Arg:
  """A setting a model family declares: its default and the `Field` that checks it."""
  default: Any
  field: Field
  doc: str = ""


def is_int(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
  return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def integer(least: int, says: str) -> Field:
  return Field(int, lambda v: is_int(v) and v >= least, says)


def number(accepts: Callable[[float], bool], says: str) -> Field:
  return Field(float, lambda v: is_number(v) and accepts(v), says)


def switch() -> Field:
  return Field(bool, lambda v: isinstance(v, bool), "must be True or False.")


def one_of(names: Callable[[], Sequence[str]]) -> Field:
  """A name looked up where it is registered (never a copy of the names)."""
  return Field(str, lambda v: isinstance(v, str) and v in names(),
               lambda: f"is not valid; choose one of: {', '.join(names())}.")


def widths(says: str) -> Field:
  """A non-empty tuple of positive integers (layer widths)."""
  return Field(tuple, lambda v: isinstance(v, (tuple, list)) and len(v) > 0 and
               all(is_int(w) and w > 0 for w in v), says)


def is_directory_path(path) -> bool:
  """'' or a path whose nearest existing ancestor (or itself) is a directory."""
  if not isinstance(path, str):
    return False
  path = os.path.abspath(os.path.expanduser(path)) if path else ""
  while path and not os.path.exists(path):
    path = os.path.dirname(path)
  return not path or os.path.isdir(path)
