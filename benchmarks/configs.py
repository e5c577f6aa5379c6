"""The models the speed benchmarks time, as plain (picklable) configs.

Each is read twice (`benchmarks.jaxgan_runners.build`): by `gan.config.build_gan` for the
objective and by `gan.config.resolve_schedule` for the speed settings (``concat_real_fake`` and
friends; unset ones take the model family's defaults).

Kept apart from the benchmark scripts, which define flags on import, so tests can read them.
"""

# The seed's Keras DCGAN for MNIST (`benchmarks.bench_dcgan`).
DCGAN28_CONFIG = dict(model="dcgan28", data_shape=(28, 28, 1), loss="non_saturating",
                      optimizer="adam", g_learning_rate=2e-4, d_learning_rate=2e-4, latent_dim=100,
                      ema_decay=0.0)

# PacGAN's 2-D toy: MLP G and D with three hidden layers of 400, latent 2 (`benchmarks.bench_toy`).
TOY_HIDDEN = (400, 400, 400)
TOY_CONFIG = dict(model="mlp", data_shape=(2,), mlp_hidden=TOY_HIDDEN, mlp_output="linear",
                  loss="non_saturating", optimizer="adam", g_learning_rate=1e-4,
                  d_learning_rate=1e-4, latent_dim=2, ema_decay=0.0, concat_real_fake=True)
