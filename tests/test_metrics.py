"""Tests for gan/metrics.py: closed forms, hand-made sample sets and brute-force references."""

import itertools

import numpy as np
import pytest
import scipy.linalg

from gan import metrics
from gan.data import toys


def _random_spd(rng, dim, jitter=0.1):
  a = rng.standard_normal((dim, dim))
  return a @ a.T / dim + jitter * np.eye(dim)


def _random_rotation(rng, dim):
  q, r = np.linalg.qr(rng.standard_normal((dim, dim)))
  return q * np.sign(np.diag(r))


# ------------------------------------------------------------------------------------------------
# FID.
# ------------------------------------------------------------------------------------------------


def test_frechet_distance_diagonal_covariances_closed_form():
  rng = np.random.default_rng(0)
  mu1, mu2 = rng.standard_normal(64), rng.standard_normal(64)
  var1, var2 = rng.uniform(0.1, 3.0, 64), rng.uniform(0.1, 3.0, 64)
  # Diagonal covariances commute: the matrix square root is elementwise.
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
  got = metrics.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
  np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_frechet_distance_commuting_rotated_covariances_closed_form():
  rng = np.random.default_rng(1)
  q = _random_rotation(rng, 64)
  var1, var2 = rng.uniform(0.1, 3.0, 64), rng.uniform(0.1, 3.0, 64)
  sigma1, sigma2 = (q * var1) @ q.T, (q * var2) @ q.T
  mu1, mu2 = rng.standard_normal(64), rng.standard_normal(64)
  expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(var1) - np.sqrt(var2)) ** 2)
  np.testing.assert_allclose(metrics.frechet_distance(mu1, sigma1, mu2, sigma2), expected,
                             rtol=1e-6)


def test_frechet_distance_scaled_covariance_closed_form():
  # S2 = c^2 S1  =>  (S1^1/2 S2 S1^1/2)^1/2 = c S1  =>  trace term = (1 - c)^2 tr(S1).
  rng = np.random.default_rng(2)
  sigma1 = _random_spd(rng, 64)
  scale = 1.7
  mu1, mu2 = rng.standard_normal(64), rng.standard_normal(64)
  expected = np.sum((mu1 - mu2) ** 2) + (1.0 - scale) ** 2 * np.trace(sigma1)
  got = metrics.frechet_distance(mu1, sigma1, mu2, scale ** 2 * sigma1)
  np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_frechet_distance_one_dimensional_is_squared_w2():
  got = metrics.frechet_distance([1.0], [[4.0]], [-2.0], [[0.25]])
  np.testing.assert_allclose(got, 3.0 ** 2 + (2.0 - 0.5) ** 2, rtol=1e-12)


def test_frechet_distance_matches_scipy_sqrtm_formula_on_general_spd():
  rng = np.random.default_rng(3)
  for dim in (8, 64):
    sigma1, sigma2 = _random_spd(rng, dim), _random_spd(rng, dim)
    mu1, mu2 = rng.standard_normal(dim), rng.standard_normal(dim)
    # The TTUR / pytorch-fid formula.
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2).real
    reference = (np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2)
                 - 2.0 * np.trace(covmean))
    got = metrics.frechet_distance(mu1, sigma1, mu2, sigma2)
    np.testing.assert_allclose(got, reference, rtol=1e-9)
    np.testing.assert_allclose(metrics.frechet_distance(mu2, sigma2, mu1, sigma1), got, rtol=1e-9)


def test_frechet_distance_of_identical_statistics_is_zero():
  rng = np.random.default_rng(4)
  sigma, mu = _random_spd(rng, 64), rng.standard_normal(64)
  assert abs(metrics.frechet_distance(mu, sigma, mu, sigma)) < 1e-9 * np.trace(sigma)


def test_frechet_distance_handles_singular_covariances():
  # Fewer samples than dimensions: rank-deficient covariances, as with small FID evaluations.
  rng = np.random.default_rng(5)
  f1, f2 = rng.standard_normal((20, 64)), rng.standard_normal((20, 64))
  mu1, sigma1 = metrics.feature_statistics(f1)
  mu2, sigma2 = metrics.feature_statistics(f2)
  got = metrics.frechet_distance(mu1, sigma1, mu2, sigma2)
  # tr((S1 S2)^1/2) from the eigenvalues of the non-symmetric product (real and >= 0 in exact
  # arithmetic; rank 19 here, so 45 of them are rounding noise around 0).
  eigenvalues = np.clip(np.linalg.eigvals(sigma1 @ sigma2).real, 0.0, None)
  reference = (np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2)
               - 2.0 * np.sum(np.sqrt(eigenvalues)))
  np.testing.assert_allclose(got, reference, rtol=1e-6)
  assert abs(metrics.frechet_distance(mu1, sigma1, mu1, sigma1)) < 1e-6


