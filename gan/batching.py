"""One helper for every batched inference: pad, run a jitted function batch by batch, unpad.

Generating samples, extracting features and computing nearest-neighbour blocks all run a jitted
function over more rows than fit (or than should be compiled for) at once. Running it on batches
of one fixed size means one compiled program serves every N; the last batch is padded and the
padding's outputs are dropped. Callers whose function treats rows independently get results that
do not depend on the batch size.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
import numpy as np


def _num_rows(inputs: Any) -> int:
  leaves = jax.tree.leaves(inputs)
  if not leaves:
    raise ValueError("batched_apply needs at least one input array.")
  counts = {int(np.shape(leaf)[0]) for leaf in leaves}
  if len(counts) != 1:
    raise ValueError(f"The inputs of batched_apply must share their leading dimension; got "
                     f"{sorted(counts)}.")
  return counts.pop()


def _pad_rows(x: Any, rows: int, value: float) -> Any:
  xp = np if isinstance(x, np.ndarray) else jax.numpy
  padding = ((0, rows - x.shape[0]),) + ((0, 0),) * (x.ndim - 1)
  return xp.pad(x, padding, constant_values=value)


def batched_apply(fn: Callable[..., Any], inputs: Any, batch_size: int,
                  pad_value: float = 0.0) -> Any:
  """``fn`` over the rows of ``inputs`` in batches of exactly ``batch_size`` rows.

  Args:
    fn: ``fn(batch) -> outputs``, usually jitted; ``batch`` has the structure of ``inputs`` with
      leading dimension ``batch_size``; ``outputs`` is an array or a pytree of arrays whose
      leading dimension is ``batch_size``.
    inputs: an array or a pytree of arrays (NumPy or JAX) sharing a leading dimension N.
    batch_size: rows per call; the last batch is padded with ``pad_value`` to this size.
    pad_value: what the padding rows hold, in each input's dtype (choose a harmless input, e.g.
      a background image; ``fn`` does see it).

  Returns:
    The outputs for the N rows, as NumPy arrays (the structure of ``fn``'s output). For N = 0,
    arrays with no rows and the shapes and dtypes ``fn`` would give (found by tracing ``fn`` with
    `jax.eval_shape`, not by running it).

  Raises:
    ValueError: a non-positive ``batch_size``, no inputs, or inputs with different leading
      dimensions.

  References:
    big_vision's ``utils.pad_shard_unpad`` (the same pad, run, unpad pattern, there across
    devices).
  """
  if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or \
      batch_size < 1:
    raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
  count = _num_rows(inputs)
  if count == 0:
    padding = jax.tree.map(lambda x: _pad_rows(x, batch_size, pad_value), inputs)
    shapes = jax.eval_shape(fn, padding)
    return jax.tree.map(lambda s: np.zeros((0, *s.shape[1:]), s.dtype), shapes)
  pieces = []
  for i in range(math.ceil(count / batch_size)):
    batch = jax.tree.map(lambda x: x[i * batch_size:(i + 1) * batch_size], inputs)
    if i == count // batch_size:  # the last, short batch
      batch = jax.tree.map(lambda x: _pad_rows(x, batch_size, pad_value), batch)
    pieces.append(fn(batch))
  pieces = jax.device_get(pieces)  # one transfer, after every call has been dispatched
  return jax.tree.map(lambda *parts: np.concatenate(parts)[:count], *pieces)
