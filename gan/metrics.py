"""Sample-quality and mode-coverage metrics for GANs, as pure functions of arrays.

Feature-space metrics take features that some network (an Inception net, a classifier) has already
produced; extracting them is not this module's job. What lives here:

* `frechet_distance`, `feature_statistics`, `fid_from_features`: FID (Heusel et al. 2017), in
  float64 on the host, as every reference implementation does.
* `kernel_inception_distance`: KID (Binkowski et al. 2018), unbiased MMD^2 with the cubic
  polynomial kernel, averaged over random subsets.
* `inception_score`: IS (Salimans et al. 2016) from class probabilities.
* `precision_recall` (Kynkaanniemi et al. 2019) and `density_coverage` (Naeem et al. 2020): k-NN
  manifold estimates. Pairwise distances are computed in jitted blocks, so 10,000 x 10,000 sets
  never materialise a full distance matrix and run on an accelerator when there is one.
* `mixture_metrics`: modes / high-quality fraction / reverse KL on the 2-D Gaussian-mixture toys
  (VEEGAN, PacGAN); the mixtures themselves are data (`gan.data.toys`).
* `stacked_mnist_modes`: distinct modes out of 1000 and reverse KL on Stacked MNIST.
* `nearest_neighbours`: each query's Euclidean nearest neighbour among references (memorization
  checks), in jitted blocks.

Scalar results come back as Python floats/ints, ready for a metric writer.
"""

from __future__ import annotations

import functools
from typing import Dict, Tuple, Union

import jax
import jax.numpy as jnp
import numpy as np
import scipy.special

from gan import batching

ArrayLike = Union[np.ndarray, jax.Array]

# A sample is "high quality" when it lies within this many standard deviations of its nearest mode.
HIGH_QUALITY_NUM_STDS = 3.0

STACKED_MNIST_NUM_MODES = 1000


# ------------------------------------------------------------------------------------------------
# Frechet Inception Distance.
# ------------------------------------------------------------------------------------------------


def _as_float64_matrix(name: str, value: ArrayLike, dim: int) -> np.ndarray:
  matrix = np.asarray(value, dtype=np.float64)
  if matrix.shape != (dim, dim):
    raise ValueError(f"{name} must be a [{dim}, {dim}] covariance matrix to match the mean's "
                     f"dimension {dim}; got shape {matrix.shape}.")
  if not np.all(np.isfinite(matrix)):
    raise ValueError(f"{name} contains NaN or inf; the features it came from are probably broken.")
  return matrix


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
  """Symmetric square root of a symmetric PSD matrix; rounding-level negative eigenvalues -> 0."""
  eigenvalues, eigenvectors = np.linalg.eigh(matrix)
  return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance(mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike,
                     sigma2: ArrayLike) -> float:
  """Frechet (2-Wasserstein squared) distance between two Gaussians, in float64.

  ``||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^{1/2} S2 S1^{1/2})^{1/2})``.

  The reference code (TTUR, pytorch-fid) takes ``tr(sqrtm(S1 S2))`` with `scipy.linalg.sqrtm` on
  the non-symmetric product, adds ``eps * I`` when that goes non-finite and throws away imaginary
  parts. Here the same trace comes from the symmetric matrix ``M = S1^{1/2} S2 S1^{1/2}``
  (similar to ``S1 S2``, so the eigenvalues are the same): ``tr(M^{1/2}) = sum_i sqrt(lambda_i(M))``
  with `eigh`, zeroing eigenvalues below the rounding floor. That is real by
  construction, needs no offset, and stays accurate for the singular covariances one gets with
  fewer samples than feature dimensions.

  Args:
    mu1: ``[D]`` mean of the first Gaussian (e.g. of generated-image features).
    sigma1: ``[D, D]`` covariance of the first Gaussian.
    mu2: ``[D]`` mean of the second Gaussian (e.g. of real-image features).
    sigma2: ``[D, D]`` covariance of the second Gaussian.

  Returns:
    The distance as a Python float (>= 0 up to rounding; symmetric in its two Gaussians).

  References:
    Dowson & Landau 1982, "The Frechet distance between multivariate normal distributions";
    Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
    Equilibrium" (FID).
  """
  mu1 = np.atleast_1d(np.asarray(mu1, dtype=np.float64))
  mu2 = np.atleast_1d(np.asarray(mu2, dtype=np.float64))
  if mu1.ndim != 1 or mu1.shape != mu2.shape:
    raise ValueError(f"mu1 and mu2 must be vectors of the same length; got shapes {mu1.shape} "
                     f"and {mu2.shape}.")
  dim = mu1.shape[0]
  sigma1 = _as_float64_matrix("sigma1", np.atleast_2d(sigma1), dim)
  sigma2 = _as_float64_matrix("sigma2", np.atleast_2d(sigma2), dim)
  # Covariances from a matmul are symmetric only up to rounding; eigh wants exact symmetry.
  sigma1 = 0.5 * (sigma1 + sigma1.T)
  sigma2 = 0.5 * (sigma2 + sigma2.T)

  sqrt_sigma1 = _psd_sqrt(sigma1)
  middle = sqrt_sigma1 @ sigma2 @ sqrt_sigma1
  middle = 0.5 * (middle + middle.T)
  eigenvalues = np.linalg.eigvalsh(middle)
  # Eigenvalues below the rounding floor (as in a numerical rank test) are zero, not noise whose
  # square roots (~1e-8 each) would add up over a rank-deficient covariance's null space.
  floor = dim * np.finfo(np.float64).eps * max(eigenvalues[-1], 0.0)
  trace_sqrt = np.sum(np.sqrt(np.where(eigenvalues > floor, eigenvalues, 0.0)))
  diff = mu1 - mu2
  return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt)