def test_feature_statistics_and_fid_of_shifted_features():
  rng = np.random.default_rng(6)
  features = rng.standard_normal((500, 16)).astype(np.float32)
  mu, sigma = metrics.feature_statistics(features)
  centred = features.astype(np.float64) - features.astype(np.float64).mean(axis=0)
  assert mu.dtype == np.float64 and sigma.dtype == np.float64
  np.testing.assert_allclose(mu, features.astype(np.float64).mean(axis=0), rtol=1e-12)
  np.testing.assert_allclose(sigma, centred.T @ centred / (500 - 1), rtol=1e-10)
  # A pure shift leaves the covariance unchanged: FID = ||shift||^2.
  shift = rng.standard_normal(16)
  np.testing.assert_allclose(metrics.fid_from_features(features, features + shift),
                             np.sum(shift.astype(np.float32).astype(np.float64) ** 2), rtol=1e-5)


def test_frechet_distance_rejects_mismatched_shapes():
  with pytest.raises(ValueError, match="covariance"):
    metrics.frechet_distance(np.zeros(3), np.eye(4), np.zeros(3), np.eye(3))
  with pytest.raises(ValueError, match="same length"):
    metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


# ------------------------------------------------------------------------------------------------
# KID.
# ------------------------------------------------------------------------------------------------


def _direct_unbiased_mmd2(x, y):
  m, dim = x.shape
  kernel = lambda a, b: (np.dot(a, b) / dim + 1.0) ** 3
  within = sum(kernel(x[i], x[j]) + kernel(y[i], y[j])
               for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
  cross = sum(kernel(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
  return within - 2.0 * cross


def test_kid_matches_direct_double_loop():
  rng = np.random.default_rng(7)
  x = rng.standard_normal((12, 5))
  y = rng.standard_normal((12, 5)) + 0.3
  # With subset_size = N every subset is a permutation of the whole set: the same estimate.
  mean, std = metrics.kernel_inception_distance(x, y, num_subsets=3, subset_size=12, seed=0)
  np.testing.assert_allclose(mean, _direct_unbiased_mmd2(x, y), rtol=1e-10)
  assert std < 1e-10


def test_kid_same_distribution_is_near_zero_and_different_is_positive():
  rng = np.random.default_rng(8)
  f1 = rng.standard_normal((600, 16))
  f2 = rng.standard_normal((600, 16))
  same_mean, same_std = metrics.kernel_inception_distance(f1, f2, num_subsets=20,
                                                          subset_size=200, seed=0)
  assert abs(same_mean) < same_std
  assert abs(same_mean) < 0.02
  shifted_mean, shifted_std = metrics.kernel_inception_distance(f1, f2 + 1.0, num_subsets=20,
                                                                subset_size=200, seed=0)
  assert shifted_mean > 0.5
  assert shifted_mean > 10 * shifted_std


def test_kid_subsets_are_drawn_from_the_seed_as_documented():
  rng = np.random.default_rng(9)
  f1, f2 = rng.standard_normal((40, 4)), rng.standard_normal((30, 4)) + 0.2
  # Each subset draws rows of features1, then of features2, without replacement, from one
  # generator made from the seed.
  draws = np.random.default_rng(3)
  estimates = []
  for _ in range(4):
    x = f1[draws.choice(40, 10, replace=False)]
    y = f2[draws.choice(30, 10, replace=False)]
    estimates.append(_direct_unbiased_mmd2(x, y))
  mean, std = metrics.kernel_inception_distance(f1, f2, num_subsets=4, subset_size=10, seed=3)
  np.testing.assert_allclose(mean, np.mean(estimates), rtol=1e-10)
  np.testing.assert_allclose(std, np.std(estimates), rtol=1e-10)
  assert (mean, std) == metrics.kernel_inception_distance(f1, f2, num_subsets=4, subset_size=10,
                                                          seed=np.random.default_rng(3))
  assert std > 1e-3  # The subsets differ, so the check above sees the draw order.


def test_kid_rejects_tiny_subsets():
  with pytest.raises(ValueError, match="at least 2 samples.*sets of 1 and 5 rows"):
    metrics.kernel_inception_distance(np.zeros((1, 4)), np.zeros((5, 4)))


# ------------------------------------------------------------------------------------------------
# Inception Score.
# ------------------------------------------------------------------------------------------------


def test_inception_score_balanced_one_hot_is_num_classes():
  num_classes, num_splits = 10, 5
  probs = np.eye(num_classes)[np.arange(num_classes * num_splits * 3) % num_classes]
  mean, std = metrics.inception_score(probs, num_splits=num_splits)
  np.testing.assert_allclose(mean, num_classes, rtol=1e-12)
  assert std < 1e-12


def test_inception_score_identical_predictions_is_one():
  probs = np.tile(np.array([0.7, 0.2, 0.1]), (40, 1))
  mean, std = metrics.inception_score(probs, num_splits=4)
  np.testing.assert_allclose(mean, 1.0, rtol=1e-12)
  assert std < 1e-12


def test_inception_score_hand_computed():
  # p(y|x) in {[.5,.5,0,0], [0,0,.5,.5]}: p(y) uniform, each KL = log 2, IS = 2.
  probs = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]] * 4)
  mean, _ = metrics.inception_score(probs, num_splits=1)
  np.testing.assert_allclose(mean, 2.0, rtol=1e-12)


