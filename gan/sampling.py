"""Samples of a trained state: the z a run's grids are drawn from, and fresh samples in batches.

Both are pure functions of a seed: the same seed gives the same z on any machine and any device
count. `fixed_latents` is the z of every sample grid a training run writes; `generate_samples`
serves evaluation, `gan.runs.Run.sample` and the sampling command.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Optional

import jax
import jax.numpy as jnp
import numpy as np

from gan import batching
from gan import latent
from gan import step as step_lib
from gan.errors import ConfigError

_GRID_SALT = 0x5A3  # the z of a run's sample grids: fold_in(key(seed), salt)
_EVAL_SALT = 0xE7A1  # the z of generate_samples


def fixed_latents(seed: int, num: int, latent_dim: int, distribution: str = "normal",
                  num_classes: int = 0):
  """``(z, labels)`` of a run's sample grids, fixed by its seed; labels cycle through the classes
  of a conditional run (None otherwise)."""
  key = jax.random.fold_in(jax.random.key(seed), _GRID_SALT)
  z = latent.sample(key, (num, latent_dim), distribution)
  labels = jnp.arange(num) % num_classes if num_classes else None
  return z, labels


def generate_samples(gan: step_lib.GAN, state: step_lib.GANState, num: int, seed: int,
                     num_classes: int = 0, use_ema: bool = True, batch_size: int = 1000,
                     labels: Optional[Any] = None) -> np.ndarray:
  """``num`` samples from fresh z (a pure function of ``seed``), in jitted fixed-size batches.

  Batch ``i`` of ``min(batch_size, num)`` rows draws its z (and, for a conditional GAN without
  ``labels``, uniform labels) from ``fold_in(fold_in(key(seed), salt), i)``. All rows at once:
  `sample_chunks` gives the same rows a chunk at a time.

  Args:
    labels: for a conditional GAN, ``[num]`` class labels or one label for all; default random.

  Raises:
    ConfigError: ``num`` is not positive, labels out of range or of the wrong length, or labels
      for a GAN that is not class conditional.
  """
  return np.concatenate(list(sample_chunks(gan, state, num, seed, num_classes, use_ema,
                                           batch_size, labels)))


def sample_chunks(gan: step_lib.GAN, state: step_lib.GANState, num: int, seed: int,
                  num_classes: int = 0, use_ema: bool = True, batch_size: int = 1000,
                  labels: Optional[Any] = None, chunk_rows: Optional[int] = None
                  ) -> Iterator[np.ndarray]:
  """The rows of `generate_samples`, in order, ``chunk_rows`` at a time (rounded down to whole
  batches; default: all in one chunk): the same numbers with memory bounded by the chunk, so a
  caller can write samples as they come."""
  if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 1:
    raise ConfigError(f"num={num!r}: the number of samples must be a positive integer.")
  key = jax.random.fold_in(jax.random.key(seed), _EVAL_SALT)
  batch_size = min(batch_size, num)
  num_batches = math.ceil(num / batch_size)
  if num_classes and labels is not None:
    labels = np.asarray(labels)
    if labels.ndim > 1 or (labels.ndim == 1 and len(labels) != num):
      raise ConfigError(f"labels must be one class or one per sample ({num}); got shape "
                        f"{labels.shape}.")
    labels = np.broadcast_to(labels.astype(np.int32), (num,))
    if labels.min() < 0 or labels.max() >= num_classes:
      raise ConfigError(f"labels must be in [0, {num_classes}); got "
                        f"{labels.min()}..{labels.max()}.")
  elif labels is not None:
    raise ConfigError("labels were given, but this GAN is not class conditional.")
  sample = jax.jit(lambda batch: step_lib.generate(gan, state, batch["z"], batch.get("labels"),
                                                   use_ema=use_ema))
  per_chunk = max(1, (chunk_rows or num) // batch_size)
  for first in range(0, num_batches, per_chunk):
    keys = [jax.random.fold_in(key, i) for i in range(first, min(first + per_chunk, num_batches))]
    lo, hi = first * batch_size, min(num, (first + len(keys)) * batch_size)
    z = np.concatenate([np.asarray(latent.sample(k, (batch_size, gan.latent_dim),
                                                 gan.latent_distribution)) for k in keys])
    inputs = {"z": z[:hi - lo]}
    if num_classes:
      inputs["labels"] = labels[lo:hi] if labels is not None else np.concatenate([np.asarray(
          jax.random.randint(jax.random.fold_in(k, 1), (batch_size,), 0, num_classes))
                                                                         for k in keys])[:hi - lo]
    yield batching.batched_apply(sample, inputs, batch_size)
