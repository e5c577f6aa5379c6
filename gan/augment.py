"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for training D on little data.

D sees every image, real and generated, through the same random, differentiable transforms, in
each D update and in G's update (G's gradient flows back through the transform), so D cannot
memorise the few training images and G is not pushed to reproduce the augmentation.

Pure functions of image batches ``[B, H, W, C]`` (values in [-1, 1]) and one PRNG key per
example, so the draws of an example do not depend on the batch it sits in, nor on how the batch is
split over devices. The transforms are registered by name in `AUGMENTATIONS`; `diff_augment`
applies a policy (a sequence of names) in order. ``strength`` scales each transform's size: 1 is
the paper's (translation by up to 1/8 of the image, a cutout square of half its side), 0 is the
identity.

* ``translation``: shift by a uniform integer in [-round(H / 8), round(H / 8)] rows (and columns,
  independently), zero-filling what comes in, as the authors' ``rand_translation``;
* ``cutout``: zero a square of side round(H / 2) whose centre is uniform over the image (it may
  hang over the edge), as their ``rand_cutout``.

Zero is mid-grey for images in [-1, 1], as in the authors' code (which pads with zeros whatever
the range). References: Zhao, Liu, Lin, Zhu and Han, "Differentiable Augmentation for
Data-Efficient GAN Training", NeurIPS 2020 (github mit-han-lab/data-efficient-gans,
DiffAugment_pytorch.py).
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from gan.registry import Registry

TRANSLATION_RATIO = 0.125  # the authors' rand_translation ratio
CUTOUT_RATIO = 0.5  # the authors' rand_cutout ratio


def _size(extent: int, ratio: float) -> int:
  return int(extent * ratio + 0.5)


def translate(image: jax.Array, key: jax.Array, strength: float = 1.0) -> jax.Array:
  """One image ``[H, W, C]`` shifted by a random whole number of pixels, zero-filled."""
  height, width = image.shape[:2]
  max_y, max_x = (_size(height, TRANSLATION_RATIO * strength),
                  _size(width, TRANSLATION_RATIO * strength))
  if max_y == 0 and max_x == 0:
    return image
  key_y, key_x = jax.random.split(key)
  dy = jax.random.randint(key_y, (), -max_y, max_y + 1)
  dx = jax.random.randint(key_x, (), -max_x, max_x + 1)
  padded = jnp.pad(image, ((max_y, max_y), (max_x, max_x), (0, 0)))
  # Output pixel (i, j) is input pixel (i - dy, j - dx): the slice starting at (max - d).
  return jax.lax.dynamic_slice(padded, (max_y - dy, max_x - dx, 0), image.shape)


def cutout(image: jax.Array, key: jax.Array, strength: float = 1.0) -> jax.Array:
  """One image ``[H, W, C]`` with a random square (side H / 2 at strength 1) set to zero."""
  height, width = image.shape[:2]
  size_y = min(_size(height, CUTOUT_RATIO * strength), height)
  size_x = min(_size(width, CUTOUT_RATIO * strength), width)
  if size_y == 0 or size_x == 0:
    return image
  key_y, key_x = jax.random.split(key)
  # As the authors: offset in [0, H + (1 - size % 2)), square rows offset - size // 2 + [0, size).
  top = jax.random.randint(key_y, (), 0, height + (1 - size_y % 2)) - size_y // 2
  left = jax.random.randint(key_x, (), 0, width + (1 - size_x % 2)) - size_x // 2
  rows = jnp.arange(height)[:, None]
  cols = jnp.arange(width)[None, :]
  inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
  return jnp.where(inside[..., None], jnp.zeros_like(image), image)


AUGMENTATIONS = Registry[Callable[[jax.Array, jax.Array, float], jax.Array]]("augmentation")
AUGMENTATIONS.register("translation", translate)
AUGMENTATIONS.register("cutout", cutout)


def check_policy(policy: Sequence[str]) -> tuple[str, ...]:
  """``policy`` as a tuple of registered names; `UnknownNameError` naming the registered ones."""
  policy = tuple(policy)
  for name in policy:
    AUGMENTATIONS.get(name)
  return policy


def parse_policy(text: str) -> tuple[str, ...]:
  """``'translation,cutout'`` -> ``('translation', 'cutout')``; ``''`` -> ``()`` (off)."""
  return check_policy(name.strip() for name in text.split(",") if name.strip())


def diff_augment(images: jax.Array, keys: jax.Array, policy: Sequence[str],
                 strength: float = 1.0) -> jax.Array:
  """Applies the transforms of ``policy`` in order to each image with its own key.

  Args:
    images: ``[B, H, W, C]``.
    keys: ``[B]`` PRNG keys, one per example; transform ``t`` of the policy draws from
      ``fold_in(key, t)``.
    policy: names in `AUGMENTATIONS`, e.g. ``('translation', 'cutout')``; empty = identity.
    strength: scales every transform's size (1 = the paper's, 0 = identity).

  Returns:
    The augmented images, same shape and dtype; differentiable with respect to ``images``.
  """
  policy = check_policy(policy)
  if images.ndim != 4:
    raise ValueError(f"diff_augment takes images [B, H, W, C]; got shape {images.shape}.")

  def one(image, key):
    for index, name in enumerate(policy):
      image = AUGMENTATIONS[name](image, jax.random.fold_in(key, index), strength)
    return image

  return jax.vmap(one)(images, keys)