def _one_hot_split_score(labels, num_classes=2):
  """IS of one split of one-hot predictions: prod_c (n / n_c)^(n_c / n) over the classes present."""
  counts = np.bincount(labels, minlength=num_classes)
  n = counts.sum()
  return np.prod([(n / c) ** (c / n) for c in counts if c])


def test_inception_score_uneven_splits_hand_computed():
  # N = 10 in 3 splits: rows [0, 3), [3, 6), [6, 10) (split i from i N // 3 to (i + 1) N // 3).
  labels = np.array([0, 0, 1, 1, 1, 1, 0, 1, 0, 1])
  mean, std = metrics.inception_score(np.eye(2)[labels], num_splits=3)
  # Per split, its own marginal: (2/3, 1/3) -> (27/4)^(1/3); all one class -> 1; (1/2, 1/2) -> 2.
  scores = [(27.0 / 4.0) ** (1.0 / 3.0), 1.0, 2.0]
  np.testing.assert_allclose(mean, np.mean(scores), rtol=1e-12)
  np.testing.assert_allclose(std, np.std(scores), rtol=1e-12)
  np.testing.assert_allclose(scores[:2], [_one_hot_split_score(labels[:3]),
                                          _one_hot_split_score(labels[3:6])], rtol=1e-12)
  # What the usual mistakes would give, so that the check above tells them apart:
  # dropping the remainder (splits of N // 3 = 3 rows: the last split is rows 6..8)...
  dropped = [scores[0], scores[1], _one_hot_split_score(labels[6:9])]
  assert abs(np.mean(dropped) - mean) > 0.03
  # ...or one marginal over all N rows, p(y) = (0.4, 0.6), in every split.
  kl_to_global = -np.log(np.where(labels == 0, 0.4, 0.6))
  global_marginal = [np.exp(kl_to_global[a:b].mean()) for a, b in ((0, 3), (3, 6), (6, 10))]
  assert abs(np.mean(global_marginal) - mean) > 0.03


def test_inception_score_uneven_splits_soft_probabilities():
  probs = np.random.default_rng(12).dirichlet(np.full(4, 0.5), size=10)
  expected = []
  for a, b in ((0, 3), (3, 6), (6, 10)):  # i * 10 // 3 for i = 0..3.
    part = probs[a:b]
    marginal = part.mean(axis=0)
    expected.append(np.exp(np.mean(np.sum(part * np.log(part / marginal), axis=1))))
  mean, std = metrics.inception_score(probs, num_splits=3)
  np.testing.assert_allclose([mean, std], [np.mean(expected), np.std(expected)], rtol=1e-12)


def test_inception_score_rejects_logits():
  with pytest.raises(ValueError, match="softmax"):
    metrics.inception_score(np.random.default_rng(0).standard_normal((20, 5)), num_splits=2)


# ------------------------------------------------------------------------------------------------
# Precision / recall and density / coverage.
# ------------------------------------------------------------------------------------------------


