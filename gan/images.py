"""Pictures as PNG files: sample grids, scatter plots, and the pieces figures are built from.

* Training: `image_grid` (one grid per checkpoint), `scatter_plot` (non-image data over its
  reference points) and `progress_image` (grids of successive steps side by side).
* Figures of studies (`gan.studies`): `digit_row` (enlarged, captioned images), `text_picture`,
  `stack` and `labelled` compose PIL pictures; `save_png` writes them. Matplotlib figures are
  drawn with `pyplot` and written with `save_figure`.

Every writer replaces its file atomically: a PNG appears complete or not at all; a failed write
raises `gan.writers.WriteError` naming the file.
"""

from __future__ import annotations

import contextlib
import math
import os
from typing import Any, Optional, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from gan import writers


def to_uint8(images: np.ndarray) -> np.ndarray:
  """``[-1, 1]`` floats to ``uint8`` (values outside are clipped)."""
  return np.clip(np.round((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


SAMPLE_CELL = 56  # pixels: a 28 x 28 digit is drawn 2x, a 32 x 32 image 2x, 64 x 64 as is


def image_grid(images: np.ndarray, columns: int = 0, pad: int = 2, min_cell: int = 0
               ) -> np.ndarray:
  """``[N, H, W, C]`` images in [-1, 1] as one ``uint8 [rows*(H+pad)+pad, ..., C]`` grid.

  ``min_cell``: each image is enlarged by the smallest whole factor that makes it at least this
  many pixels high (nearest neighbour: every pixel a sharp square), so small samples can be
  judged by eye; the loop's sample grids use `SAMPLE_CELL`.
  """
  images = to_uint8(images)
  factor = max(1, math.ceil(min_cell / images.shape[1])) if min_cell else 1
  if factor > 1:
    images = images.repeat(factor, axis=1).repeat(factor, axis=2)
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


def save_png(image: np.ndarray | Image.Image, path: str) -> None:
  """Writes a uint8 ``[H, W, C]`` (C = 1 or 3) array or a PIL picture; the file appears complete
  or not at all."""
  image = np.asarray(image)
  if image.ndim == 3 and image.shape[-1] == 1:
    image = image[..., 0]
  tmp = path + ".tmp"
  with writers.reporting_write_errors(path):
    try:
      Image.fromarray(image).save(tmp, format="PNG")
      os.replace(tmp, path)
    except OSError:
      with contextlib.suppress(OSError):
        os.remove(tmp)  # a partial file of a failed write (a full disk) is not left behind
      raise


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


# ----------------------------------------------------------------------------------------------
# Composing figures.


def font(size: int = 11) -> ImageFont.ImageFont:
  """PIL's default font at ``size`` pixels (on Pillow < 10.1, its one fixed bitmap size)."""
  try:
    return ImageFont.load_default(size=size)
  except TypeError:  # Pillow < 10.1: the fixed bitmap font.
    return ImageFont.load_default()


def digit_row(images: np.ndarray, captions: Optional[Sequence[str]] = None, columns: int = 0,
              pad: int = 2, scale: int = 2) -> Image.Image:
  """A grid of images in [-1, 1], ``scale`` times enlarged, each optionally captioned underneath.

  Args:
    images: ``[N, H, W, C]`` (C = 1 or 3) in [-1, 1].
    captions: one string per image, drawn centred under it (13 pixels); only for a single row.
    columns: images per row; 0 puts all of them in one row.
    pad: white pixels between images, before enlarging.
    scale: screen pixels per image pixel.

  Returns:
    An RGB picture of ``scale`` times the `image_grid` of ``images`` (plus the caption line).

  Raises:
    ValueError: captions for more than one row.
  """
  images = np.asarray(images)
  columns = columns or len(images)
  grid = image_grid(images, columns=columns, pad=pad)
  grid = np.repeat(np.repeat(grid, scale, axis=0), scale, axis=1)
  picture = Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).convert("RGB")
  if captions is None:
    return picture
  if len(captions) > columns:
    raise ValueError(f"captions are drawn under a single row of images only; got "
                     f"{len(captions)} captions for rows of {columns}.")
  size = images.shape[2] * scale
  step = size + pad * scale
  captioned = Image.new("RGB", (picture.width, picture.height + 13), "white")
  captioned.paste(picture, (0, 0))
  draw = ImageDraw.Draw(captioned)
  caption_font = font(10)
  for col, caption in enumerate(captions):
    x = pad * scale + col * step + size / 2
    draw.text((x, picture.height), caption, fill=(0, 0, 0), font=caption_font, anchor="ma")
  return captioned


def stack(parts: Sequence[Image.Image], gap: int = 6, horizontal: bool = False,
          align_middle: bool = True) -> Image.Image:
  """Pictures one below the other (or side by side), ``gap`` white pixels apart, on white.

  Stacked vertically they are left-aligned; side by side, vertically centred if
  ``align_middle``, else top-aligned.
  """
  if not parts:
    raise ValueError("stack needs at least one picture.")
  if horizontal:
    width = sum(p.width for p in parts) + gap * (len(parts) - 1)
    height = max(p.height for p in parts)
  else:
    width = max(p.width for p in parts)
    height = sum(p.height for p in parts) + gap * (len(parts) - 1)
  canvas = Image.new("RGB", (width, height), "white")
  offset = 0
  for part in parts:
    if horizontal:
      canvas.paste(part, (offset, (height - part.height) // 2 if align_middle else 0))
      offset += part.width + gap
    else:
      canvas.paste(part, (0, offset))
      offset += part.height + gap
  return canvas


def text_picture(text: str, width: int = 0, height: int = 16, size: int = 12) -> Image.Image:
  """One line of black ``text`` on white, vertically centred, at least ``width`` pixels wide
  (wider if the text needs it)."""
  text_font = font(size)
  probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
  width = max(width, int(probe.textlength(text, font=text_font)) + 4)
  picture = Image.new("RGB", (width, height), "white")
  ImageDraw.Draw(picture).text((2, height // 2), text, fill=(0, 0, 0), font=text_font,
                               anchor="lm")
  return picture


def labelled(label: str, part: Image.Image, width: int = 110) -> Image.Image:
  """``part`` with ``label`` to its left, in a column at least ``width`` pixels wide."""
  return stack([text_picture(label, width=width, height=part.height), part], gap=0,
               horizontal=True)


def pyplot() -> Any:
  """``matplotlib.pyplot`` on the file-only Agg backend (no display is needed)."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def save_figure(figure: Any, path: str, dpi: int = 120) -> None:
  """Writes a matplotlib ``figure`` as a PNG (complete or not at all) and closes it."""
  tmp = path + ".tmp"
  try:
    figure.savefig(tmp, format="png", dpi=dpi)
    os.replace(tmp, path)
  finally:
    pyplot().close(figure)