def feature_statistics(features: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
  """Mean and covariance of a feature set, in float64, as the reference FID code computes them.

  Args:
    features: ``[N, D]`` features, one row per sample (N >= 2).

  Returns:
    ``(mu, sigma)``: the ``[D]`` mean and the ``[D, D]`` unbiased (``ddof=1``) covariance,
    matching ``np.cov(features, rowvar=False)`` in TTUR / pytorch-fid.

  References:
    Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
    Equilibrium".
  """
  features = np.asarray(features, dtype=np.float64)
  if features.ndim != 2 or features.shape[0] < 2:
    raise ValueError("features must be an [N, D] array with N >= 2 samples (one row per sample); "
                     f"got shape {features.shape}.")
  return features.mean(axis=0), np.cov(features, rowvar=False, ddof=1).reshape(
      features.shape[1], features.shape[1])


def fid_from_features(features1: ArrayLike, features2: ArrayLike) -> float:
  """FID between two feature sets: `frechet_distance` of their `feature_statistics`.

  Args:
    features1: ``[N1, D]`` features (e.g. Inception pool3 of generated images).
    features2: ``[N2, D]`` features of the other set (e.g. real images).

  Returns:
    The FID as a Python float. It is biased upwards at small N: compare FIDs only at equal N.

  References:
    Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash
    Equilibrium"; Chong & Forsyth 2020, "Effectively Unbiased FID and Inception Score and where
    to find them" (the bias in N).
  """
  return frechet_distance(*feature_statistics(features1), *feature_statistics(features2))


# ------------------------------------------------------------------------------------------------
# Kernel Inception Distance.
# ------------------------------------------------------------------------------------------------


def _cubic_polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  return (x @ y.T / x.shape[1] + 1.0) ** 3


def _unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
  """Unbiased MMD^2 between equal-sized sets: within-set means skip i == j, the cross mean not."""
  m = x.shape[0]
  k_xx = _cubic_polynomial_kernel(x, x)
  k_yy = _cubic_polynomial_kernel(y, y)
  k_xy = _cubic_polynomial_kernel(x, y)
  within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
  return float(within - 2.0 * k_xy.sum() / (m * m))


def kernel_inception_distance(features1: ArrayLike, features2: ArrayLike, num_subsets: int = 100,
                              subset_size: int = 1000,
                              seed: Union[int, np.random.Generator] = 0) -> Tuple[float, float]:
  """KID: unbiased MMD^2 with the kernel ``k(x, y) = (x.y / D + 1)^3``, averaged over subsets.

  Each of `num_subsets` rounds draws `subset_size` rows of each set without replacement and
  computes the unbiased estimator

    ``sum_{i!=j} [k(x_i, x_j) + k(y_i, y_j)] / (m (m - 1)) - 2 sum_{i,j} k(x_i, y_j) / m^2``,

  as clean-fid and torch-fidelity do. Unlike FID it is unbiased, so two sets from the same
  distribution score 0 in expectation (single estimates can be slightly negative).

  Args:
    features1: ``[N1, D]`` features.
    features2: ``[N2, D]`` features with the same D.
    num_subsets: how many random subsets to average over.
    subset_size: rows drawn from each set per subset; clipped to ``min(N1, N2)`` as in clean-fid.
    seed: an int or a `numpy.random.Generator`; the result is a deterministic function of it.

  Returns:
    ``(mean, std)`` over the subsets' MMD^2 estimates (``std`` with ``ddof=0``, as torch-fidelity
    reports it; it is the spread of one subset's estimate, not the standard error of the mean).

  References:
    Binkowski et al. 2018, "Demystifying MMD GANs" (KID);
    Gretton et al. 2012, "A Kernel Two-Sample Test" (the unbiased MMD^2 estimator).
  """
  features1 = np.asarray(features1, dtype=np.float64)
  features2 = np.asarray(features2, dtype=np.float64)
  if features1.ndim != 2 or features2.ndim != 2 or features1.shape[1] != features2.shape[1]:
    raise ValueError("features1 and features2 must be [N, D] arrays with the same D; got shapes "
                     f"{features1.shape} and {features2.shape}.")
  if num_subsets < 1:
    raise ValueError(f"num_subsets must be at least 1; got {num_subsets}.")
  m = min(subset_size, features1.shape[0], features2.shape[0])
  if m < 2:
    raise ValueError("KID needs at least 2 samples per subset (the unbiased estimator divides by "
                     f"m - 1); got subset_size={subset_size} and sets of {features1.shape[0]} and "
                     f"{features2.shape[0]} rows.")
  rng = np.random.default_rng(seed)
  estimates = np.empty(num_subsets)
  for i in range(num_subsets):
    x = features1[rng.choice(features1.shape[0], m, replace=False)]
    y = features2[rng.choice(features2.shape[0], m, replace=False)]
    estimates[i] = _unbiased_mmd2(x, y)
  return float(estimates.mean()), float(estimates.std())


# ------------------------------------------------------------------------------------------------
# Inception Score.
# ------------------------------------------------------------------------------------------------


def class_shares(probs: ArrayLike, confidence: float = 0.9) -> Tuple[float, np.ndarray]:
  """How a classifier sorts samples: ``(confident_fraction, shares)``.

  ``confident_fraction`` is the fraction of samples whose top class probability is at least
  ``confidence``; ``shares[k]`` the fraction of those confident samples labelled ``k`` (all zero
  if none is confident). A generator that drops a class shows a share near 0 where the real data
  has about 1 / K.

  Args:
    probs: ``[N, K]`` class probabilities.
    confidence: the top-probability threshold for a sample to count as labelled.
  """
  probs = np.asarray(probs, np.float64)
  if probs.ndim != 2 or probs.shape[0] == 0:
    raise ValueError(f"probs must be a non-empty [N, K] array; got shape {probs.shape}.")
  confident = probs.max(axis=1) >= confidence
  counts = np.bincount(probs[confident].argmax(axis=1), minlength=probs.shape[1])
  shares = counts / max(int(confident.sum()), 1)
  return float(confident.mean()), shares


def inception_score(probs: ArrayLike, num_splits: int = 10) -> Tuple[float, float]:
  """Inception Score ``exp(E_x KL(p(y|x) || p(y)))`` over splits, in float64.

  As in the original code (Salimans et al.'s ``improved-gan``), the N samples are cut into
  `num_splits` consecutive splits, split i holding rows ``i N // num_splits`` up to
  ``(i + 1) N // num_splits``: every sample is used, and when `num_splits` does not divide N
  the splits differ in size by one. Each split uses its own marginal ``p(y)``, the mean of its
  rows' ``p(y|x)``, and scores ``exp(mean over its rows of KL(p(y|x) || p(y)))``.

  Args:
    probs: ``[N, C]`` class probabilities ``p(y|x)`` (softmax outputs, rows summing to 1).
    num_splits: number of splits (10 in the paper).

  Returns:
    ``(mean, std)`` of the per-split scores. IS lies in ``[1, C]``: 1 when every sample gets the
    same prediction, C when predictions are confident (one-hot) and the classes balanced.

  References:
    Salimans et al. 2016, "Improved Techniques for Training GANs";
    Barratt & Sharma 2018, "A Note on the Inception Score" (its caveats).
  """
  probs = np.asarray(probs, dtype=np.float64)
  if probs.ndim != 2:
    raise ValueError(f"probs must be an [N, C] array of class probabilities; got {probs.shape}.")
  if num_splits < 1 or probs.shape[0] < num_splits:
    raise ValueError(f"Need 1 <= num_splits <= N; got num_splits={num_splits} with "
                     f"N={probs.shape[0]} samples.")
  if np.any(probs < 0) or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
    raise ValueError("probs rows must be probabilities (non-negative, summing to 1); these look "
                     "like logits: apply a softmax first.")
  num = probs.shape[0]
  scores = []
  for i in range(num_splits):
    part = probs[i * num // num_splits:(i + 1) * num // num_splits]
    marginal = part.mean(axis=0, keepdims=True)
    # rel_entr(p, q) = p log(p / q), and 0 where p == 0: one-hot predictions are fine.
    mean_kl = scipy.special.rel_entr(part, marginal).sum(axis=1).mean()
    scores.append(np.exp(mean_kl))
  return float(np.mean(scores)), float(np.std(scores))


# ------------------------------------------------------------------------------------------------
# k-NN manifold metrics: improved precision/recall and density/coverage.
# ------------------------------------------------------------------------------------------------


def _squared_distances(a: jax.Array, b: jax.Array) -> jax.Array:
  sq_a = jnp.sum(a * a, axis=1)
  sq_b = jnp.sum(b * b, axis=1)
  # HIGHEST: on GPUs the default float32 matmul is TF32, whose ~1e-3 relative error moves points
  # across ball boundaries and changes the metrics in the 4th digit.
  cross = jnp.matmul(a, b.T, precision=jax.lax.Precision.HIGHEST)
  return jnp.maximum(sq_a[:, None] + sq_b[None, :] - 2.0 * cross, 0.0)


@functools.partial(jax.jit, static_argnames="k")
def _kth_neighbour_block(rows: jax.Array, row_ids: jax.Array, points: jax.Array,
                         k: int) -> jax.Array:
  """Squared distance from `rows` (= points[row_ids]) to their k-th neighbour, self excluded."""
  dists = _squared_distances(rows, points)
  columns = jnp.arange(points.shape[0])[None, :]
  # Exclude self by index, not by value, so duplicates still count as neighbours (as np.partition
  # over the full row does in the reference code).
  dists = jnp.where(columns == row_ids[:, None], jnp.inf, dists)

  # k - 1 rounds of "remove one copy of the row minimum": exact, multiplicity-aware, and much
  # faster than lax.top_k on CPU.
  def drop_row_minimum(_, d):
    return jnp.where(columns == jnp.argmin(d, axis=1)[:, None], jnp.inf, d)

  dists = jax.lax.fori_loop(0, k - 1, drop_row_minimum, dists)
  return jnp.min(dists, axis=1)


@functools.partial(jax.jit, static_argnames="inclusive")
def _ball_count_block(rows: jax.Array, centres: jax.Array, sq_radii: jax.Array,
                      inclusive: bool) -> jax.Array:
  """How many of the balls (``centres``, squared radii) hold each row: ``d <= r`` or ``d < r``."""
  dists = _squared_distances(rows, centres)
  inside = dists <= sq_radii[None, :] if inclusive else dists < sq_radii[None, :]
  return jnp.sum(inside, axis=1)


@jax.jit
def _nearest_sq_distance_block(rows: jax.Array, points: jax.Array) -> jax.Array:
  return jnp.min(_squared_distances(rows, points), axis=1)


# Each function below is one pass over the rows of a host array, in jitted blocks of one shape
# (one compile) via `batching.batched_apply`; the other set stays on the device whole. Every
# result is per row, so the padding's rows are simply dropped.


def _kth_neighbour_sq_radii(points: np.ndarray, k: int, block_size: int) -> np.ndarray:
  """Squared distance from every row of `points` to its k-th nearest other row."""
  on_device = jnp.asarray(points)
  row_ids = np.arange(points.shape[0], dtype=np.int32)
  return batching.batched_apply(
      lambda block: _kth_neighbour_block(block[0], block[1], on_device, k), (points, row_ids),
      min(block_size, points.shape[0]))


def _ball_counts(rows: np.ndarray, centres: np.ndarray, sq_radii: np.ndarray, inclusive: bool,
                 block_size: int) -> np.ndarray:
  """For every row, how many of the balls around `centres` (squared radii) hold it."""
  centres, sq_radii = jnp.asarray(centres), jnp.asarray(sq_radii)
  return batching.batched_apply(
      lambda block: _ball_count_block(block, centres, sq_radii, inclusive), rows,
      min(block_size, rows.shape[0]))


def _nearest_sq_distances(rows: np.ndarray, points: np.ndarray, block_size: int) -> np.ndarray:
  """For every row, the squared distance to its nearest row of `points`."""
  points = jnp.asarray(points)
  return batching.batched_apply(lambda block: _nearest_sq_distance_block(block, points), rows,
                                min(block_size, rows.shape[0]))


def _centred_feature_sets(real_features: ArrayLike, fake_features: ArrayLike, k: int,
                          block_size: int, min_rows: int) -> Tuple[np.ndarray, np.ndarray]:
  """Validates the inputs; returns both sets in float32, centred on the real mean."""
  real = np.asarray(real_features, dtype=np.float32)
  fake = np.asarray(fake_features, dtype=np.float32)
  if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
    raise ValueError("real_features and fake_features must be [N, D] arrays with the same D; got "
                     f"shapes {real.shape} and {fake.shape}.")
  if not 1 <= k < min_rows:
    raise ValueError(f"k must be in [1, N - 1] so a k-th neighbour other than the point itself "
                     f"exists; got k={k} with sets of {real.shape[0]} (real) and {fake.shape[0]} "
                     "(fake) rows.")
  if block_size < 1:
    raise ValueError(f"block_size must be positive; got {block_size}.")
  # Distances are translation invariant; centring shrinks the norms in |a|^2 + |b|^2 - 2ab and so
  # the float32 cancellation error.
  center = real.mean(axis=0, keepdims=True)
  return real - center, fake - center


def precision_recall(real_features: ArrayLike, fake_features: ArrayLike, k: int = 3,
                     block_size: int = 1000) -> Tuple[float, float]:
  """Improved precision and recall from k-NN hypersphere manifolds in feature space.

  Each real sample gets a ball whose radius is the distance to its k-th nearest real neighbour
  (itself excluded); likewise for fakes. Precision is the fraction of fakes inside at least one
  real ball, recall the fraction of reals inside at least one fake ball. Membership is
  ``distance <= radius``, as in the official code. Distances are computed in float32 in
  ``block_size``-row blocks, so memory is O(block_size * N) and a 10k x 10k evaluation takes
  seconds (four N x N distance passes: the two sets' radii, then each set against the other's
  balls).

  Args:
    real_features: ``[N_real, D]`` features of real data.
    fake_features: ``[N_fake, D]`` features of generated data.
    k: neighbourhood size (3 in the paper).
    block_size: rows per jitted distance block (trades memory for speed).

  Returns:
    ``(precision, recall)``, each in [0, 1].

  References:
    Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric for Assessing Generative
    Models".
  """
  real = np.asarray(real_features)
  fake = np.asarray(fake_features)
  real, fake = _centred_feature_sets(real, fake, k, block_size,
                                     min_rows=min(real.shape[0], fake.shape[0]))
  real_radii = _kth_neighbour_sq_radii(real, k, block_size)
  fake_radii = _kth_neighbour_sq_radii(fake, k, block_size)
  fake_in_real = _ball_counts(fake, real, real_radii, inclusive=True, block_size=block_size) > 0
  real_in_fake = _ball_counts(real, fake, fake_radii, inclusive=True, block_size=block_size) > 0
  return float(np.mean(fake_in_real)), float(np.mean(real_in_fake))


def density_coverage(real_features: ArrayLike, fake_features: ArrayLike, k: int = 5,
                     block_size: int = 1000) -> Tuple[float, float]:
  """Density and coverage: k-NN fidelity/diversity metrics built on the real manifold only.

  With ``r_i`` the distance from real sample i to its k-th nearest real neighbour (itself
  excluded) and ``B_i`` the ball of that radius:

  * density ``= (1 / (k M)) sum_j sum_i 1[fake_j in B_i]``: how many real balls hold each fake, on
    average, over k (about 1 when fakes match the real distribution; can exceed 1);
  * coverage ``= (1 / N) sum_i 1[some fake lies in B_i]``: the fraction of real balls that hold at
    least one fake (1 for identical sets).

  Membership is strict (``distance < radius``), as in the official code.

  Args:
    real_features: ``[N, D]`` features of real data.
    fake_features: ``[M, D]`` features of generated data.
    k: neighbourhood size (5 in the paper).
    block_size: rows per jitted distance block.

  Returns:
    ``(density, coverage)``.

  References:
    Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models".
  """
  real = np.asarray(real_features)
  real, fake = _centred_feature_sets(real, fake_features, k, block_size, min_rows=real.shape[0])
  real_radii = _kth_neighbour_sq_radii(real, k, block_size)
  density = np.mean(_ball_counts(fake, real, real_radii, inclusive=False,
                                 block_size=block_size)) / k
  coverage = np.mean(_nearest_sq_distances(real, fake, block_size) < real_radii)
  return float(density), float(coverage)


# ------------------------------------------------------------------------------------------------
# Mode-collapse metrics: 2-D Gaussian mixtures and Stacked MNIST.
# ------------------------------------------------------------------------------------------------


def _kl_to_uniform(counts: np.ndarray) -> float:
  """KL(counts / sum || uniform over len(counts) bins); empty bins add 0 (0 log 0 = 0)."""
  total = counts.sum()
  if total == 0:
    return float("nan")
  p = counts / total
  return float(np.sum(scipy.special.rel_entr(p, 1.0 / counts.shape[0])))


def mixture_metrics(samples: ArrayLike, means: ArrayLike, sigma: float,
                    num_stds: float = HIGH_QUALITY_NUM_STDS) -> Dict[str, float]:
  """Modes captured, high-quality fraction and reverse KL for a 2-D Gaussian-mixture toy.

  Each sample is assigned to its nearest mode. It is *high quality* when it lies within
  ``num_stds * sigma`` (Euclidean, inclusive) of that mode's mean. A mode is *captured* when at
  least one high-quality sample is assigned to it.

  ``reverse_kl`` is ``KL(p || u) = sum_i p_i log(p_i K)``, where ``p`` is the histogram of the
  *high-quality* samples over the K modes, normalised to sum to 1, and ``u`` is uniform over the
  K modes. Modes with no high-quality sample have ``p_i = 0`` and contribute 0 (``0 log 0 = 0``),
  so the value is finite, 0 for a perfectly balanced model and ``log(K / c)`` when all mass sits
  evenly on c modes. With no high-quality sample at all the histogram is undefined and
  ``reverse_kl`` is NaN.

  Args:
    samples: ``[N, 2]`` generated samples.
    means: ``[K, 2]`` mode means, e.g. ``gan.data.toys.RING.means``.
    sigma: the mixture's per-coordinate standard deviation (``gan.data.toys.RING.std``).
    num_stds: high-quality threshold in standard deviations (3 in VEEGAN/PacGAN).

  Returns:
    A dict with ``modes`` (int, captured modes), ``high_quality`` (float, fraction of all samples
    that are high quality) and ``reverse_kl`` (float, nats).

  References:
    Srivastava et al. 2017, "VEEGAN: Reducing Mode Collapse in GANs using Implicit Variational
    Learning"; Lin et al. 2018, "PacGAN: The Power of Two Samples in Generative Adversarial
    Networks".
  """
  samples = np.asarray(samples, dtype=np.float64)
  means = np.asarray(means, dtype=np.float64)
  if samples.ndim != 2 or means.ndim != 2 or samples.shape[1] != means.shape[1]:
    raise ValueError("samples must be [N, D] and means [K, D] with the same D; got shapes "
                     f"{samples.shape} and {means.shape}.")
  if samples.shape[0] == 0:
    raise ValueError("samples is empty; pass at least one generated sample.")
  if not sigma > 0:
    raise ValueError(f"sigma must be positive (the mixture's standard deviation); got {sigma}.")
  dists = np.linalg.norm(samples[:, None, :] - means[None, :, :], axis=-1)
  nearest = np.argmin(dists, axis=1)
  high_quality = dists[np.arange(samples.shape[0]), nearest] <= num_stds * sigma
  counts = np.bincount(nearest[high_quality], minlength=means.shape[0]).astype(np.float64)
  return {
      "modes": int(np.count_nonzero(counts)),
      "high_quality": float(np.mean(high_quality)),
      "reverse_kl": _kl_to_uniform(counts),
  }


def stacked_mnist_modes(digit_predictions: ArrayLike) -> Dict[str, float]:
  """Distinct modes and reverse KL to uniform for Stacked MNIST (three stacked MNIST digits).

  The mode of a sample is ``100 d_0 + 10 d_1 + d_2`` for its per-channel predicted digits, one of
  1000. ``reverse_kl = KL(p_model || uniform) = sum_m p_m log(1000 p_m)`` over the histogram of
  modes; empty modes contribute 0 (``0 log 0 = 0``).

  Args:
    digit_predictions: ``[N, 3]`` integer digit predictions in 0..9, one column per channel (from
      a pretrained MNIST classifier applied channel by channel; not this function's job).

  Returns:
    A dict with ``modes`` (int, distinct modes hit, at most 1000) and ``reverse_kl`` (float,
    nats; 0 for a perfectly uniform histogram over all 1000 modes, ``log 1000`` for one mode).

  References:
    Metz et al. 2017, "Unrolled Generative Adversarial Networks" (Stacked MNIST);
    Srivastava et al. 2017, "VEEGAN"; Lin et al. 2018, "PacGAN".
  """
  predictions = np.asarray(digit_predictions)
  if predictions.ndim != 2 or predictions.shape[1] != 3 or predictions.shape[0] == 0:
    raise ValueError("digit_predictions must be a non-empty [N, 3] array (one predicted digit per "
                     f"channel); got shape {predictions.shape}.")
  if not np.issubdtype(predictions.dtype, np.integer):
    raise ValueError("digit_predictions must be integer class labels, not "
                     f"{predictions.dtype} (take the argmax of the classifier's logits).")
  if predictions.min() < 0 or predictions.max() > 9:
    raise ValueError("digit_predictions must lie in 0..9; got values in "
                     f"[{predictions.min()}, {predictions.max()}].")
  mode_ids = predictions[:, 0] * 100 + predictions[:, 1] * 10 + predictions[:, 2]
  counts = np.bincount(mode_ids, minlength=STACKED_MNIST_NUM_MODES).astype(np.float64)
  return {"modes": int(np.count_nonzero(counts)), "reverse_kl": _kl_to_uniform(counts)}


# ------------------------------------------------------------------------------------------------
# Nearest neighbours.
# ------------------------------------------------------------------------------------------------


def nearest_neighbours(queries: ArrayLike, references: ArrayLike, chunk: int = 1000
                       ) -> Tuple[np.ndarray, np.ndarray]:
  """Euclidean nearest neighbour of each query among references: ``(distances, indices)``.

  Args:
    queries: ``[N, ...]``, flattened per example.
    references: ``[M, ...]`` with the same per-example size.
    chunk: queries per jitted block (the last block is padded to the same size).

  Returns:
    ``distances [N]`` (float32) and ``indices [N]`` (int32) into ``references``.

  Raises:
    ValueError: no references, a different size per example, or a non-positive ``chunk``.
  """
  queries, references = np.asarray(queries, np.float32), np.asarray(references, np.float32)
  queries = queries.reshape(queries.shape[0], int(np.prod(queries.shape[1:])))
  references = references.reshape(references.shape[0], int(np.prod(references.shape[1:])))
  if queries.shape[1] != references.shape[1] or references.shape[0] == 0:
    raise ValueError("nearest_neighbours needs references [M >= 1, ...] with the queries' size per "
                     f"example; got {queries.shape[1]} values per query and references of shape "
                     f"{references.shape}.")
  if chunk < 1:
    raise ValueError(f"chunk must be a positive number of queries; got {chunk}.")
  references = jnp.asarray(references)
  reference_norms = jnp.sum(references * references, axis=-1)

  @jax.jit
  def search(q):
    squared = (jnp.sum(q * q, axis=-1, keepdims=True) + reference_norms[None] -
               2.0 * q @ references.T)
    index = jnp.argmin(squared, axis=-1)
    # The distance itself is recomputed exactly: the expansion above loses digits near 0.
    difference = q - references[index]
    return jnp.sqrt(jnp.sum(difference * difference, axis=-1)), index

  if queries.shape[0] == 0:
    return np.zeros((0,), np.float32), np.zeros((0,), np.int32)
  return batching.batched_apply(search, queries, min(chunk, queries.shape[0]))