def _reference_manifold_metrics(real, fake, k):
  """Brute force, float64, following the official codes (<= for P/R, < for D/C)."""
  real, fake = real.astype(np.float64), fake.astype(np.float64)
  dist = lambda a, b: np.sqrt(np.sum((a[:, None] - b[None]) ** 2, axis=-1))
  # Row's (k+1)-th smallest distance, self (0) included = k-th neighbour excluding self.
  radius = lambda x: np.partition(dist(x, x), k, axis=1)[:, k]
  real_radii, fake_radii = radius(real), radius(fake)
  d = dist(real, fake)
  return dict(
      precision=np.mean(np.any(d <= real_radii[:, None], axis=0)),
      recall=np.mean(np.any(d <= fake_radii[None, :], axis=1)),
      density=np.mean(np.sum(d < real_radii[:, None], axis=0)) / k,
      coverage=np.mean(d.min(axis=1) < real_radii),
  )


def test_precision_recall_density_coverage_match_brute_force():
  rng = np.random.default_rng(10)
  real = rng.standard_normal((200, 8)).astype(np.float32)
  fake = (1.3 * rng.standard_normal((150, 8)) + 0.4).astype(np.float32)
  # block_size 64 leaves a padded last block in every pass.
  precision, recall = metrics.precision_recall(real, fake, k=3, block_size=64)
  density, coverage = metrics.density_coverage(real, fake, k=5, block_size=64)
  pr_reference = _reference_manifold_metrics(real, fake, k=3)
  dc_reference = _reference_manifold_metrics(real, fake, k=5)
  assert precision == pr_reference["precision"]
  assert recall == pr_reference["recall"]
  np.testing.assert_allclose(density, dc_reference["density"], rtol=1e-6)
  assert coverage == dc_reference["coverage"]
  assert 0.0 < precision < 1.0 and 0.0 < recall < 1.0


def test_precision_recall_hand_made_one_dimensional():
  # k = 1. Real balls: 0 -> r=1, 1 -> r=1, 3 -> r=2. Fake balls: 0.5 and 10 both r=9.5.
  real = np.array([[0.0], [1.0], [3.0]])
  fake = np.array([[0.5], [10.0]])
  assert metrics.precision_recall(real, fake, k=1) == (0.5, 1.0)
  # Fake 0.5 lies in the balls of 0 and 1, fake 10 in none: density (2 + 0) / (1 * 2) = 1.
  # Reals 0 and 1 have a fake within their radius, real 3 (nearest fake 2.5 > 2) does not.
  density, coverage = metrics.density_coverage(real, fake, k=1)
  np.testing.assert_allclose(density, 1.0)
  np.testing.assert_allclose(coverage, 2.0 / 3.0)


def test_manifold_metrics_identical_and_disjoint_sets():
  # Same shapes and block size as the brute-force test, so the jitted blocks are reused.
  rng = np.random.default_rng(11)
  real = rng.standard_normal((200, 8)).astype(np.float32)
  assert metrics.precision_recall(real, real, block_size=64) == (1.0, 1.0)
  density, coverage = metrics.density_coverage(real, real, block_size=64)
  assert coverage == 1.0
  # Each ball holds its centre and the k - 1 nearer neighbours; the k-th lies on its boundary,
  # outside in exact arithmetic (strict membership), so density = k N / (k N) = 1. In float32 a
  # few boundary points may land either side.
  np.testing.assert_allclose(density, 1.0, atol=5 / (5 * 200))
  far = real + 100.0
  assert metrics.precision_recall(real, far, block_size=64) == (0.0, 0.0)
  assert metrics.density_coverage(real, far, block_size=64) == (0.0, 0.0)


def test_precision_recall_rejects_k_too_large():
  with pytest.raises(ValueError, match="k must be"):
    metrics.precision_recall(np.zeros((3, 2)), np.zeros((10, 2)), k=3)


# ------------------------------------------------------------------------------------------------
# Mode-collapse metrics.
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("means, sigma", [(toys.RING.means, toys.RING.std),
                                          (toys.GRID.means, toys.GRID.std)],
                         ids=["ring", "grid"])
def test_mixture_metrics_hand_made_samples(means, sigma):
  num_modes = means.shape[0]
  # Ten samples on every mode: all captured, all high quality, balanced.
  perfect = metrics.mixture_metrics(np.repeat(means, 10, axis=0), means, sigma)
  assert perfect["modes"] == num_modes and perfect["high_quality"] == 1.0
  assert abs(perfect["reverse_kl"]) < 1e-12
  # Full collapse onto one mode (inside 3 sigma): one mode, reverse KL = log K.
  collapsed = metrics.mixture_metrics(np.tile(means[3] + 2.0 * sigma, (50, 1)), means, sigma)
  assert collapsed["modes"] == 1 and collapsed["high_quality"] == 1.0
  np.testing.assert_allclose(collapsed["reverse_kl"], np.log(num_modes), rtol=1e-12)
  # Off-mode samples only (4 sigma from a mode, and far away): nothing captured.
  off = np.concatenate([np.tile(means[0] + 4.0 * sigma, (5, 1)), np.full((5, 2), 50.0)])
  missed = metrics.mixture_metrics(off, means, sigma)
  assert missed["modes"] == 0 and missed["high_quality"] == 0.0
  assert np.isnan(missed["reverse_kl"])


