"""Spectral normalisation of D (issue 25, item 1): `gan.models.layers.spectral` over Flax's
`nn.SpectralNorm`, as a family setting (``model_args.spectral_norm``) of mlp and dcgan28.

sigma against NumPy's largest singular value; the power-iteration vector updated in training
only; the step under pmap equal to one device; a resumed run bitwise equal to an uninterrupted
one; configs saved before the setting existed still resume."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.configs import common
from experiments.configs import toy_ring
from gan import config as config_lib
from gan import loop
from gan import parallel
from gan import step as step_lib
from gan.models import dcgan
from gan.models import mlp
from gan.models import pacgan
from test_parallel import NUM_DEVICES, one_device_run
from test_step import assert_trees_close, max_abs_difference


@pytest.mark.parametrize("discriminator,shape,layers", [
    (mlp.MLPDiscriminator((16, 8), spectral_norm=True), (4, 6), 3),
    (mlp.MLPDiscriminator((16, 8), num_classes=5, spectral_norm=True), (4, 6), 4),
    (dcgan.DCGAN28Discriminator(0.0, spectral_norm=True), (2, 28, 28, 1), 3),
    (dcgan.DCGAN28Discriminator(0.0, num_classes=3, spectral_norm=True), (2, 28, 28, 1), 4),
    (pacgan.PacGANDiscriminator(units=8, num_pieces=3, spectral_norm=True), (4, 4), 4)])
def test_sigma_is_the_largest_singular_value_of_each_kernel(discriminator, shape, layers):
  """Every kernel of D, and the projection's class embedding of a conditional D."""
  x = jax.random.normal(jax.random.key(1), shape)
  num_classes = getattr(discriminator, "num_classes", 0)
  labels = jnp.arange(shape[0]) % num_classes if num_classes else None
  variables = discriminator.init(jax.random.key(0), x, labels, train=True)
  stats = variables["batch_stats"]

  @jax.jit
  def iterate(stats):
    return discriminator.apply({"params": variables["params"], "batch_stats": stats}, x,
                               labels, train=True, mutable=["batch_stats"])[1]["batch_stats"]

  for _ in range(200):  # power iterations, one per training call
    stats = iterate(stats)
  names = sorted(variables["params"])  # every layer of D is normalised
  assert sorted(stats) == sorted(f"{name}_sn" for name in names) and len(names) == layers
  for name in names:
    weight = "embedding" if name == "label_projection" else "kernel"
    matrix = np.asarray(variables["params"][name][weight], np.float64)
    largest = np.linalg.svd(matrix.reshape(-1, matrix.shape[-1]), compute_uv=False)[0]
    sigma = float(stats[f"{name}_sn"][f"{name}/{weight}/sigma"])
    np.testing.assert_allclose(sigma, largest, rtol=1e-4, err_msg=name)
  # In evaluation nothing is updated (no mutable collection is needed), and D's output is the
  # plain network on the weights divided by their sigmas.
  frozen = {"params": variables["params"], "batch_stats": stats}
  logits = discriminator.apply(frozen, x, labels, train=False)
  np.testing.assert_array_equal(logits, discriminator.apply(frozen, x, labels, train=False))
  plain = discriminator.clone(spectral_norm=False)
  divided = jax.tree_util.tree_map_with_path(
      lambda path, w: w / stats[f"{path[0].key}_sn"][f"{path[0].key}/{path[-1].key}/sigma"]
      if path[-1].key in ("kernel", "embedding") else w, variables["params"])
  np.testing.assert_allclose(logits, plain.apply({"params": divided}, x, labels, train=False),
                             rtol=1e-5, atol=1e-6)


def test_the_layers_keep_their_names_and_parameters():
  plain = mlp.MLPDiscriminator((16, 8))
  normalised = mlp.MLPDiscriminator((16, 8), spectral_norm=True)
  x = jnp.ones((2, 6))
  a = plain.init(jax.random.key(0), x)
  b = normalised.init(jax.random.key(0), x)
  assert jax.tree.map(jnp.shape, a["params"]) == jax.tree.map(jnp.shape, b["params"])
  assert "batch_stats" not in a and set(b["batch_stats"]) == {"hidden_0_sn", "hidden_1_sn",
                                                               "out_sn"}


def _toy(workdir_steps, **overrides):
  config = toy_ring.get_config()
  settings = dict(hidden=(16, 16), spectral_norm=True, batch_size=16, sample_every=0,
                  log_every=1, checkpoint_every=2, final_eval=False)
  common.update(config, **dict(settings, **overrides))
  config.num_steps = workdir_steps
  return config


def test_training_updates_u_and_a_resumed_run_is_bitwise_the_same(tmp_path):
  straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
  loop.train_and_evaluate(_toy(4), straight, log=lambda m: None, progress=False)
  loop.train_and_evaluate(_toy(2), resumed, log=lambda m: None, progress=False)
  loop.train_and_evaluate(_toy(4), resumed, log=lambda m: None, progress=False)
  checksums = [json.load(open(os.path.join(w, "checkpoints", "4", "meta", "metadata")))["checksum"]
               for w in (straight, resumed)]
  assert checksums[0] == checksums[1]
  from gan import runs  # pylint: disable=g-import-not-at-top
  run = runs.load_run(straight)
  initial = step_lib.create_state(run.gan, jax.random.key(run.config.seed))
  assert jax.tree.leaves(run.state.d_batch_stats)  # u and sigma are part of the state
  assert max_abs_difference(run.state.d_batch_stats, initial.d_batch_stats) > 1e-4


def test_a_config_saved_before_the_setting_existed_is_the_same_experiment():
  config = _toy(4, spectral_norm=False)
  saved = json.loads(config.to_json())
  del saved["model_args"]["spectral_norm"]
  assert config_lib.config_differences(saved, config.to_dict()) == []
  assert config_lib.config_differences(saved, _toy(4).to_dict()) == [
      "model_args.spectral_norm: False -> True"]


def test_d_chunking_is_off_with_spectral_norm():
  config = _toy(4)
  config.d_chunk_size = 8
  with pytest.raises(config_lib.ConfigError, match="cannot go with model_args.spectral_norm"):
    config_lib.resolve_schedule(config, num_devices=1, backend="cpu")


@pytest.mark.slow
def test_pmap_with_spectral_norm_matches_one_device():
  gan, schedule, state, batches, rng, single = one_device_run(xla_cpu_options="",
                                                              spectral_norm=True)
  step = parallel.pmap_train_step(gan, donate=False, schedule=schedule)
  replicated = parallel.replicate_for_pmap(state, NUM_DEVICES)
  for batch in batches:
    replicated, _ = step(replicated, parallel.split_for_pmap(batch, NUM_DEVICES), rng)
  for leaf in jax.tree.leaves(replicated.d_batch_stats):  # u and sigma the same on every device
    np.testing.assert_array_equal(np.asarray(leaf)[0], np.asarray(leaf)[-1])
  assert_trees_close(parallel.unreplicate(replicated), single, atol=1e-5)
  assert max_abs_difference(single.d_batch_stats, state.d_batch_stats) > 1e-4
