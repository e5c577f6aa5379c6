"""Seeds trained together: the one place that knows how N seeds share a state, a batch and a key.

A run trains ``config.num_seeds = N`` seeds ``seed .. seed + N - 1`` in one compiled program (the
step ``vmap``-ed over a leading seed axis, `gan.parallel`). With ``N = 1`` the state has no seed
axis: the single-seed program is kept exactly as it compiles alone. Every place that builds,
splits or reads per-seed trees goes through `Seeds`, so the code has one path for 1..N seeds.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import jax.numpy as jnp


@dataclasses.dataclass(frozen=True)
class Seeds:
  """The seeds of a run, and how their trees are stacked (a leading axis only when N > 1)."""
  values: tuple[int, ...]

  @classmethod
  def of(cls, config) -> "Seeds":
    """``config.seed .. config.seed + config.num_seeds - 1``."""
    first = int(config.seed)
    return cls(tuple(first + i for i in range(int(config.get("num_seeds", 1)))))

  def __len__(self) -> int:
    return len(self.values)

  def __iter__(self):
    return iter(self.values)

  @property
  def stacked(self) -> bool:
    """Whether trees carry a leading seed axis (N > 1)."""
    return len(self.values) > 1

  def stack(self, trees: Sequence[Any]) -> Any:
    """One tree per seed -> the run's tree (the single tree itself when N = 1)."""
    if not self.stacked:
      return trees[0]
    return jax.tree.map(lambda *xs: jnp.stack(xs), *trees)

  def stack_keys(self, keys: Sequence[jax.Array]) -> jax.Array:
    """One typed PRNG key per seed -> the run's key (stacked through their raw data)."""
    if not self.stacked:
      return keys[0]
    return jax.random.wrap_key_data(jnp.stack([jax.random.key_data(k) for k in keys]))

  def index(self, tree: Any, i: int) -> Any:
    """Seed ``i``'s tree of the run's tree."""
    return jax.tree.map(lambda x: x[i], tree) if self.stacked else tree

  def split(self, tree: Any) -> list:
    """The run's tree -> one tree per seed."""
    return [self.index(tree, i) for i in range(len(self))]

  def like(self, tree: Any) -> Any:
    """A single seed's tree shaped as the run's (for restoring a checkpoint into)."""
    return self.stack([tree] * len(self))

  def label(self, i: int, prefix: str = "seed_") -> str:
    """A per-seed suffix for file and tag names: ``''`` for one seed, else e.g. ``'seed_3'``."""
    return f"{prefix}{self.values[i]}" if self.stacked else ""