def test_mixture_metrics_partial_capture_hand_computed():
  means, sigma = toys.RING.means, toys.RING.std
  samples = np.concatenate([
      np.tile(means[0], (3, 1)),  # 3 high-quality samples on mode 0
      means[1:2] + [0.0, 0.02],  # 1 high-quality sample on mode 1 (2 sigma off)
      np.zeros((4, 2)),  # 4 samples at the origin: low quality
  ])
  result = metrics.mixture_metrics(samples, means, sigma)
  assert result["modes"] == 2
  assert result["high_quality"] == 0.5
  # Histogram of high-quality samples: (3/4, 1/4, 0, ..., 0); empty modes contribute 0.
  expected_kl = 0.75 * np.log(0.75 * 8) + 0.25 * np.log(0.25 * 8)
  np.testing.assert_allclose(result["reverse_kl"], expected_kl, rtol=1e-12)


def test_stacked_mnist_modes_hand_made():
  all_modes = np.array(list(itertools.product(range(10), repeat=3)))
  result = metrics.stacked_mnist_modes(np.concatenate([all_modes, all_modes]))
  assert result["modes"] == 1000 and abs(result["reverse_kl"]) < 1e-12
  collapsed = metrics.stacked_mnist_modes(np.tile([4, 0, 7], (20, 1)))
  assert collapsed["modes"] == 1
  np.testing.assert_allclose(collapsed["reverse_kl"], np.log(1000), rtol=1e-12)
  # Channel order matters: (1,2,3) and (3,2,1) are different modes.
  mixed = metrics.stacked_mnist_modes(np.array([[1, 2, 3]] * 3 + [[3, 2, 1]]))
  assert mixed["modes"] == 2
  np.testing.assert_allclose(mixed["reverse_kl"],
                             0.75 * np.log(0.75 * 1000) + 0.25 * np.log(0.25 * 1000), rtol=1e-12)


def test_stacked_mnist_modes_rejects_bad_predictions():
  with pytest.raises(ValueError, match="integer"):
    metrics.stacked_mnist_modes(np.zeros((4, 3)))
  with pytest.raises(ValueError, match="0..9"):
    metrics.stacked_mnist_modes(np.array([[0, 10, 2]]))
  with pytest.raises(ValueError, match=r"\[N, 3\]"):
    metrics.stacked_mnist_modes(np.zeros((4, 10), dtype=int))


# ------------------------------------------------------------------------------------------------
# Nearest neighbours.
# ------------------------------------------------------------------------------------------------


def test_nearest_neighbours_match_brute_force():
  rng = np.random.default_rng(13)
  queries = rng.standard_normal((23, 3, 2)).astype(np.float32)  # Flattened to 6 per example.
  references = rng.standard_normal((17, 3, 2)).astype(np.float32)
  references[5] = queries[4]  # An exact copy: distance 0, found.
  distances, indices = metrics.nearest_neighbours(queries, references, chunk=5)  # 5 + ... + 3.
  flat_q = queries.reshape(23, -1).astype(np.float64)
  flat_r = references.reshape(17, -1).astype(np.float64)
  all_distances = np.linalg.norm(flat_q[:, None] - flat_r[None], axis=-1)
  np.testing.assert_array_equal(indices, np.argmin(all_distances, axis=1))
  np.testing.assert_allclose(distances, all_distances.min(axis=1), rtol=1e-6, atol=1e-6)
  assert indices[4] == 5 and distances[4] == 0.0
  assert distances.shape == indices.shape == (23,) and distances.dtype == np.float32
  # The chunk changes only the schedule.
  again = metrics.nearest_neighbours(queries, references, chunk=100)
  np.testing.assert_array_equal(again[1], indices)
  np.testing.assert_allclose(again[0], distances, rtol=1e-6)


def test_nearest_neighbours_of_no_queries():
  distances, indices = metrics.nearest_neighbours(np.zeros((0, 2, 2)), np.ones((3, 4)))
  assert distances.shape == indices.shape == (0,)


