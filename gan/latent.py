"""Latent-space tools: interpolation, vector arithmetic, truncation and GAN inversion.

Everything here is a pure function of latent arrays (and, for `invert`, of a pure generator
function ``z -> images``); no model code is imported, so the same functions serve any generator.
All of them work under `jax.jit` and `jax.vmap`; every random function takes a PRNG key.

Shapes: a latent is a vector ``[D]``; most functions accept leading batch axes ``[..., D]`` and
treat the last axis as the latent dimension.

* Priors: `sample` draws z from a registered latent distribution (`DISTRIBUTIONS`: ``normal``,
  N(0, I), and ``uniform``, U[-1, 1]^D); each names the interpolation that suits it.
* Paths: `lerp`, `slerp` (White 2016), `interpolate` (a strip of ``num`` latents) and
  `interpolate_grid` (a ``num x num`` grid spanned by four corners).
* Arithmetic: `concept_vector`, `arithmetic` (Radford et al. 2015, "smiling woman - neutral
  woman + neutral man"), `attribute_direction` and `walk`.
* Truncation: `truncate` (BigGAN's resampling trick) and `truncate_toward_mean` (StyleGAN's
  ``psi`` trick).
* Inversion: `invert` finds ``z`` with ``G(z) ~= x`` by Adam on the pixel MSE, all restarts and
  images at once, inside one `jax.lax.scan`.
"""

from __future__ import annotations

import functools
import numbers
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax

from gan.registry import Registry

INTERPOLATION_METHODS = ("slerp", "lerp")


class Distribution(NamedTuple):
  """A latent prior: ``sample(key, shape, dtype)`` and the interpolation that keeps a path typical
  of it (``slerp`` for a Gaussian, whose samples live near a sphere of radius sqrt(D); ``lerp``
  for a uniform cube, which is convex, so a straight path never leaves it)."""
  sample: Callable[..., jax.Array]
  interpolation: str
  description: str


DISTRIBUTIONS = Registry[Distribution]("latent distribution")
DISTRIBUTIONS.register("normal", Distribution(
    lambda key, shape, dtype: jax.random.normal(key, shape, dtype), "slerp",
    "z ~ N(0, I): DCGAN (Radford et al. 2015) and most GANs since"))
DISTRIBUTIONS.register("uniform", Distribution(
    lambda key, shape, dtype: jax.random.uniform(key, shape, dtype, -1.0, 1.0), "lerp",
    "z ~ U[-1, 1]^D: the source material's MLP GAN practice (and Goodfellow et al. 2014's "
    "uniform noise)"))


def check_distribution(name: str) -> Distribution:
  """The registered distribution ``name``; `UnknownNameError` naming the registered ones
  otherwise."""
  return DISTRIBUTIONS.get(name)


def sample(key: jax.Array, shape: tuple, distribution: str = "normal",
           dtype=jnp.float32) -> jax.Array:
  """Latents of ``shape`` from the prior ``distribution`` (a name in `DISTRIBUTIONS`).

  ``normal`` is exactly ``jax.random.normal(key, shape, dtype)``, so runs that never name a
  distribution draw the numbers they always drew.
  """
  return check_distribution(distribution).sample(key, shape, dtype)

# Past this angle the great circle through z0 and z1 is nearly undefined (it is undefined at
# exactly pi) and 1 / sin(omega) amplifies rounding; `slerp` clamps omega here, so antipodal
# inputs give a finite path through the origin instead of inf/NaN.
_MAX_SLERP_ANGLE = jnp.pi - 1e-3


def _as_float(x: jax.Array) -> jax.Array:
  x = jnp.asarray(x)
  return x if jnp.issubdtype(x.dtype, jnp.floating) else x.astype(jnp.float32)


def _check_latent_pair(z0: jax.Array, z1: jax.Array, name: str) -> None:
  if z0.ndim == 0 or z1.ndim == 0:
    raise ValueError(
        f"{name} expects latent vectors of shape [..., D]; got scalars with shapes "
        f"{z0.shape} and {z1.shape}.")
  if z0.shape[-1] != z1.shape[-1]:
    raise ValueError(
        f"{name} got latents of different dimension: z0 has shape {z0.shape} and z1 has shape "
        f"{z1.shape}; the last axes (D) must match.")


def _check_method(method: str) -> None:
  if method not in INTERPOLATION_METHODS:
    raise ValueError(
        f"Unknown interpolation method {method!r}; valid methods are: "
        f"{', '.join(INTERPOLATION_METHODS)}.")


