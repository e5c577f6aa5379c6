"""Densities and the optimal discriminator, for looking at 1-D GANs (Goodfellow et al. 2014).

Pure functions of arrays: a Gaussian density, a Gaussian kernel density estimate (KDE) of a
generator's samples, and the optimal discriminator ``D*(x) = p_data(x) / (p_data(x) + p_g(x))``
against which a trained D can be compared.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np


def _is_number(value) -> bool:
  return isinstance(value, (int, float, np.number))


def gaussian_pdf(x: jnp.ndarray, mean: float, std: float) -> jnp.ndarray:
  """The density of N(mean, std^2) at ``x``.

  Args:
    x: points, any shape.
    mean: the mean.
    std: the standard deviation, > 0.

  Returns:
    The density at every point, the shape of ``x``.

  Raises:
    ValueError: if ``std`` is a number and not positive.
  """
  if _is_number(std) and not std > 0:
    raise ValueError(f"std must be positive, got {std}.")
  x = jnp.asarray(x, jnp.float32)
  return jnp.exp(-0.5 * ((x - mean) / std) ** 2) / (std * math.sqrt(2.0 * math.pi))


def silverman_bandwidth(samples: jnp.ndarray) -> jnp.ndarray:
  """Silverman's rule-of-thumb bandwidth ``0.9 min(sigma, IQR / 1.34) n^(-1/5)`` for 1-D data.

  Args:
    samples: 1-D samples, shape ``[n]`` (or ``[n, 1]``), n >= 2.

  Returns:
    The bandwidth, a positive scalar (sigma alone where the IQR is 0; floored at 1e-6 so a
    collapsed generator still has a density, a very narrow one).

  Raises:
    ValueError: if there are fewer than 2 samples.

  References:
    Silverman 1986, "Density Estimation for Statistics and Data Analysis", eq. (3.31).
  """
  samples = jnp.asarray(samples, jnp.float32).reshape(-1)
  if samples.size < 2:
    raise ValueError(f"A bandwidth needs at least 2 samples, got {samples.size}.")
  sigma = jnp.std(samples, ddof=1)
  q75, q25 = jnp.percentile(samples, jnp.array([75.0, 25.0]))
  spread = jnp.minimum(sigma, (q75 - q25) / 1.34)
  spread = jnp.where(spread > 0, spread, sigma)
  return jnp.maximum(0.9 * spread * samples.size ** -0.2, 1e-6)


def gaussian_kde(samples: jnp.ndarray, x: jnp.ndarray, bandwidth=None) -> jnp.ndarray:
  """Gaussian kernel density estimate of 1-D ``samples``, evaluated at ``x``.

  ``p(x) = (1 / n) sum_i N(x; samples_i, h^2)``, which integrates to exactly 1 over the real line.
  Jittable.

  Args:
    samples: 1-D samples, shape ``[n]`` (or ``[n, 1]``, e.g. a batch of 1-D generator outputs).
    x: where to evaluate, shape ``[m]``.
    bandwidth: the kernel's standard deviation h; None uses `silverman_bandwidth`.

  Returns:
    The estimated density at ``x``, shape ``[m]``.

  Raises:
    ValueError: if ``bandwidth`` is a number and not positive.

  References:
    Parzen 1962, "On Estimation of a Probability Density Function and Mode";
    Silverman 1986, "Density Estimation for Statistics and Data Analysis".
  """
  if _is_number(bandwidth) and not bandwidth > 0:
    raise ValueError(f"bandwidth must be positive, got {bandwidth}.")
  samples = jnp.asarray(samples, jnp.float32).reshape(-1)
  h = silverman_bandwidth(samples) if bandwidth is None else bandwidth
  x = jnp.asarray(x, jnp.float32).reshape(-1)
  return jnp.mean(gaussian_pdf((x[:, None] - samples[None, :]) / h, 0.0, 1.0), axis=1) / h


def optimal_discriminator(p_data: jnp.ndarray, p_g: jnp.ndarray) -> jnp.ndarray:
  """The optimal discriminator for a fixed generator, ``D*(x) = p_data / (p_data + p_g)``.

  It maximises ``E_data[log D] + E_g[log(1 - D)]`` pointwise. Where both densities vanish D* is
  undefined (any value is optimal there); 1/2 is returned.

  Args:
    p_data: the data density at some points.
    p_g: the generator's density at the same points.

  Returns:
    D* at those points, in [0, 1].

  References:
    Goodfellow et al. 2014, "Generative Adversarial Nets", Proposition 1.
  """
  p_data = jnp.asarray(p_data, jnp.float32)
  p_g = jnp.asarray(p_g, jnp.float32)
  total = p_data + p_g
  return jnp.where(total > 0, p_data / jnp.where(total > 0, total, 1.0), 0.5)
