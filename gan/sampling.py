"""Samples of a trained state: the z a run's grids are drawn from, and fresh samples in batches.

Both are pure functions of a seed: the same seed gives the same z on any machine and any device
count. `fixed_latents` is the z of every sample grid a training run writes; `generate_samples`
serves evaluation, `gan.runs.Run.sample` and the sampling command.
"""

from __future__ import annotations

import math
from typing import Any, Optional

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
  ``labels``, uniform labels) from ``fold_in(fold_in(key(seed), salt), i)``.

  Args:
    labels: for a conditional GAN, ``[num]`` class labels or one label for all; default random.

  Raises:
    ConfigError: labels out of range, or labels for a GAN that is not class conditional.
  """
  key = jax.random.fold_in(jax.random.key(seed), _EVAL_SALT)
  batch_size = min(batch_size, num)
  keys = [jax.random.fold_in(key, i) for i in range(math.ceil(num / batch_size))]
  z = np.concatenate([np.asarray(latent.sample(k, (batch_size, gan.latent_dim),
                                               gan.latent_distribution)) for k in keys])[:num]
  inputs = {"z": z}
  if num_classes:
    if labels is None:
      labels = np.concatenate([np.asarray(jax.random.randint(
          jax.random.fold_in(k, 1), (batch_size,), 0, num_classes)) for k in keys])[:num]
    labels = np.broadcast_to(np.asarray(labels, np.int32), (num,))
    if labels.min() < 0 or labels.max() >= num_classes:
      raise ConfigError(f"labels must be in [0, {num_classes}); got "
                        f"{labels.min()}..{labels.max()}.")
    inputs["labels"] = labels
  elif labels is not None:
    raise ConfigError("labels were given, but this GAN is not class conditional.")
  sample = jax.jit(lambda batch: step_lib.generate(gan, state, batch["z"], batch.get("labels"),
                                                   use_ema=use_ema))
  return batching.batched_apply(sample, inputs, batch_size)