def _safe_norm(x: jax.Array) -> jax.Array:
  """L2 norm over the last axis (kept as size 1) with gradient 0, not NaN, at x = 0."""
  squared = jnp.sum(x * x, axis=-1, keepdims=True)
  positive = squared > 0
  # Double `where`: sqrt never sees 0, so its infinite derivative never meets a zero cotangent.
  return jnp.where(positive, jnp.sqrt(jnp.where(positive, squared, 1.0)), 0.0)


def _exactly_one_where(condition: jax.Array, ratio: jax.Array) -> jax.Array:
  """Snaps ``ratio`` (a sinc ratio equal to 1 up to rounding where ``condition``) to exactly 1.

  XLA may round sinc(x) / sinc(x) to 1 - ulp when numerator and denominator are computed in
  differently shaped kernels, which would move slerp's endpoints by an ulp. The correction is
  exact (Sterbenz: 1 - ratio is exact for ratio in [1/2, 2]) and carries no gradient, so the
  derivative is that of the unsnapped ratio.
  """
  correction = jnp.where(condition, 1.0 - ratio, 0.0)
  return ratio + jax.lax.stop_gradient(correction)


@jax.jit
def lerp(z0: jax.Array, z1: jax.Array, t: jax.Array | float) -> jax.Array:
  """Linear interpolation ``(1 - t) z0 + t z1``.

  Written with both weights (not ``z0 + t (z1 - z0)``) so that ``t = 0`` and ``t = 1`` return
  the endpoints exactly and ``t = 0.5`` returns their mean exactly.

  Args:
    z0: latents ``[..., D]`` at ``t = 0``.
    z1: latents ``[..., D]`` at ``t = 1`` (broadcastable against ``z0``).
    t: interpolation weight, a scalar or an array broadcastable against ``z0.shape[:-1]``
      (one weight per latent, not per coordinate). Values outside [0, 1] extrapolate.

  Returns:
    The interpolated latents, shape ``broadcast(z0, z1, t[..., None])``.

  References:
    White 2016, "Sampling Generative Networks" (lerp as the baseline that slerp improves on).
  """
  z0, z1 = _as_float(z0), _as_float(z1)
  _check_latent_pair(z0, z1, "lerp")
  t = jnp.asarray(t, dtype=jnp.result_type(z0, z1))[..., None]
  return (1.0 - t) * z0 + t * z1


@jax.jit
def slerp(z0: jax.Array, z1: jax.Array, t: jax.Array | float) -> jax.Array:
  """Spherical linear interpolation along the great circle from ``z0`` to ``z1``.

  ``slerp(z0, z1, t) = sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1`` where ``w`` is the
  angle between ``z0`` and ``z1``. For a Gaussian prior in high dimension almost all mass lies
  near a sphere, and lerp's midpoints fall inside it (two independent draws are nearly
  orthogonal, so their lerp midpoint has about ``1/sqrt(2)`` of their norm); slerp keeps
  equal-norm endpoints' norm all along the path.

  Numerics (finite values *and* finite gradients everywhere):

  * ``w`` comes from Kahan's ``2 atan2(|u0 - u1|, |u0 + u1|)`` on the unit vectors, accurate
    at every angle (``arccos`` of the dot product loses all precision below ``w ~ 3e-4`` in
    float32 and has an infinite derivative at ``w = 0``).
  * The weights are written as ``(1 - t) sinc((1 - t) w) / sinc(w)`` and ``t sinc(t w) /
    sinc(w)``, which tend smoothly to lerp's ``1 - t`` and ``t`` as ``w -> 0``: nearly parallel
    and identical vectors reduce to lerp with no switch and no 0/0.
  * A zero vector has no direction: ``w`` is taken as 0 and the result is lerp.
  * Antipodal vectors have no unique great circle: ``w`` is clamped to ``pi - 1e-3``, which
    gives a finite path through (near) the origin.

  The endpoints are returned exactly at ``t = 0`` and ``t = 1`` (the weights are snapped to
  exactly 1 and 0 there, whatever the rounding of the sinc ratio).

  Args:
    z0: latents ``[..., D]`` at ``t = 0``.
    z1: latents ``[..., D]`` at ``t = 1`` (broadcastable against ``z0``).
    t: interpolation weight, a scalar or an array broadcastable against ``z0.shape[:-1]``.

  Returns:
    The interpolated latents, shape ``broadcast(z0, z1, t[..., None])``.

  References:
    White 2016, "Sampling Generative Networks"; Shoemake 1985, "Animating Rotation with
    Quaternion Curves" (the formula); Kahan 2006, "How Futile are Mindless Assessments of
    Roundoff in Floating-Point Computation?" (the angle formula).
  """
  z0, z1 = _as_float(z0), _as_float(z1)
  _check_latent_pair(z0, z1, "slerp")
  dtype = jnp.result_type(z0, z1)
  t = jnp.asarray(t, dtype=dtype)[..., None]

  norm0, norm1 = _safe_norm(z0), _safe_norm(z1)
  both_nonzero = (norm0 > 0) & (norm1 > 0)
  unit0 = z0 / jnp.where(norm0 > 0, norm0, 1.0)
  unit1 = z1 / jnp.where(norm1 > 0, norm1, 1.0)
  chord_minus = _safe_norm(unit0 - unit1)
  chord_plus = jnp.where(both_nonzero, _safe_norm(unit0 + unit1), 1.0)  # keeps atan2(0, 0) out
  omega = jnp.where(both_nonzero, 2.0 * jnp.arctan2(chord_minus, chord_plus), 0.0)
  omega = jnp.minimum(omega, _MAX_SLERP_ANGLE).astype(dtype)

  # sin(a w) / sin(w) = a sinc(a w) / sinc(w) with sinc(x) = sin(x) / x = jnp.sinc(x / pi).
  sinc_omega = jnp.sinc(omega / jnp.pi)
  ratio0 = _exactly_one_where(t == 0, jnp.sinc((1.0 - t) * omega / jnp.pi) / sinc_omega)
  ratio1 = _exactly_one_where(t == 1, jnp.sinc(t * omega / jnp.pi) / sinc_omega)
  return (1.0 - t) * ratio0 * z0 + t * ratio1 * z1