def test_nearest_neighbours_reject_mismatched_examples():
  with pytest.raises(ValueError, match="6 values per query and references of shape"):
    metrics.nearest_neighbours(np.zeros((2, 3, 2)), np.zeros((4, 5)))
  with pytest.raises(ValueError, match="M >= 1"):
    metrics.nearest_neighbours(np.zeros((2, 3)), np.zeros((0, 3)))


def test_kid_edge_sizes_and_each_shape_check():
  rng = np.random.default_rng(3)
  a, b = rng.normal(size=(6, 3)), rng.normal(1.0, 1.0, size=(6, 3))
  # One subset (std 0) and subsets of two rows are valid.
  mean, std = metrics.kernel_inception_distance(a, b, num_subsets=1, subset_size=6)
  assert std == 0.0
  np.testing.assert_allclose(mean, metrics._unbiased_mmd2(a, b), rtol=1e-12)  # pylint: disable=protected-access
  assert np.isfinite(metrics.kernel_inception_distance(a, b, num_subsets=3, subset_size=2)[0])
  for bad_a, bad_b in [(a[:, :2], b), (a[None], b), (a, b[None])]:
    with pytest.raises(ValueError, match="must be \\[N, D\\] arrays with the same D"):
      metrics.kernel_inception_distance(bad_a, bad_b)


def test_kid_is_computed_in_float64_whatever_the_input():
  # Features far from the origin: the cubic kernel's terms are ~1e18 and cancel; float32 loses
  # the difference entirely.
  rng = np.random.default_rng(0)
  a = (1000.0 + rng.normal(size=(50, 4))).astype(np.float32)
  b = (1000.0 + rng.normal(0.5, 1.0, size=(50, 4))).astype(np.float32)
  in_float64 = metrics.kernel_inception_distance(a.astype(np.float64), b.astype(np.float64),
                                                 num_subsets=2, subset_size=50)
  np.testing.assert_allclose(metrics.kernel_inception_distance(a, b, num_subsets=2,
                                                               subset_size=50),
                             in_float64, rtol=1e-9)


def test_inception_score_default_is_ten_splits():
  probs = np.random.default_rng(1).dirichlet(np.ones(4), size=37)
  assert metrics.inception_score(probs) == metrics.inception_score(probs, num_splits=10)
  assert metrics.inception_score(probs) != metrics.inception_score(probs, num_splits=11)


def test_mixture_metrics_with_asymmetric_modes():
  # Modes whose negatives are not modes: a sample must be matched to its own mode.
  means = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]])
  samples = np.array([[1.0, 0.01], [0.02, 2.0], [0.0, 1.98], [3.0, 3.03], [2.0, 2.0]])
  result = metrics.mixture_metrics(samples, means, sigma=0.01)
  # Within 3 sigma (0.03) of their nearest mode: the first four; [2, 2] is nowhere near one.
  assert result["modes"] == 3
  np.testing.assert_allclose(result["high_quality"], 4 / 5)
  counts = np.array([1, 2, 1]) / 4
  np.testing.assert_allclose(result["reverse_kl"], np.sum(counts * np.log(counts * 3)),
                             rtol=1e-12)


def test_nearest_neighbours_with_one_query_per_block():
  queries = np.array([[0.0, 0.0], [5.0, 5.0], [1.0, 0.0]])
  references = np.array([[1.0, 1.0], [5.0, 4.0], [0.0, 0.1]])
  distances, indices = metrics.nearest_neighbours(queries, references, chunk=1)
  np.testing.assert_array_equal(indices, [2, 1, 0])
  np.testing.assert_allclose(distances, [0.1, 1.0, 1.0], rtol=1e-6)


def test_class_shares_by_hand():
  probs = np.array([[0.95, 0.05, 0.0], [0.1, 0.9, 0.0], [0.5, 0.5, 0.0], [0.0, 0.05, 0.95],
                    [0.92, 0.0, 0.08]])
  fraction, shares = metrics.class_shares(probs, confidence=0.9)
  assert fraction == 4 / 5  # the third sample is not confident
  np.testing.assert_array_equal(shares, [2 / 4, 1 / 4, 1 / 4])
  fraction, shares = metrics.class_shares(probs, confidence=0.99)
  assert fraction == 0.0 and not shares.any()
  with pytest.raises(ValueError, match="non-empty"):
    metrics.class_shares(np.zeros((0, 3)))
