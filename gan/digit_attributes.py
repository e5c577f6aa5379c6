"""Measurable attributes of digit images: ink mass (stroke thickness) and slant (image moments).

Latent arithmetic on faces is judged by eye ("smiling woman - neutral woman + neutral man");
on MNIST the attributes can be measured, so the same experiment gives numbers. These are pure
functions of image batches (NumPy or JAX arrays, any leading batch axes) and work under
`jax.jit` and `jax.vmap`.

Images are ``[..., H, W, 1]`` floats in [-1, 1] (the range of `gan.data`): -1 is
background, 1 full ink. A pixel's ink is ``(x + 1) / 2`` in [0, 1].

* `ink_mass`: the sum of ink over the image. For strokes of a given length it grows linearly with
  their width, so among digits of one class it ranks thick against thin (it also grows with the
  digit's size; within one class the two go together).
* `image_moments` and `slant`: the ink-weighted centroid and second-order central moments, and
  the shear ``-mu11 / mu02`` that deskewing removes (with rows counted downwards, a digit leaning
  right has ``mu11 < 0``; the sign is flipped so that leaning right is positive).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


def _check_images(images: jax.Array, name: str) -> jax.Array:
  images = jnp.asarray(images)
  if images.ndim < 3 or images.shape[-1] != 1:
    raise ValueError(f"{name} expects grayscale images [..., H, W, 1] in [-1, 1]; got shape "
                     f"{images.shape}. Add the channel axis with images[..., None].")
  if not jnp.issubdtype(images.dtype, jnp.floating):
    raise ValueError(f"{name} expects float images in [-1, 1]; got dtype {images.dtype}. Map "
                     f"uint8 images with images / 127.5 - 1.")
  return images


def ink(images: jax.Array) -> jax.Array:
  """Per-pixel ink ``(x + 1) / 2``, clipped to [0, 1], as ``[..., H, W]``.

  Args:
    images: ``[..., H, W, 1]`` in [-1, 1].

  Returns:
    ``[..., H, W]`` in [0, 1]: 0 for background, 1 for full ink.
  """
  images = _check_images(images, "ink")
  return jnp.clip((images[..., 0] + 1.0) / 2.0, 0.0, 1.0)


def ink_mass(images: jax.Array) -> jax.Array:
  """Total ink of each image: the stroke-thickness attribute.

  A stroke of length ``L`` pixels and width ``w`` pixels at full ink has mass ``L * w``, so for
  the same digit drawn with a thicker pen the mass grows in proportion to the width.

  Args:
    images: ``[..., H, W, 1]`` in [-1, 1].

  Returns:
    ``[...]``: the sum over pixels of `ink`, in ``[0, H * W]``.

  References:
    Bouchacourt et al. 2018 and Higgins et al. 2017 (beta-VAE) use stroke thickness as a factor
    of variation of MNIST; Castro et al. 2019, "Morpho-MNIST: Quantitative Assessment and
    Diagnostics for Representation Learning", measure it from the image.
  """
  return jnp.sum(ink(images), axis=(-2, -1))


class Moments(NamedTuple):
  """Ink-weighted image moments (rows ``y`` counted downwards, columns ``x`` rightwards)."""
  mass: jax.Array  # [...]: total ink, `ink_mass`.
  centroid_y: jax.Array  # [...]: mean row.
  centroid_x: jax.Array  # [...]: mean column.
  mu20: jax.Array  # [...]: sum of ink * (x - centroid_x)^2 (horizontal spread).
  mu02: jax.Array  # [...]: sum of ink * (y - centroid_y)^2 (vertical spread).
  mu11: jax.Array  # [...]: sum of ink * (x - centroid_x) (y - centroid_y).


def image_moments(images: jax.Array) -> Moments:
  """The ink-weighted centroid and second-order central moments of each image.

  ``mu_pq = sum_{y, x} ink(y, x) (x - x_bar)^p (y - y_bar)^q`` (OpenCV's convention: ``x`` the
  column, ``y`` the row, counted downwards). An image without ink has centroid at the image
  centre and all moments zero.

  Args:
    images: ``[..., H, W, 1]`` in [-1, 1].

  Returns:
    `Moments`, each field of shape ``[...]``.

  References:
    Hu 1962, "Visual pattern recognition by moment invariants".
  """
  weights = ink(images)
  height, width = weights.shape[-2:]
  rows = jnp.arange(height, dtype=weights.dtype)[:, None]
  columns = jnp.arange(width, dtype=weights.dtype)[None, :]
  mass = jnp.sum(weights, axis=(-2, -1))
  has_ink = mass > 0
  safe_mass = jnp.where(has_ink, mass, 1.0)
  centroid_y = jnp.where(has_ink, jnp.sum(weights * rows, axis=(-2, -1)) / safe_mass,
                         (height - 1) / 2)
  centroid_x = jnp.where(has_ink, jnp.sum(weights * columns, axis=(-2, -1)) / safe_mass,
                         (width - 1) / 2)
  dy = rows - centroid_y[..., None, None]
  dx = columns - centroid_x[..., None, None]
  return Moments(mass=mass, centroid_y=centroid_y, centroid_x=centroid_x,
                 mu20=jnp.sum(weights * dx * dx, axis=(-2, -1)),
                 mu02=jnp.sum(weights * dy * dy, axis=(-2, -1)),
                 mu11=jnp.sum(weights * dx * dy, axis=(-2, -1)))


def slant(images: jax.Array) -> jax.Array:
  """The shear of each digit, ``-mu11 / mu02``: positive leans right (like italics).

  It is the slope ``dx/dy`` of the least-squares line of column on (upward) row through the ink:
  the horizontal shift per pixel of height, which deskewing (shearing by ``mu11 / mu02``)
  removes. A one-pixel line from bottom-left to top-right at 45 degrees has slant exactly 1, an
  upright bar 0. Images without vertical extent (no ink, or ink in one row) have slant 0.

  Args:
    images: ``[..., H, W, 1]`` in [-1, 1].

  Returns:
    ``[...]``.

  References:
    LeCun et al. 1998, "Gradient-based learning applied to document recognition" (deskewed
    MNIST); Castro et al. 2019, "Morpho-MNIST" (slant as a measured attribute).
  """
  moments = image_moments(images)
  upright = moments.mu02 > 0
  return jnp.where(upright, -moments.mu11 / jnp.where(upright, moments.mu02, 1.0), 0.0)