@functools.partial(jax.jit, static_argnames=("num", "method"))
def interpolate(z0: jax.Array, z1: jax.Array, num: int, method: str = "slerp") -> jax.Array:
  """A strip of ``num`` equally spaced (in ``t``) latents from ``z0`` to ``z1`` inclusive.

  Args:
    z0: the first latent ``[D]`` (or a batch ``[..., D]``).
    z1: the last latent, same shape as ``z0``.
    num: number of latents in the strip, at least 2; a Python int (it sets the output shape).
    method: ``"slerp"`` (default, for Gaussian priors) or ``"lerp"``.

  Returns:
    ``[num, ..., D]`` with ``out[0] == z0`` and ``out[-1] == z1`` exactly.

  References:
    White 2016, "Sampling Generative Networks"; Radford et al. 2015, "Unsupervised
    Representation Learning with Deep Convolutional Generative Adversarial Networks"
    (DCGAN), Sec. 6.1 (walking in the latent space).
  """
  _check_method(method)
  if not isinstance(num, numbers.Integral) or num < 2:
    raise ValueError(
        f"interpolate needs num >= 2 (the strip includes both endpoints) as a Python int; "
        f"got {num!r}.")
  z0, z1 = _as_float(z0), _as_float(z1)
  if z0.shape != z1.shape:
    raise ValueError(
        f"interpolate needs endpoints of the same shape; got z0 {z0.shape} and z1 {z1.shape}.")
  _check_latent_pair(z0, z1, "interpolate")
  ts = jnp.linspace(0.0, 1.0, num, dtype=jnp.result_type(z0, z1))
  ts = ts.reshape((num,) + (1,) * (z0.ndim - 1))
  path = slerp if method == "slerp" else lerp
  return path(z0, z1, ts)


