"""Tests for gan/losses.py: the registry, hand-computed values, penalties in closed form, the
saturation claim, the optimal discriminator."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gan import losses

REAL = np.array([2.0, -1.0, 0.5], np.float32)
FAKE = np.array([-3.0, 0.0, 1.0], np.float32)


def _sig(x):
  return 1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))


def _relativistic(first, second):
  """RaGAN: -E log sig(first - mean second) - E log(1 - sig(second - mean first)), in float64."""
  first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
  return (-np.mean(np.log(_sig(first - second.mean()))) -
          np.mean(np.log(1.0 - _sig(second - first.mean()))))


def _expected_d(kind, real=REAL, fake=FAKE):
  if kind == "relativistic_average":
    return _relativistic(real, fake)
  if kind in ("saturating", "non_saturating"):
    return -np.mean(np.log(_sig(real))) - np.mean(np.log(1.0 - _sig(fake)))
  if kind == "least_squares":
    return 0.5 * (np.mean((real - 1) ** 2) + np.mean(fake ** 2))
  if kind == "hinge":
    return np.mean(np.maximum(0, 1 - real)) + np.mean(np.maximum(0, 1 + fake))
  return np.mean(fake) - np.mean(real)


def _expected_g(kind, real=REAL, fake=FAKE):
  return {
      "saturating": np.mean(np.log(1.0 - _sig(fake))),
      "non_saturating": -np.mean(np.log(_sig(fake))),
      "least_squares": 0.5 * np.mean((fake - 1) ** 2),
      "hinge": -np.mean(fake),
      "wasserstein": -np.mean(fake),
      "relativistic_average": _relativistic(fake, real),
  }[kind]


# A second pair: REAL happens to give mean((x - 1)^2) == mean(x^2), which a wrong LSGAN target
# would not change; these do not.
REAL_2 = np.array([1.5, 0.25, -2.0, 3.0], np.float32)
FAKE_2 = np.array([0.75, -0.5, 2.5, -1.25], np.float32)


class LossValuesTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_hand_computed_values(self):
    for kind in losses.names():
      for real, fake in ((REAL, FAKE), (REAL_2, FAKE_2)):
        d = self.variant(lambda r, f, kind=kind: losses.discriminator_loss(r, f, kind))(real, fake)
        g = self.variant(lambda f, r, kind=kind: losses.generator_loss(f, kind, r))(fake, real)
        np.testing.assert_allclose(d, _expected_d(kind, real, fake), rtol=1e-6, err_msg=kind)
        np.testing.assert_allclose(g, _expected_g(kind, real, fake), rtol=1e-6, err_msg=kind)


def test_specific_numbers():
  # D(x) = D(G(z)) = 1/2: the D loss is 2 log 2, the equilibrium value of the minimax game.
  np.testing.assert_allclose(losses.discriminator_loss(jnp.zeros(4), jnp.zeros(4), "saturating"),
                             2 * np.log(2), rtol=1e-6)
  np.testing.assert_allclose(losses.generator_loss(jnp.zeros(4), "non_saturating"), np.log(2),
                             rtol=1e-6)


def test_stable_at_extreme_logits():
  big = jnp.array([-200.0, 200.0])
  for kind in losses.names():
    assert np.isfinite(losses.discriminator_loss(big, big, kind)), kind
    grad = jax.grad(lambda f, kind=kind: losses.generator_loss(f, kind, big))(big)
    assert np.all(np.isfinite(grad)), kind
  # -log D(G(z)) at logit -200 is 200, not inf.
  np.testing.assert_allclose(losses.generator_loss(jnp.array([-200.0]), "non_saturating"), 200.0)


def test_unknown_kind_lists_valid_ones():
  with pytest.raises(ValueError, match="registered: saturating, non_saturating"):
    losses.generator_loss(FAKE, "minimax")
  with pytest.raises(ValueError, match="wasserstein"):
    losses.discriminator_loss(REAL, FAKE, "vanilla")


def test_saturation_claim_of_the_2014_paper():
  # At D(G(z)) = 1e-3 (D confidently rejects the sample) the saturating loss has almost no gradient
  # w.r.t. the logit, the non-saturating loss almost the largest possible one.
  logit = jnp.log(1e-3 / (1 - 1e-3))
  sat = jax.grad(lambda l: losses.generator_loss(l[None], "saturating"))(logit)
  nonsat = jax.grad(lambda l: losses.generator_loss(l[None], "non_saturating"))(logit)
  assert abs(sat) < 0.01
  assert abs(nonsat) > 0.99
  np.testing.assert_allclose(abs(sat), 1e-3, rtol=1e-4)   # = D(G(z))
  np.testing.assert_allclose(abs(nonsat), 1 - 1e-3, rtol=1e-4)  # = 1 - D(G(z))


def test_registry_lists_every_loss_with_its_needs():
  assert losses.names()[:5] == ("saturating", "non_saturating", "least_squares", "hinge",
                                "wasserstein")
  assert [k for k in losses.names() if losses.get(k).needs_lipschitz] == ["wasserstein"]
  assert [k for k in losses.names() if losses.get(k).generator_uses_real] == [
      "relativistic_average"]
  for kind in losses.names():
    assert losses.get(kind).reference, kind


def test_relativistic_average_by_hand_and_its_needs():
  # REAL = [2, -1, 0.5] (mean 0.5), FAKE = [-3, 0, 1] (mean -2/3); D's loss by hand:
  d = (-(np.log(_sig(2 + 2 / 3)) + np.log(_sig(-1 + 2 / 3)) + np.log(_sig(0.5 + 2 / 3))) / 3 -
       (np.log(1 - _sig(-3.5)) + np.log(1 - _sig(-0.5)) + np.log(1 - _sig(0.5))) / 3)
  np.testing.assert_allclose(losses.discriminator_loss(REAL, FAKE, "relativistic_average"), d,
                             rtol=1e-6)
  assert losses.get("relativistic_average").generator_uses_real
  with pytest.raises(ValueError, match="pass real_logits"):
    losses.generator_loss(FAKE, "relativistic_average")
  # Equal logits: every difference from the other mean is 0, so both losses are 2 log 2.
  np.testing.assert_allclose(
      losses.generator_loss(jnp.zeros(3), "relativistic_average", jnp.zeros(3)), 2 * np.log(2),
      rtol=1e-6)
  # Under a mapped axis the means are global: 2 shards give the one-device value.
  real, fake = jnp.asarray(REAL[:2]), jnp.asarray(FAKE[:2])
  sharded = jax.vmap(lambda r, f: losses.discriminator_loss(r, f, "relativistic_average", "d"),
                     axis_name="d")(real.reshape(2, 1), fake.reshape(2, 1))
  np.testing.assert_allclose(jnp.mean(sharded), _relativistic(REAL[:2], FAKE[:2]), rtol=1e-6)


def test_registering_a_loss_is_one_call(monkeypatch):
  monkeypatch.setattr(losses, "LOSSES", losses.LOSSES.copy())
  losses.register("twice_hinge", losses.Loss(
      discriminator=lambda r, f, axis_name=None: 2 * losses.get("hinge").discriminator(r, f),
      generator=lambda f, r=None, axis_name=None: -2 * jnp.mean(f)))
  np.testing.assert_allclose(losses.discriminator_loss(REAL, FAKE, "twice_hinge"),
                             2 * _expected_d("hinge"), rtol=1e-6)
  with pytest.raises(ValueError, match="already registered"):
    losses.register("hinge", losses.get("hinge"))


def test_batch_mean_over_a_mapped_axis_is_the_global_mean():
  x = jnp.arange(8.0).reshape(4, 2)  # 4 "devices" of 2 examples each
  means = jax.vmap(lambda row: losses.batch_mean(row, "d"), axis_name="d")(x)
  np.testing.assert_allclose(means, np.full(4, 3.5))


def test_r1_and_gradient_penalty_closed_forms():
  # A linear critic f(x) = w.x has input gradient w everywhere: R1 = |w|^2, GP = (|w| - 1)^2.
  w = jnp.array([3.0, 4.0])
  critic = lambda x: x @ w
  x = jax.random.normal(jax.random.key(0), (5, 2))
  np.testing.assert_allclose(losses.r1_penalty(critic, x), 25.0, rtol=1e-6)
  gp = losses.gradient_penalty(critic, x, -x, jnp.linspace(0, 1, 5))
  np.testing.assert_allclose(gp, 16.0, rtol=1e-5)
  # A quadratic critic f(x) = |x|^2 / 2 has gradient x: R1 = E|x|^2.
  np.testing.assert_allclose(losses.r1_penalty(lambda x: 0.5 * jnp.sum(x ** 2, -1), x),
                             np.mean(np.sum(np.asarray(x) ** 2, -1)), rtol=1e-5)


def test_gradient_penalty_is_taken_at_the_mixes_of_real_and_fake():
  # f(x) = |x|^2 / 2 has gradient x, which varies: the penalty is E(|x_hat| - 1)^2 at
  # x_hat = alpha * real + (1 - alpha) * fake, so taking it anywhere else gives another number.
  quadratic = lambda x: 0.5 * jnp.sum(x ** 2, -1)
  real = np.array([[3.0, 0.0], [0.0, 2.0], [1.0, 1.0]], np.float32)
  fake = np.array([[-1.0, 0.0], [0.0, 0.0], [2.0, -1.0]], np.float32)
  alpha = np.array([0.25, 0.5, 1.0], np.float32)
  mixes = alpha[:, None] * real + (1 - alpha[:, None]) * fake  # [0,0], [0,1], [1,1]
  expected = np.mean((np.linalg.norm(mixes, axis=1) - 1.0) ** 2)  # (1 + 0 + (sqrt2-1)^2) / 3
  np.testing.assert_allclose(losses.gradient_penalty(quadratic, real, fake, alpha), expected,
                             rtol=1e-5)
  np.testing.assert_allclose(expected, (1 + (np.sqrt(2) - 1) ** 2) / 3, rtol=1e-6)
  # With target norm 2 (a generalisation some papers use) the same mixes give E(|x_hat| - 2)^2.
  np.testing.assert_allclose(
      losses.gradient_penalty(quadratic, real, fake, alpha, target_norm=2.0),
      np.mean((np.linalg.norm(mixes, axis=1) - 2.0) ** 2), rtol=1e-5)


def test_optimal_discriminator_is_reached():
  """Training an MLP D on the D loss against fixed 1-D p_data, p_g gives D* = p_d / (p_d + p_g)."""
  from gan import models
  mu_d, mu_g, sigma = 1.0, -1.0, 1.0
  disc = models.MLPDiscriminator(hidden=(32, 32))
  params = disc.init(jax.random.key(0), jnp.zeros((1, 1)))["params"]
  tx = optax.adam(3e-3)

  def loss_fn(params, key):
    kd, kg = jax.random.split(key)
    real = mu_d + sigma * jax.random.normal(kd, (512, 1))
    fake = mu_g + sigma * jax.random.normal(kg, (512, 1))
    return losses.discriminator_loss(disc.apply({"params": params}, real),
                                     disc.apply({"params": params}, fake), "non_saturating")

  @jax.jit
  def train(params):
    def body(carry, key):
      params, opt_state = carry
      grads = jax.grad(loss_fn)(params, key)
      updates, opt_state = tx.update(grads, opt_state)
      return (optax.apply_updates(params, updates), opt_state), None
    keys = jax.random.split(jax.random.key(1), 3000)
    (params, _), _ = jax.lax.scan(body, (params, tx.init(params)), keys)
    return params

  params = train(params)
  grid = np.linspace(-2.0, 2.0, 21, dtype=np.float32)
  d = np.asarray(jax.nn.sigmoid(disc.apply({"params": params}, grid[:, None])))
  p_d = np.exp(-0.5 * ((grid - mu_d) / sigma) ** 2)
  p_g = np.exp(-0.5 * ((grid - mu_g) / sigma) ** 2)
  np.testing.assert_allclose(d, p_d / (p_d + p_g), atol=0.05)
