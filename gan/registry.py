"""One generic registry of named things: every "choose one by name" in the library is a `Registry`.

A dataset, model family, loss, latent distribution, evaluation protocol, augmentation, optimizer
or autoencoder is named in one place, its registration, and looked up everywhere else through
its registry, so that adding one costs one `Registry.register` call and an unknown name fails
the same way wherever it is asked for: an `UnknownNameError` (a `ConfigError`, hence a
`ValueError`) whose one message lists the registered names and the closest of them:

  LOSSES = Registry[Loss]("loss")
  LOSSES.register("hinge", Loss(...))
  LOSSES.get("hnge")   # UnknownNameError: Unknown loss 'hnge' (did you mean 'hinge'?);
                       #   registered: hinge.

Reading a registry is read-only mapping behaviour (``name in LOSSES``, ``tuple(LOSSES)``,
``LOSSES[name]``, ``len``, ``items()``), in registration order; the only way in is `register`,
which refuses a name registered before (a programming mistake, so a plain `ValueError`).
"""

from __future__ import annotations

import difflib
from typing import Generic, Iterator, Optional, TypeVar

from gan.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
  """Named items of one kind, in registration order; a name is registered once.

  Attributes:
    kind: what an item is, singular, as messages name it (``"dataset"``, ``"model family"``).
    plural: the plural of ``kind`` (``"model families"``); ``kind + "s"`` unless given.
  """

  def __init__(self, kind: str, plural: Optional[str] = None):
    """An empty registry of ``kind`` things.

    Args:
      kind: what an item is, singular, as messages name it, e.g. ``"latent distribution"``.
      plural: its plural, when not ``kind + "s"`` (``"model families"``).
    """
    self.kind = kind
    self.plural = plural if plural is not None else kind + "s"
    self._items: dict[str, T] = {}

  def register(self, name: str, item: T) -> T:
    """Adds ``item`` under ``name`` and returns it (so it can stand in an assignment).

    Raises:
      ValueError: ``name`` is registered already (a programming mistake, not a user's).
    """
    if name in self._items:
      raise ValueError(f"{self.kind[:1].upper()}{self.kind[1:]} {name!r} is already "
                       f"registered.")
    self._items[name] = item
    return item

  def get(self, name: str) -> T:
    """The item registered as ``name``.

    Raises:
      UnknownNameError: ``name`` is not registered; the message names the closest registered
        name (when one is close) and lists them all, e.g. ``Unknown loss 'hnge' (did you mean
        'hinge'?); registered: hinge, wasserstein.``
    """
    try:
      return self._items[name]
    except (KeyError, TypeError):  # TypeError: an unhashable "name" is not registered either
      raise UnknownNameError(self._unknown_message(name)) from None

  def names(self) -> tuple[str, ...]:
    """Every registered name, in registration order."""
    return tuple(self._items)

  def items(self) -> tuple[tuple[str, T], ...]:
    """``(name, item)`` pairs, in registration order."""
    return tuple(self._items.items())

  def copy(self) -> Registry[T]:
    """A new registry of the same kind holding the same items; registering into it leaves this
    one as it is (a test swaps a module's registry for a copy to register a scratch item)."""
    duplicate = type(self)(self.kind, self.plural)
    duplicate._items = dict(self._items)  # pylint: disable=protected-access
    return duplicate

  def _unknown_message(self, name) -> str:
    if not self._items:
      return f"Unknown {self.kind} {name!r}; no {self.plural} are registered."
    close = (difflib.get_close_matches(name, self._items, n=1)
             if isinstance(name, str) else [])
    suggestion = f" (did you mean {close[0]!r}?)" if close else ""
    return (f"Unknown {self.kind} {name!r}{suggestion}; registered: "
            f"{', '.join(self._items)}.")

  def __getitem__(self, name: str) -> T:
    """``registry[name]`` is ``registry.get(name)``."""
    return self.get(name)

  def __contains__(self, name: object) -> bool:
    try:
      return name in self._items
    except TypeError:
      return False

  def __iter__(self) -> Iterator[str]:
    """The names, in registration order."""
    return iter(self.names())

  def __len__(self) -> int:
    return len(self._items)

  def __repr__(self) -> str:
    return f"Registry({self.kind!r}: {', '.join(self._items)})"
