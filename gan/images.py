"""Sample grids as PNG files: one grid per checkpoint of training, and `progress.png` over them."""

from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw


def to_uint8(images: np.ndarray) -> np.ndarray:
  """``[-1, 1]`` floats to ``uint8`` (values outside are clipped)."""
  return np.clip(np.round((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def image_grid(images: np.ndarray, columns: int = 0, pad: int = 2) -> np.ndarray:
  """``[N, H, W, C]`` images in [-1, 1] as one ``uint8 [rows*(H+pad)+pad, ..., C]`` grid."""
  images = to_uint8(images)
  n, h, w, c = images.shape
  columns = columns or int(math.ceil(math.sqrt(n)))
  rows = int(math.ceil(n / columns))
  grid = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), 255, np.uint8)
  for i, image in enumerate(images):
    r, col = divmod(i, columns)
    grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + col * (w + pad):
         pad + col * (w + pad) + w] = image
  return grid


def scatter_plot(points: np.ndarray, reference: np.ndarray, size: int = 256,
                 extent: float = 0.0) -> np.ndarray:
  """A uint8 RGB picture of 1-D (histogram) or 2-D (scatter) samples over reference points."""
  points = np.asarray(points, np.float64)
  reference = np.asarray(reference, np.float64)
  canvas = Image.new("RGB", (size, size), "white")
  draw = ImageDraw.Draw(canvas)
  if points.shape[1] == 1:
    lo = min(points.min(), reference.min())
    hi = max(points.max(), reference.max())
    bins = np.linspace(lo, hi + 1e-9, 65)
    for values, color in ((reference[:, 0], (0, 0, 0)), (points[:, 0], (0, 150, 0))):
      hist, _ = np.histogram(values, bins, density=True)
      xs = (np.arange(64) + 0.5) / 64 * size
      ys = size - 8 - hist / max(hist.max(), 1e-9) * (size - 16)
      draw.line(list(zip(xs, ys)), fill=color, width=2)
  else:
    extent = extent or 1.2 * max(np.abs(reference).max(), 1e-3)
    to_px = lambda p: (p + extent) / (2 * extent) * size
    for x, y in to_px(reference):
      draw.ellipse([x - 4, size - y - 4, x + 4, size - y + 4], outline=(200, 0, 0), width=2)
    for x, y in to_px(np.clip(points, -extent, extent)):
      draw.point((x, size - y), fill=(0, 90, 200))
  return np.asarray(canvas)


def save_png(image: np.ndarray, path: str) -> None:
  """Writes a uint8 ``[H, W, C]`` (C = 1 or 3) array; the file appears complete or not at all."""
  image = np.asarray(image)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  tmp = path + ".tmp"
  Image.fromarray(image).save(tmp, format="PNG")
  os.replace(tmp, path)


def progress_image(grids: Sequence[np.ndarray], steps: Sequence[int], max_rows: int = 8
                   ) -> np.ndarray:
  """Stacks sample grids of successive steps side by side, each labelled with its step.

  At most ``max_rows`` grids, evenly spaced over training (always the first and the last): the
  seed material's epoch-by-epoch picture of samples sharpening.
  """
  if not grids:
    raise ValueError("progress_image needs at least one sample grid")
  chosen = np.unique(np.linspace(0, len(grids) - 1, min(max_rows, len(grids))).round().astype(int))
  label_h = 14
  tiles = []
  for i in chosen:
    grid = grids[i] if grids[i].shape[-1] == 3 else np.repeat(grids[i], 3, axis=-1)
    tile = Image.new("RGB", (grid.shape[1], grid.shape[0] + label_h), "white")
    tile.paste(Image.fromarray(grid), (0, label_h))
    ImageDraw.Draw(tile).text((4, 1), f"step {steps[i]}", fill=(0, 0, 0))
    tiles.append(np.asarray(tile))
  height = max(t.shape[0] for t in tiles)
  tiles = [np.pad(t, ((0, height - t.shape[0]), (0, 4), (0, 0)), constant_values=255)
           for t in tiles]
  return np.concatenate(tiles, axis=1)
