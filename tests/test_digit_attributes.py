"""Tests for gan/digit_attributes.py: ink mass and slant of drawn strokes, by hand."""

import jax
import numpy as np
import pytest

from gan import digit_attributes


def blank(height=28, width=28):
  return -np.ones((height, width, 1), np.float32)


def vertical_bar(width, height=20, column=10, value=1.0):
  image = blank()
  image[4:4 + height, column:column + width] = value
  return image


def diagonal_line(leaning_right=True):
  """A one-pixel line through rows 4..23 at 45 degrees; its top is to the right if leaning."""
  image = blank()
  for row in range(4, 24):
    column = 4 + (23 - row) if leaning_right else 4 + (row - 4)
    image[row, column] = 1.0
  return image


@pytest.mark.parametrize("jit", [False, True])
def test_ink_mass_of_bars_is_length_times_width(jit):
  ink_mass = jax.jit(digit_attributes.ink_mass) if jit else digit_attributes.ink_mass
  bars = np.stack([blank(), vertical_bar(1), vertical_bar(2), vertical_bar(4),
                   vertical_bar(2, value=0.0)])  # the last at half ink
  np.testing.assert_allclose(ink_mass(bars), [0.0, 20.0, 40.0, 80.0, 20.0], atol=1e-5)


def test_a_thicker_stroke_has_more_ink():
  thin, thick = diagonal_line(), diagonal_line()
  thick[:, 1:] = np.maximum(thick[:, 1:], diagonal_line()[:, :-1])  # the same line, 2 px wide
  masses = np.asarray(digit_attributes.ink_mass(np.stack([thin, thick])))
  assert masses[1] > masses[0]
  np.testing.assert_allclose(masses, [20.0, 40.0], atol=1e-5)


@pytest.mark.parametrize("jit", [False, True])
def test_slant_of_sheared_bars_has_the_expected_sign_and_value(jit):
  slant = jax.jit(digit_attributes.slant) if jit else digit_attributes.slant
  images = np.stack([diagonal_line(leaning_right=True), diagonal_line(leaning_right=False),
                     vertical_bar(3), blank()])
  # x = a - y exactly (rows counted downwards), so mu11 / mu02 = -1 and the slant is +1.
  np.testing.assert_allclose(slant(images), [1.0, -1.0, 0.0, 0.0], atol=1e-5)


def test_moments_of_a_bar():
  moments = digit_attributes.image_moments(vertical_bar(2, height=20, column=10)[None])
  np.testing.assert_allclose(moments.centroid_x, [10.5], atol=1e-5)
  np.testing.assert_allclose(moments.centroid_y, [13.5], atol=1e-5)
  # Two columns at +-0.5 over 20 rows; rows 4..23 about 13.5: 2 * sum_k (k - 9.5)^2 = 1330.
  np.testing.assert_allclose(moments.mu20, [20 * 2 * 0.25], atol=1e-4)
  np.testing.assert_allclose(moments.mu02, [1330.0], rtol=1e-6)
  np.testing.assert_allclose(moments.mu11, [0.0], atol=1e-4)


def test_attributes_reject_images_without_a_channel_axis():
  with pytest.raises(ValueError, match=r"images\[..., None\]"):
    digit_attributes.ink_mass(np.zeros((2, 28, 28), np.float32))
  with pytest.raises(ValueError, match="float images"):
    digit_attributes.slant(np.zeros((2, 28, 28, 1), np.uint8))
