"""Tests for the figure studies and their helpers: gan/toy_analysis.py,
gan/studies/goodfellow_fig1.py and gan/studies/saturation.py (and their mains' configs)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from experiments import goodfellow_fig1 as fig1_main
from experiments import saturation as saturation_main
from gan import losses
from gan import toy_analysis
from gan.studies import goodfellow_fig1
from gan.studies import saturation

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_gaussian_pdf_matches_scipy():
  x = np.linspace(-3.0, 9.0, 41)
  np.testing.assert_allclose(toy_analysis.gaussian_pdf(x, 4.0, 0.5),
                             stats.norm.pdf(x, 4.0, 0.5), rtol=1e-5, atol=1e-7)
  with pytest.raises(ValueError, match="std must be positive"):
    toy_analysis.gaussian_pdf(x, 0.0, 0.0)


def test_optimal_discriminator_of_two_unit_gaussians_is_a_sigmoid():
  # p_data = N(0, 1), p_g = N(1, 1): p_g / p_data = exp(x - 1/2), so D*(x) = sigmoid(1/2 - x).
  x = np.linspace(-4.0, 5.0, 37)
  d_star = toy_analysis.optimal_discriminator(toy_analysis.gaussian_pdf(x, 0.0, 1.0),
                                              toy_analysis.gaussian_pdf(x, 1.0, 1.0))
  np.testing.assert_allclose(d_star, 1.0 / (1.0 + np.exp(x - 0.5)), rtol=1e-5, atol=1e-6)


def test_optimal_discriminator_is_one_half_where_the_densities_agree_or_vanish():
  p = np.array([0.0, 1e-3, 0.4])
  np.testing.assert_allclose(toy_analysis.optimal_discriminator(p, p), [0.5, 0.5, 0.5])
  np.testing.assert_allclose(toy_analysis.optimal_discriminator([0.2, 0.0], [0.0, 0.3]), [1.0, 0.0])


def test_kde_integrates_to_one_and_recovers_the_density():
  samples = np.random.default_rng(0).normal(4.0, 0.5, size=4000)
  x = np.linspace(0.0, 8.0, 2001)
  density = np.asarray(toy_analysis.gaussian_kde(samples, x))
  assert np.trapezoid(density, x) == pytest.approx(1.0, abs=1e-3)
  # 4,000 samples: the estimate is within a few hundredths of the true peak density 0.80.
  assert np.max(np.abs(density - stats.norm.pdf(x, 4.0, 0.5))) < 0.06


def test_kde_of_one_sample_is_its_kernel():
  x = np.linspace(-1.0, 3.0, 9)
  np.testing.assert_allclose(toy_analysis.gaussian_kde(np.array([1.0]), x, bandwidth=0.3),
                             stats.norm.pdf(x, 1.0, 0.3), rtol=1e-5)


def test_silverman_bandwidth_closed_form():
  # Two points: sigma = sqrt(2)/2 * |a - b|, IQR = |a - b| / 2 (linear interpolation).
  samples = np.array([0.0, 2.0])
  expected = 0.9 * min(np.sqrt(2.0), 1.0 / 1.34) * 2 ** -0.2
  assert toy_analysis.silverman_bandwidth(samples) == pytest.approx(expected)
  with pytest.raises(ValueError, match="at least 2 samples"):
    toy_analysis.silverman_bandwidth(np.array([1.0]))


@pytest.mark.parametrize("kind", saturation.KINDS)
@pytest.mark.parametrize("use_jit", [False, True])
def test_analytic_gradient_magnitude_matches_jax_grad_of_library_losses(kind, use_jit):
  d = jnp.array([1e-4, 1e-2, 0.3, 0.5, 0.9, 0.999])
  logits = jnp.log(d) - jnp.log1p(-d)
  per_example = jax.jit(saturation.per_example_logit_grads, static_argnums=1) if use_jit else (
      saturation.per_example_logit_grads)
  measured = per_example(logits, kind)
  np.testing.assert_allclose(np.abs(measured), saturation.analytic_logit_grad_magnitude(d, kind),
                             rtol=1e-4, atol=1e-7)
  # Per example is the batch-mean loss's gradient times the batch size.
  batch_grad = jax.grad(lambda l: losses.generator_loss(l, kind))(logits)
  np.testing.assert_allclose(measured, batch_grad * d.shape[0], rtol=1e-5, atol=1e-8)
  expected = {"saturating": [1e-4, 1e-2, 0.3, 0.5, 0.9, 0.999],
              "non_saturating": [0.9999, 0.99, 0.7, 0.5, 0.1, 0.001]}[kind]
  np.testing.assert_allclose(np.abs(measured), expected, rtol=2e-3)


def test_saturation_rejects_losses_that_do_not_act_on_d():
  with pytest.raises(ValueError, match="saturating, non_saturating"):
    saturation.analytic_logit_grad_magnitude(jnp.array([0.5]), "hinge")


def test_summarize_by_hand():
  d = np.array([1e-5, 0.2, 0.6])
  batch = {"d_g_z": d, "grad_saturating": d, "grad_non_saturating": 1.0 - d + [0.0, 0.0, 0.01]}
  summary = saturation.summarize({"fresh": batch, "after_d_steps": batch, "d_real": 0.75},
                                 d_steps=7, batch_size=3)
  assert summary["d_only_steps"] == 7 and summary["batch_size"] == 3
  assert summary["after_d_steps_mean_d_real"] == 0.75
  fresh = summary["fresh"]
  assert fresh["median_d_g_z"] == 0.2 and fresh["min_d_g_z"] == 1e-5
  assert fresh["num_below_axis"] == 1  # 1e-5 < D_MIN = 1e-4
  assert fresh["median_grad_saturating"] == 0.2
  assert fresh["median_grad_non_saturating"] == pytest.approx(0.8)
  assert fresh["max_abs_error_vs_analytic"] == pytest.approx(0.01, rel=1e-5)  # float32


def test_data_gaussian_of_the_toys():
  config = fig1_main.default_config()
  assert goodfellow_fig1.data_gaussian(config) == (4.0, 0.5)
  config.dataset = "mnist5k"
  with pytest.raises(ValueError, match="expected 'toy_1d'"):
    goodfellow_fig1.data_gaussian(config)


def test_snapshot_summarises_the_bulk():
  # Grid 2.5 .. 5.5 in steps of 0.5: the bulk (4 +- 2 * 0.5) is 3.0 .. 5.0, five points.
  x = np.arange(2.5, 5.51, 0.5)
  d = np.array([9.0, 0.5, 0.6, 0.7, 0.8, 0.9, 9.0])  # 9: outside the bulk, must not count
  d_star = np.array([9.0, 0.5, 0.5, 0.5, 0.5, 0.5, 9.0])
  snap = goodfellow_fig1.snapshot(dict(x=x, d=d, d_star=d_star, p_data=x, p_g=x,
                                       samples=np.array([1.0, 3.0]), kde_bandwidth=0.25),
                                  mean=4.0, std=0.5)
  assert snap["mean_abs_d_minus_d_star"] == pytest.approx(0.2)  # mean of 0, .1, .2, .3, .4
  assert snap["mean_abs_d_minus_half"] == pytest.approx(0.2)
  assert snap["mean_abs_d_star_minus_half"] == pytest.approx(0.0)
  assert (snap["g_mean"], snap["g_std"], snap["kde_bandwidth"]) == (2.0, 1.0, 0.25)


def test_panel_steps():
  assert goodfellow_fig1.panel_steps_for(3000) == [25, 50, 500, 3000]
  assert goodfellow_fig1.panel_steps_for(50) == [25, 50]
  assert goodfellow_fig1.panel_steps_for(3) == [3]
  with pytest.raises(ValueError, match="num_steps must be >= 0"):
    goodfellow_fig1.panel_steps_for(-1)


@pytest.mark.slow
def test_goodfellow_fig1_writes_figure_and_numbers(tmp_path):
  result = goodfellow_fig1.make_figure(str(tmp_path), fig1_main.default_config(), num_steps=3)
  with open(tmp_path / "goodfellow_fig1.png", "rb") as f:
    assert f.read(8) == PNG_MAGIC
  assert (tmp_path / "goodfellow_fig1.png").stat().st_size > 10_000
  with open(tmp_path / "goodfellow_fig1.json") as f:
    saved = json.load(f)
  assert [p["step"] for p in saved["panels"]] == [3]
  panel = saved["panels"][0]
  for key in ("mean_abs_d_minus_d_star", "mean_abs_d_minus_half", "mean_abs_d_star_minus_half"):
    assert 0.0 <= panel[key] <= 1.0
  assert saved["bulk"] == [3.0, 5.0]
  assert result["figure"] == str(tmp_path / "goodfellow_fig1.png")


def test_goodfellow_fig1_rejects_other_datasets(tmp_path):
  config = fig1_main.default_config()
  config.dataset = "toy_ring"
  with pytest.raises(ValueError, match="1-D toy"):
    goodfellow_fig1.make_figure(str(tmp_path), config, num_steps=1)
  assert not (tmp_path / "goodfellow_fig1.png").exists()


@pytest.mark.slow
def test_saturation_writes_figure_and_numbers(tmp_path, tmp_path_factory):
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  result = saturation.make_figure(str(tmp_path / "out"), saturation_main.default_config(),
                                  d_steps=2, batch_size=4, data_dir=data_dir)
  with open(tmp_path / "out" / "saturation.png", "rb") as f:
    assert f.read(8) == PNG_MAGIC
  with open(tmp_path / "out" / "saturation.json") as f:
    saved = json.load(f)
  for key in ("fresh", "after_d_steps"):
    m = saved[key]
    assert 0.0 < m["median_d_g_z"] < 1.0
    # The medians of D and 1 - D over the same batch.
    assert m["median_grad_saturating"] == pytest.approx(m["median_d_g_z"], rel=1e-5)
    assert m["median_grad_non_saturating"] == pytest.approx(1.0 - m["median_d_g_z"], rel=1e-5)
    assert m["max_abs_error_vs_analytic"] < 1e-5
  assert saved["d_only_steps"] == 2 and saved["batch_size"] == 4
  assert result["numbers"] == str(tmp_path / "out" / "saturation.json")