@functools.partial(jax.jit, static_argnames=("num", "method"))
def interpolate_grid(corners: jax.Array, num: int, method: str = "slerp") -> jax.Array:
  """A ``num x num`` grid of latents spanned by four corner latents.

  The left and right edges are interpolated first (top to bottom), then each row from its left
  to its right end. With ``method="lerp"`` this is exactly bilinear interpolation. With
  ``"slerp"`` it is slerp-of-slerp: every row and both side edges are great-circle arcs (the top
  and bottom rows are the arcs between their corners), but interior columns are not arcs, and
  interpolating columns first would give a (slightly) different grid.

  Args:
    corners: ``[4, D]`` (or ``[4, ..., D]``) in the order top-left, top-right, bottom-left,
      bottom-right.
    num: number of rows and of columns, at least 2.
    method: ``"slerp"`` (default) or ``"lerp"``.

  Returns:
    ``[num, num, ..., D]`` indexed ``[row, column]``: ``out[0, 0]``, ``out[0, -1]``,
    ``out[-1, 0]`` and ``out[-1, -1]`` are the four corners exactly.

  References:
    White 2016, "Sampling Generative Networks" (interpolation grids between four samples);
    Radford et al. 2015 (DCGAN), Sec. 6.1.
  """
  corners = _as_float(corners)
  if corners.ndim < 2 or corners.shape[0] != 4:
    raise ValueError(
        f"interpolate_grid expects corners of shape [4, D] (top-left, top-right, bottom-left, "
        f"bottom-right); got shape {corners.shape}.")
  top_left, top_right, bottom_left, bottom_right = corners
  left_edge = interpolate(top_left, bottom_left, num, method)  # [rows, ..., D]
  right_edge = interpolate(top_right, bottom_right, num, method)
  columns_first = interpolate(left_edge, right_edge, num, method)  # [columns, rows, ..., D]
  return jnp.swapaxes(columns_first, 0, 1)


def concept_vector(zs: jax.Array) -> jax.Array:
  """The latent of a visual concept: the mean of its exemplar latents.

  Radford et al. found single-sample arithmetic unstable and averaged the latents of three
  exemplars per concept before doing arithmetic.

  Args:
    zs: exemplar latents ``[n, D]``, or one latent ``[D]`` (returned unchanged).

  Returns:
    ``[D]``.

  References:
    Radford et al. 2015, "Unsupervised Representation Learning with Deep Convolutional
    Generative Adversarial Networks" (DCGAN), Sec. 6.3 (vector arithmetic on face samples).
  """
  zs = _as_float(zs)
  if zs.ndim == 1:
    return zs
  if zs.ndim == 2:
    return jnp.mean(zs, axis=0)
  raise ValueError(
      f"concept_vector expects exemplar latents [n, D] or a single latent [D]; got shape "
      f"{zs.shape}. For a batch of concepts, use jax.vmap(concept_vector).")


