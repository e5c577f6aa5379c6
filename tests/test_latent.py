"""Tests for gan/latent.py: closed forms, NumPy references, jit/vmap equivalence, inversion."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan import latent

VARIANTS = {"plain": lambda f: f, "jit": jax.jit}


def _normal(seed, shape):
  return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _slerp_reference(z0, z1, t):
  """Textbook slerp in float64 (arccos form), for well-separated vectors only."""
  z0, z1 = np.float64(z0), np.float64(z1)
  cos = np.dot(z0, z1) / (np.linalg.norm(z0) * np.linalg.norm(z1))
  omega = np.arccos(np.clip(cos, -1.0, 1.0))
  return (np.sin((1 - t) * omega) * z0 + np.sin(t * omega) * z1) / np.sin(omega)


# ----------------------------------------------------------------------------------------------
# lerp / slerp


@pytest.mark.parametrize("variant", VARIANTS)
def test_lerp_endpoints_midpoint_and_linearity(variant):
  z0, z1 = _normal(0, (16,)), _normal(1, (16,))
  lerp = VARIANTS[variant](latent.lerp)
  np.testing.assert_array_equal(lerp(z0, z1, 0.0), z0)
  np.testing.assert_array_equal(lerp(z0, z1, 1.0), z1)
  np.testing.assert_array_equal(lerp(z0, z1, 0.5), 0.5 * z0 + 0.5 * z1)
  strip = np.asarray(latent.interpolate(z0, z1, 5, method="lerp"))
  steps = np.diff(strip, axis=0)
  np.testing.assert_allclose(steps, np.broadcast_to((z1 - z0) / 4, steps.shape), atol=1e-6)


def test_slerp_closed_form_quarter_circle():
  # The arc from e1 to e2 at t = 1/3 sits at 30 degrees.
  out = latent.slerp(jnp.array([1.0, 0.0]), jnp.array([0.0, 1.0]), 1.0 / 3.0)
  np.testing.assert_allclose(out, [np.cos(np.pi / 6), np.sin(np.pi / 6)], atol=1e-6)


@pytest.mark.parametrize("variant", VARIANTS)
def test_slerp_endpoints_norm_and_reference(variant):
  z0 = _normal(2, (32,))
  z1 = _normal(3, (32,))
  z1 = z1 * np.linalg.norm(z0) / np.linalg.norm(z1)  # equal norms
  slerp = VARIANTS[variant](latent.slerp)
  np.testing.assert_array_equal(slerp(z0, z1, 0.0), z0)
  np.testing.assert_array_equal(slerp(z0, z1, 1.0), z1)
  for t in (0.1, 0.25, 0.5, 0.9):
    out = np.asarray(slerp(z0, z1, t))
    np.testing.assert_allclose(np.linalg.norm(out), np.linalg.norm(z0), rtol=1e-5)
    np.testing.assert_allclose(out, _slerp_reference(z0, z1, t), rtol=1e-5, atol=1e-5)
  # lerp's midpoint is strictly inside the sphere; slerp's is not.
  assert np.linalg.norm(latent.lerp(z0, z1, 0.5)) < 0.9 * np.linalg.norm(z0)


def test_slerp_batched_t_and_vectors_broadcast():
  z0, z1 = _normal(4, (3, 8)), _normal(5, (3, 8))
  ts = np.array([0.2, 0.5, 0.7], np.float32)
  out = latent.slerp(z0, z1, ts)
  assert out.shape == (3, 8)
  for i in range(3):
    np.testing.assert_allclose(out[i], _slerp_reference(z0[i], z1[i], ts[i]), rtol=1e-5,
                               atol=1e-5)


@pytest.mark.parametrize("offset", [0.0, 1e-7, 1e-5, 1e-3])
def test_slerp_nearly_parallel_is_finite_and_matches_lerp(offset):
  z0 = _normal(6, (64,))
  z1 = z0 + offset * _normal(7, (64,))
  for t in (0.0, 0.3, 0.5, 1.0):
    out = latent.slerp(z0, z1, t)
    assert np.all(np.isfinite(out))
    # For angle w the two paths differ by O(w^2 |z|); w <= ~1e-4 here.
    np.testing.assert_allclose(out, latent.lerp(z0, z1, t), atol=1e-5)


# Module-level so that the four cases below share one compilation each.
_slerp_grads = jax.jit(jax.grad(lambda a, b: jnp.sum(latent.slerp(a, b, 0.3) ** 2),
                                argnums=(0, 1)))
_slerp_forward_jacobian = jax.jit(jax.jacfwd(lambda a, b: latent.slerp(a, b, 0.3)))


@pytest.mark.parametrize("case", ["identical", "nearly_parallel", "zero", "antipodal"])
def test_slerp_gradients_are_finite_in_degenerate_cases(case):
  z = _normal(8, (16,))
  z0, z1 = {
      "identical": (z, z),
      "nearly_parallel": (z, z * (1 + 1e-7)),
      "zero": (np.zeros_like(z), z),
      "antipodal": (z, -z),
  }[case]

  assert np.all(np.isfinite(latent.slerp(z0, z1, 0.3)))
  for grad in _slerp_grads(z0, z1):
    assert np.all(np.isfinite(grad))
  assert np.all(np.isfinite(_slerp_forward_jacobian(z0, z1)))


def test_slerp_zero_vectors_fall_back_to_lerp():
  z = _normal(9, (8,))
  zero = np.zeros_like(z)
  np.testing.assert_allclose(latent.slerp(zero, z, 0.25), 0.25 * z, atol=1e-7)
  np.testing.assert_array_equal(latent.slerp(zero, zero, 0.5), zero)


def test_slerp_antipodal_is_finite_and_keeps_endpoints():
  z = _normal(10, (8,))
  np.testing.assert_array_equal(latent.slerp(z, -z, 0.0), z)
  np.testing.assert_array_equal(latent.slerp(z, -z, 1.0), -z)
  mid = latent.slerp(z, -z, 0.5)
  assert np.all(np.isfinite(mid))
  np.testing.assert_allclose(mid, np.zeros_like(z), atol=1e-3 * np.linalg.norm(z))


# ----------------------------------------------------------------------------------------------
# strips and grids


@pytest.mark.parametrize("method", latent.INTERPOLATION_METHODS)
def test_interpolate_strip_shape_and_endpoints(method):
  z0, z1 = _normal(11, (10,)), _normal(12, (10,))
  strip = latent.interpolate(z0, z1, 7, method=method)
  assert strip.shape == (7, 10)
  np.testing.assert_array_equal(strip[0], z0)
  np.testing.assert_array_equal(strip[-1], z1)
  path = latent.slerp if method == "slerp" else latent.lerp
  np.testing.assert_allclose(strip[3], path(z0, z1, 0.5), rtol=1e-6, atol=1e-6)


def test_interpolate_batched_endpoints():
  z0, z1 = _normal(13, (2, 10)), _normal(14, (2, 10))
  strip = latent.interpolate(z0, z1, 4)
  assert strip.shape == (4, 2, 10)
  np.testing.assert_allclose(strip[:, 1], latent.interpolate(z0[1], z1[1], 4), rtol=1e-6,
                             atol=1e-6)


@pytest.mark.parametrize("method", latent.INTERPOLATION_METHODS)
def test_interpolate_grid_shape_and_corners(method):
  corners = _normal(15, (4, 6))
  grid = latent.interpolate_grid(corners, 5, method=method)
  assert grid.shape == (5, 5, 6)
  np.testing.assert_array_equal(grid[0, 0], corners[0])
  np.testing.assert_array_equal(grid[0, -1], corners[1])
  np.testing.assert_array_equal(grid[-1, 0], corners[2])
  np.testing.assert_array_equal(grid[-1, -1], corners[3])
  # Rows are strips between the edge points; the top row is the strip between the top corners.
  np.testing.assert_allclose(grid[0], latent.interpolate(corners[0], corners[1], 5, method),
                             rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(grid[:, 0], latent.interpolate(corners[0], corners[2], 5, method),
                             rtol=1e-6, atol=1e-6)


def test_interpolate_grid_lerp_is_bilinear():
  corners = _normal(16, (4, 3))
  grid = latent.interpolate_grid(corners, 4, method="lerp")
  u = np.linspace(0, 1, 4)
  tl, tr, bl, br = corners
  expected = ((1 - u)[:, None, None] * (1 - u)[None, :, None] * tl
              + (1 - u)[:, None, None] * u[None, :, None] * tr
              + u[:, None, None] * (1 - u)[None, :, None] * bl
              + u[:, None, None] * u[None, :, None] * br)
  np.testing.assert_allclose(grid, expected, rtol=1e-5, atol=1e-6)


def test_interpolation_errors_are_explained():
  z = np.zeros(4, np.float32)
  with pytest.raises(ValueError, match="valid methods"):
    latent.interpolate(z, z, 3, method="cubic")
  with pytest.raises(ValueError, match="num >= 2"):
    latent.interpolate(z, z, 1)
  with pytest.raises(ValueError, match="same shape"):
    latent.interpolate(z, np.zeros(5, np.float32), 3)
  with pytest.raises(ValueError, match=r"\[4, D\]"):
    latent.interpolate_grid(np.zeros((3, 4), np.float32), 3)


# ----------------------------------------------------------------------------------------------
# vector arithmetic


def test_concept_vector_and_arithmetic_match_numpy():
  a, b, c = _normal(17, (3, 12)), _normal(18, (3, 12)), _normal(19, (5, 12))
  expected = a.mean(0) - b.mean(0) + c.mean(0)
  np.testing.assert_allclose(latent.arithmetic(a, b, c), expected, rtol=1e-6, atol=1e-6)
  np.testing.assert_allclose(latent.concept_vector(a), a.mean(0), rtol=1e-6, atol=1e-7)


def test_arithmetic_is_exact_on_dyadic_values():
  # Quarter-integers with 4 exemplars: every sum and mean is exactly representable.
  rng = np.random.default_rng(20)
  a, b, c = (rng.integers(-40, 40, (4, 8)).astype(np.float32) / 4 for _ in range(3))
  expected = a.mean(0) - b.mean(0) + c.mean(0)
  np.testing.assert_array_equal(latent.arithmetic(a, b, c), expected)
  np.testing.assert_array_equal(latent.arithmetic(a[0], b[0], c[0]), a[0] - b[0] + c[0])


def test_attribute_direction_and_walk_values():
  with_attr = np.array([[1.0, 2.0, 0.0], [3.0, 2.0, 0.0]], np.float32)
  without_attr = np.array([[0.0, 1.0, 0.0], [0.0, 3.0, 0.0]], np.float32)
  np.testing.assert_array_equal(latent.attribute_direction(with_attr, without_attr),
                                [2.0, 0.0, 0.0])
  np.testing.assert_array_equal(
      latent.attribute_direction(with_attr, without_attr, normalize=True), [1.0, 0.0, 0.0])
  np.testing.assert_array_equal(
      latent.attribute_direction(with_attr, with_attr, normalize=True), [0.0, 0.0, 0.0])

  z = np.array([1.0, 2.0, -3.0], np.float32)
  direction = np.array([0.5, -1.0, 2.0], np.float32)
  out = latent.walk(z, direction, np.array([-2.0, 0.0, 1.0, 2.5], np.float32))
  np.testing.assert_array_equal(out, [[0.0, 4.0, -7.0],
                                      [1.0, 2.0, -3.0],
                                      [1.5, 1.0, -1.0],
                                      [2.25, -0.5, 2.0]])


def test_concept_vector_rejects_bad_rank():
  with pytest.raises(ValueError, match=r"\[n, D\]"):
    latent.concept_vector(np.zeros((2, 3, 4), np.float32))


# ----------------------------------------------------------------------------------------------
# truncation


@pytest.mark.parametrize("variant", VARIANTS)
def test_truncate_bounds_keeps_inliers_and_is_deterministic(variant):
  z = 3.0 * _normal(21, (64, 32))
  truncate = VARIANTS[variant](latent.truncate)
  key = jax.random.key(0)
  out = np.asarray(truncate(z, 1.0, key))
  assert out.shape == z.shape and out.dtype == np.float32
  assert np.all(np.abs(out) <= 1.0)
  inside = np.abs(z) <= 1.0
  np.testing.assert_array_equal(out[inside], z[inside])
  assert np.all(out[~inside] != z[~inside])
  np.testing.assert_array_equal(truncate(z, 1.0, key), out)
  assert not np.array_equal(truncate(z, 1.0, jax.random.key(1)), out)


def test_truncate_gives_truncated_normal_statistics():
  # N(0, 1) truncated to [-1, 1]: variance 1 - 2 phi(1) / (2 Phi(1) - 1) = 0.291125.
  z = jax.random.normal(jax.random.key(2), (200_000,))
  out = latent.truncate(z, 1.0, jax.random.key(3))
  np.testing.assert_allclose(np.var(out), 0.291125, atol=3e-3)
  assert abs(float(np.mean(out))) < 5e-3


def test_truncate_rejects_nonpositive_threshold():
  with pytest.raises(ValueError, match="threshold > 0"):
    latent.truncate(np.zeros(3, np.float32), 0.0, jax.random.key(0))


def test_truncate_toward_mean():
  z = np.array([[2.0, -4.0], [0.0, 8.0]], np.float32)
  mean = np.array([1.0, 1.0], np.float32)
  np.testing.assert_array_equal(latent.truncate_toward_mean(z, 0.5, mean),
                                [[1.5, -1.5], [0.5, 4.5]])
  np.testing.assert_array_equal(latent.truncate_toward_mean(z, 0.0, mean), [mean, mean])
  np.testing.assert_array_equal(latent.truncate_toward_mean(z, 0.5), 0.5 * z)


# ----------------------------------------------------------------------------------------------
# jit / vmap


def test_jit_and_vmap_match_plain_calls():
  z0s, z1s = _normal(22, (3, 8)), _normal(23, (3, 8))
  ts = np.array([0.1, 0.6, 0.95], np.float32)
  batched = latent.slerp(z0s, z1s, ts)  # slerp broadcasts over leading axes by itself
  np.testing.assert_allclose(batched[1], latent.slerp(z0s[1], z1s[1], ts[1]), rtol=1e-6,
                             atol=1e-6)
  np.testing.assert_allclose(jax.jit(jax.vmap(latent.slerp))(z0s, z1s, ts), batched, rtol=1e-6,
                             atol=1e-6)

  strips = jax.jit(jax.vmap(lambda a, b: latent.interpolate(a, b, 4)))(z0s, z1s)
  np.testing.assert_allclose(strips, jnp.swapaxes(latent.interpolate(z0s, z1s, 4), 0, 1),
                             rtol=1e-6, atol=1e-6)

  grids = jax.vmap(lambda c: latent.interpolate_grid(c, 3))(_normal(24, (2, 4, 8)))
  assert grids.shape == (2, 3, 3, 8)

  sets = _normal(25, (2, 3, 3, 8))  # [batch, (a, b, c), exemplars, D]
  batched = jax.jit(jax.vmap(lambda s: latent.arithmetic(s[0], s[1], s[2])))(sets)
  for i in range(2):
    np.testing.assert_allclose(batched[i], latent.arithmetic(*sets[i]), rtol=1e-6, atol=1e-6)

  alphas = np.array([-1.0, 0.5, 2.0], np.float32)
  walks = jax.vmap(latent.walk, in_axes=(0, 0, None))(z0s, z1s, alphas)
  assert walks.shape == (3, 3, 8)
  np.testing.assert_allclose(walks[1], latent.walk(z0s[1], z1s[1], alphas), rtol=1e-6)

  keys = jax.random.split(jax.random.key(4), 3)
  zs = 3.0 * z0s
  truncated = jax.vmap(latent.truncate, in_axes=(0, None, 0))(zs, 0.5, keys)
  for i in range(3):
    np.testing.assert_array_equal(truncated[i], latent.truncate(zs[i], 0.5, keys[i]))


# ----------------------------------------------------------------------------------------------
# inversion


def _random_tanh_generator(key):
  """A fixed random 2-layer tanh MLP from 8-dim latents to 64-dim "images"."""
  k1, k2, k3 = jax.random.split(key, 3)
  w1 = jax.random.normal(k1, (8, 32)) / jnp.sqrt(8.0)
  b1 = 0.1 * jax.random.normal(k2, (32,))
  w2 = jax.random.normal(k3, (32, 64)) / jnp.sqrt(32.0)
  return lambda z: jnp.tanh(jnp.tanh(z @ w1 + b1) @ w2)


def test_invert_recovers_known_latents():
  generate = _random_tanh_generator(jax.random.key(0))
  z_true = jax.random.normal(jax.random.key(1), (4, 8))
  images = generate(z_true)
  run = jax.jit(lambda x, key: latent.invert(generate, x, key, latent_dim=8, num_steps=300,
                                             learning_rate=0.1, num_restarts=2))
  latents, mse = run(images, jax.random.key(2))
  assert latents.shape == (4, 8) and mse.shape == (4,)
  # Observed ~1e-8 or lower for these seeds; the bound leaves two orders of magnitude.
  assert np.all(mse < 1e-6), mse
  recomputed = np.mean((np.asarray(generate(latents)) - np.asarray(images)) ** 2, axis=-1)
  np.testing.assert_allclose(mse, recomputed, rtol=1e-4, atol=1e-10)
  np.testing.assert_allclose(latents, z_true, atol=2e-2)


def test_invert_explains_shape_mismatch():
  generate = _random_tanh_generator(jax.random.key(0))
  with pytest.raises(ValueError, match="latent_dim=16"):
    latent.invert(generate, jnp.zeros((2, 64)), jax.random.key(0), latent_dim=16, num_steps=1)
  with pytest.raises(ValueError, match=r"to shape \(8, 64\), but the images have shape \(2, 32\)"):
    latent.invert(generate, jnp.zeros((2, 32)), jax.random.key(0), latent_dim=8, num_steps=1)
  with pytest.raises(ValueError, match="num_restarts"):
    latent.invert(generate, jnp.zeros((2, 64)), jax.random.key(0), latent_dim=8,
                  num_restarts=0)


# ----------------------------------------------------------------------------------------------
# Priors.


def test_normal_prior_is_exactly_jax_random_normal_and_uniform_fills_the_cube():
  key = jax.random.key(7)
  np.testing.assert_array_equal(latent.sample(key, (5, 3)), jax.random.normal(key, (5, 3)))
  u = np.asarray(latent.sample(key, (20000, 2), "uniform"))
  assert u.dtype == np.float32 and u.min() >= -1.0 and u.max() <= 1.0
  np.testing.assert_allclose(u.mean(axis=0), 0.0, atol=0.02)
  np.testing.assert_allclose(u.var(axis=0), 1.0 / 3.0, atol=0.01)  # Var U[-1, 1] = 1/3
  assert latent.DISTRIBUTIONS["uniform"].interpolation == "lerp"
  # lerp between two points of the cube stays inside it (it is convex); slerp need not.
  a, b = jnp.array([1.0, 1.0]), jnp.array([1.0, -1.0])
  assert float(jnp.abs(latent.interpolate(a, b, 9, "lerp")).max()) <= 1.0
  assert float(jnp.abs(latent.interpolate(a, b, 9, "slerp")).max()) > 1.0 + 1e-3
  with pytest.raises(ValueError, match="Unknown latent distribution 'cauchy'"):
    latent.sample(key, (2,), "cauchy")
