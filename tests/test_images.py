"""Tests for gan/images.py: grids, figure pieces and PNG writers, pixel by pixel."""

import os

import numpy as np
import pytest
from PIL import Image

from gan import images

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WHITE, BLACK = (255, 255, 255), (0, 0, 0)


def test_to_uint8_maps_the_range_ends_and_clips():
  np.testing.assert_array_equal(images.to_uint8(np.array([-2.0, -1.0, 0.0, 1.0, 3.0])),
                                [0, 0, 128, 255, 255])


def test_image_grid_places_each_image_after_the_padding():
  tiles = np.stack([np.full((2, 3, 1), v, np.float32) for v in (-1.0, 1.0, 0.0)])
  grid = images.image_grid(tiles, columns=2, pad=1)
  assert grid.shape == (2 * 3 + 1, 2 * 4 + 1, 1)
  np.testing.assert_array_equal(grid[1:3, 1:4, 0], 0)  # first: black
  np.testing.assert_array_equal(grid[1:3, 5:8, 0], 255)  # second: white
  np.testing.assert_array_equal(grid[4:6, 1:4, 0], 128)  # third, on the second row
  np.testing.assert_array_equal(grid[4:6, 5:8, 0], 255)  # the empty cell stays white
  assert (grid[0] == 255).all() and (grid[:, 0] == 255).all()


def test_image_grid_enlarges_small_images_to_the_minimum_cell():
  tile = np.array([[-1.0, 1.0], [1.0, -1.0]], np.float32)[None, :, :, None]
  grid = images.image_grid(tile, pad=0, min_cell=5)  # 2 px -> factor 3 -> 6 px, each a square
  expected = np.kron(np.array([[0, 255], [255, 0]]), np.ones((3, 3)))
  np.testing.assert_array_equal(grid[..., 0], expected)
  assert images.image_grid(np.zeros((1, 28, 28, 1)), pad=0, min_cell=56).shape == (56, 56, 1)
  assert images.image_grid(np.zeros((1, 64, 64, 3)), pad=0, min_cell=56).shape == (64, 64, 3)


def test_digit_row_enlarges_by_scale():
  digits = np.stack([-np.ones((4, 4, 1), np.float32), np.ones((4, 4, 1), np.float32)])
  picture = images.digit_row(digits, pad=1, scale=3)
  assert picture.mode == "RGB" and picture.size == (3 * (2 * 5 + 1), 3 * (4 + 2))
  pixels = np.asarray(picture)
  np.testing.assert_array_equal(pixels[3:15, 3:15], 0)  # the black digit, 3x enlarged
  np.testing.assert_array_equal(pixels[3:15, 18:30], 255)
  np.testing.assert_array_equal(pixels[:3], 255)  # the top padding, 3x


def test_digit_row_captions_add_a_line_and_only_under_one_row():
  digits = np.ones((2, 28, 28, 1), np.float32)  # white digits: only the caption is dark
  plain = images.digit_row(digits)
  captioned = images.digit_row(digits, ["7", ""])
  assert captioned.size == (plain.width, plain.height + 13)
  caption = np.asarray(captioned)[plain.height:]
  # The "7" is centred under the first digit (x = 2 * (2 + 14) = 32 of 124): left half only.
  assert plain.width == 124
  assert caption[:, :62].min() < 128 and caption[:, 62:].min() == 255
  with pytest.raises(ValueError, match="single row"):
    images.digit_row(digits, ["1", "2"], columns=1)


def test_stack_vertical_and_horizontal_sizes_and_placement():
  red = Image.new("RGB", (4, 2), (255, 0, 0))
  blue = Image.new("RGB", (2, 6), (0, 0, 255))
  down = np.asarray(images.stack([red, blue], gap=3))
  assert down.shape == (2 + 3 + 6, 4, 3)
  assert tuple(down[0, 0]) == (255, 0, 0) and tuple(down[5, 0]) == (0, 0, 255)
  assert tuple(down[3, 0]) == WHITE and tuple(down[5, 3]) == WHITE  # the gap; right of blue
  across = np.asarray(images.stack([red, blue], gap=1, horizontal=True))
  assert across.shape == (6, 4 + 1 + 2, 3)
  assert tuple(across[2, 0]) == (255, 0, 0) and tuple(across[0, 0]) == WHITE  # centred: rows 2-3
  top = np.asarray(images.stack([red, blue], gap=1, horizontal=True, align_middle=False))
  assert tuple(top[0, 0]) == (255, 0, 0) and tuple(top[2, 0]) == WHITE
  with pytest.raises(ValueError, match="at least one picture"):
    images.stack([])


def test_text_picture_is_at_least_as_wide_as_asked_and_has_ink():
  wide = images.text_picture("a", width=200, height=20)
  assert wide.size == (200, 20)
  assert np.asarray(wide).min() < 128
  narrow = images.text_picture("a much longer line of text", width=10)
  assert narrow.width > 10 and narrow.height == 16
  assert np.asarray(images.text_picture("", width=5)).min() == 255


def test_labelled_puts_the_label_column_left():
  part = Image.new("RGB", (30, 24), BLACK)
  picture = images.labelled("label", part, width=120)
  assert picture.size == (120 + 30, 24)
  assert tuple(np.asarray(picture)[12, 140]) == BLACK


def test_save_png_round_trips_arrays_and_pictures(tmp_path):
  gray = np.arange(12, dtype=np.uint8).reshape(3, 4, 1)
  images.save_png(gray, str(tmp_path / "gray.png"))
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "gray.png")), gray[..., 0])
  picture = Image.new("RGB", (5, 3), (10, 20, 30))
  images.save_png(picture, str(tmp_path / "rgb.png"))
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "rgb.png")),
                                np.asarray(picture))
  assert sorted(os.listdir(tmp_path)) == ["gray.png", "rgb.png"]  # no temporary left


def test_save_figure_writes_a_png_and_closes_the_figure(tmp_path):
  plt = images.pyplot()
  fig, ax = plt.subplots(figsize=(2, 1))
  ax.plot([0, 1], [0, 1])
  path = str(tmp_path / "figure.png")
  images.save_figure(fig, path, dpi=50)
  with open(path, "rb") as f:
    assert f.read(8) == PNG_MAGIC
  assert Image.open(path).size == (100, 50)
  assert not plt.fignum_exists(fig.number)
  assert os.listdir(tmp_path) == ["figure.png"]


def test_progress_image_needs_a_grid():
  with pytest.raises(ValueError, match="at least one sample grid"):
    images.progress_image([], [])