def arithmetic(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
  """Latent vector arithmetic ``concept(a) - concept(b) + concept(c)``.

  E.g. ``arithmetic(smiling_woman, neutral_woman, neutral_man)`` ~ a smiling man.

  Args:
    a: exemplar latents ``[n_a, D]`` (or one latent ``[D]``) of the concept added first.
    b: exemplar latents ``[n_b, D]`` (or ``[D]``) of the concept subtracted.
    c: exemplar latents ``[n_c, D]`` (or ``[D]``) of the concept added second.

  Returns:
    ``[D]``.

  References:
    Radford et al. 2015 (DCGAN), Sec. 6.3.
  """
  return concept_vector(a) - concept_vector(b) + concept_vector(c)


def attribute_direction(z_with: jax.Array, z_without: jax.Array,
                        normalize: bool = False) -> jax.Array:
  """The direction of an attribute: mean latent with it minus mean latent without it.

  Args:
    z_with: latents ``[n, D]`` (or ``[D]``) whose samples show the attribute.
    z_without: latents ``[m, D]`` (or ``[D]``) whose samples do not.
    normalize: if True, return the unit vector (a zero difference stays zero, without NaN).

  Returns:
    ``[D]``; feed it to `walk`.

  References:
    White 2016, "Sampling Generative Networks" (attribute vectors from labelled means);
    Radford et al. 2015 (DCGAN), Sec. 6.3 (the averaged "turn" vector).
  """
  direction = concept_vector(z_with) - concept_vector(z_without)
  if normalize:
    norm = _safe_norm(direction)
    direction = direction / jnp.where(norm > 0, norm, 1.0)
  return direction


def walk(z: jax.Array, direction: jax.Array, alphas: jax.Array) -> jax.Array:
  """Latents ``z + alpha * direction`` for each step size ``alpha``.

  Args:
    z: the starting latent ``[D]`` (or a batch ``[..., D]``).
    direction: ``[D]`` (e.g. from `attribute_direction`), broadcastable against ``z``.
    alphas: ``[K]`` step sizes (negative values walk the other way; 0 returns ``z``).

  Returns:
    ``[K, ..., D]``.

  References:
    Radford et al. 2015 (DCGAN), Sec. 6.3; White 2016, "Sampling Generative Networks".
  """
  z, direction = _as_float(z), _as_float(direction)
  alphas = jnp.asarray(alphas, dtype=jnp.result_type(z, direction))
  if alphas.ndim != 1:
    raise ValueError(f"walk expects alphas of shape [K]; got shape {alphas.shape}.")
  alphas = alphas.reshape((-1,) + (1,) * max(z.ndim, direction.ndim))
  return z + alphas * direction


def truncate(z: jax.Array, threshold: jax.Array | float, key: jax.Array) -> jax.Array:
  """BigGAN's truncation trick: redraw every entry with ``|z| > threshold``.

  BigGAN resamples out-of-range entries from N(0, 1) until they land in
  ``[-threshold, threshold]``. The value that loop finally accepts is a draw from N(0, 1)
  conditioned on ``|x| <= threshold``, i.e. a truncated normal, so it is drawn directly (by
  inverse CDF, `jax.random.truncated_normal`) instead: exact, one draw, no unbounded loop and no
  clipping fallback. Entries already in range are kept, so for ``z ~ N(0, I)`` the output is
  i.i.d. truncated normal. Smaller thresholds trade variety for fidelity.

  Args:
    z: latents of any shape.
    threshold: the truncation bound, > 0 (a scalar).
    key: PRNG key for the redraws; the same key gives the same output.

  Returns:
    Same shape and dtype as ``z``, with every ``|entry| <= threshold``.

  References:
    Brock et al. 2019, "Large Scale GAN Training for High Fidelity Natural Image Synthesis"
    (BigGAN), Sec. 3.1.
  """
  z = _as_float(z)
  if isinstance(threshold, (int, float)) and not threshold > 0:
    raise ValueError(f"truncate needs threshold > 0; got {threshold!r}.")
  threshold = jnp.asarray(threshold, dtype=z.dtype)
  redrawn = jax.random.truncated_normal(key, -threshold, threshold, z.shape, z.dtype)
  return jnp.where(jnp.abs(z) > threshold, redrawn, z)


def truncate_toward_mean(z: jax.Array, psi: jax.Array | float,
                         mean: jax.Array | None = None) -> jax.Array:
  """StyleGAN's truncation trick ``mean + psi (z - mean)``.

  ``psi = 1`` leaves ``z`` unchanged, ``psi = 0`` collapses every sample to ``mean``, negative
  ``psi`` gives the "anti" sample. StyleGAN applies it to the intermediate latent ``w`` with
  ``mean`` the running average of the mapping network's outputs; with ``mean=None`` (zero, the
  mean of a centred prior) it simply scales ``z``.

  Args:
    z: latents ``[..., D]``.
    psi: truncation strength, a scalar (or broadcastable against ``z.shape[:-1] + (1,)``).
    mean: the centre ``[D]``; None means the origin.

  Returns:
    Same shape as ``z``.

  References:
    Karras et al. 2019, "A Style-Based Generator Architecture for Generative Adversarial
    Networks" (StyleGAN), Sec. 2 / Appendix B.
  """
  z = _as_float(z)
  psi = jnp.asarray(psi, dtype=z.dtype)
  if mean is None:
    return psi * z
  mean = jnp.asarray(mean, dtype=z.dtype)
  return mean + psi * (z - mean)


class Inversion(NamedTuple):
  """Result of `invert` (a tuple: ``latents, mse = invert(...)``)."""
  latents: jax.Array  # [B, D]: the best latent found for each image.
  mse: jax.Array  # [B]: mean squared error of generate_fn(latents) against each image.


def invert(generate_fn: Callable[[jax.Array], jax.Array], images: jax.Array, key: jax.Array,
           latent_dim: int, num_steps: int = 500, learning_rate: float = 0.05,
           num_restarts: int = 4, prior_weight: float = 0.0) -> Inversion:
  """Inverts a generator: finds ``z`` with ``generate_fn(z) ~= images`` by gradient descent.

  For each image, ``num_restarts`` latents start from independent N(0, I) draws and are
  optimised by Adam on ``mse_i(z) + prior_weight ||z||^2`` (the prior term is the Gaussian
  log-prior up to a constant; it keeps ``z`` typical when the image is not exactly reachable).
  All ``num_restarts * B`` latents are optimised together, one generator call per step, inside a
  single `jax.lax.scan`; the objective is a sum of per-latent terms and Adam is elementwise, so
  each latent's trajectory is the one it would have alone. Over all steps and restarts, the latent
  with the lowest pixel MSE (prior term excluded) is returned for each image.

  The function is pure and traceable; compile it whole with e.g.
  ``jax.jit(lambda x, key: invert(generate_fn, x, key, latent_dim=128))``.

  Args:
    generate_fn: a pure function ``z [N, latent_dim] -> images [N, ...]`` with no interaction
      between examples (for a Flax generator: its ``apply`` closed over the (EMA) params, with
      BatchNorm in inference mode).
    images: target images ``[B, ...]``, in the generator's output range.
    key: PRNG key for the initial latents.
    latent_dim: the latent dimension ``D``.
    num_steps: Adam steps (a Python int).
    learning_rate: Adam step size.
    num_restarts: independent initialisations per image (a Python int); the best one is kept.
    prior_weight: weight of ``||z||^2``; 0 (default) fits the pixels only.

  Returns:
    ``Inversion(latents [B, D], mse [B])``, ``mse`` being the per-image mean over pixels of
    ``(generate_fn(latents) - images)^2``.

  References:
    Creswell & Bharath 2018, "Inverting the Generator of a Generative Adversarial Network";
    Lipton & Tripathi 2017, "Precise Recovery of Latent Vectors from Generative Adversarial
    Networks".
  """
  for name, value in (("latent_dim", latent_dim), ("num_steps", num_steps),
                      ("num_restarts", num_restarts)):
    if not isinstance(value, numbers.Integral) or value < 1:
      raise ValueError(f"invert needs {name} to be a Python int >= 1; got {value!r}.")
  images = _as_float(images)
  if images.ndim < 1:
    raise ValueError(f"invert expects a batch of images [B, ...]; got shape {images.shape}.")
  batch_size = images.shape[0]
  num_latents = num_restarts * batch_size
  # Checked on shapes alone, before any work, so a wrong latent_dim fails fast and clearly.
  latent_spec = jax.ShapeDtypeStruct((num_latents, latent_dim), images.dtype)
  try:
    generated = jax.eval_shape(generate_fn, latent_spec)
  except (TypeError, ValueError) as error:
    raise ValueError(
        f"generate_fn could not be applied to latents of shape {latent_spec.shape} "
        f"(latent_dim={latent_dim}); is latent_dim the generator's latent size?") from error
  if generated.shape != (num_latents,) + images.shape[1:]:
    raise ValueError(
        f"generate_fn maps latents {latent_spec.shape} to shape {generated.shape}, but the "
        f"images have shape {images.shape}: generate_fn must map [N, latent_dim={latent_dim}] "
        f"to [N, *images.shape[1:]] (check latent_dim and the image layout).")

  # Restart-major: latent r * B + i tries to reproduce image i.
  targets = jnp.tile(images, (num_restarts,) + (1,) * (images.ndim - 1))
  initial = jax.random.normal(key, (num_latents, latent_dim), images.dtype)

  def per_latent_mse(z: jax.Array) -> jax.Array:
    errors = (generate_fn(z).astype(targets.dtype) - targets) ** 2
    return jnp.mean(errors.reshape(num_latents, -1), axis=-1)

  def objective(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    mse = per_latent_mse(z)
    return jnp.sum(mse) + prior_weight * jnp.sum(z * z), mse

  def keep_best(best_z, best_mse, z, mse):
    improved = mse < best_mse  # False for NaN, so a diverged latent never replaces a good one.
    return jnp.where(improved[:, None], z, best_z), jnp.where(improved, mse, best_mse)

  optimizer = optax.adam(learning_rate)

  def step(carry, _):
    z, opt_state, best_z, best_mse = carry
    (_, mse), grads = jax.value_and_grad(objective, has_aux=True)(z)
    best_z, best_mse = keep_best(best_z, best_mse, z, mse)  # mse belongs to z before the update.
    updates, opt_state = optimizer.update(grads, opt_state, z)
    return (optax.apply_updates(z, updates), opt_state, best_z, best_mse), None

  best_mse = jnp.full((num_latents,), jnp.inf, images.dtype)
  carry = (initial, optimizer.init(initial), initial, best_mse)
  (z, _, best_z, best_mse), _ = jax.lax.scan(step, carry, None, length=num_steps)
  best_z, best_mse = keep_best(best_z, best_mse, z, per_latent_mse(z))

  best_mse = best_mse.reshape(num_restarts, batch_size)
  best_restart = jnp.argmin(best_mse, axis=0)  # [B]
  images_index = jnp.arange(batch_size)
  latents = best_z.reshape(num_restarts, batch_size, latent_dim)[best_restart, images_index]
  return Inversion(latents=latents, mse=best_mse[best_restart, images_index])
