r"""Train-step throughput and FLOP utilisation of dcgan28 and dcgan64 on an accelerator.

  python -m benchmarks.bench_gpu [--steps 50]

For each model and batch size: the jitted `train_step` (one D update on real + fake, one G
update), median step time over ``--steps`` steps after warm-up, real images/s, FLOPs per step
from XLA's cost analysis of the program compiled for the host CPU, and achieved TFLOP/s against
the device's float32 matmul peak (default precision, i.e. what XLA uses for the model's own
matmuls and convolutions) measured in the same run. `benchmarks/results/gpu_h100.md` records
the output of a run on an H100.
"""

import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan import config as config_lib
from gan import step as step_lib

MODELS = {
    "dcgan28": dict(data_shape=(28, 28, 1), batches=(64, 256, 1024)),
    "dcgan64": dict(data_shape=(64, 64, 3), batches=(64, 128, 512)),
}


def _median_time(fn, steps):
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return float(np.median(times))


def matmul_peak(n=8192, steps=20):
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  f = jax.jit(lambda a: a @ a)
  jax.block_until_ready(f(a))
  return 2 * n ** 3 / _median_time(lambda: f(a), steps)


def bench(model, batch, steps):
  config = ml_collections.ConfigDict(dict(
      model=model, data_shape=MODELS[model]["data_shape"], loss="non_saturating",
      optimizer="adam", g_learning_rate=2e-4, d_learning_rate=2e-4, latent_dim=100,
      ema_decay=0.0))
  gan = config_lib.build_gan(config)
  schedule = config_lib.resolve_schedule(config)  # an accelerator's: whole batches, XLA's options
  state = step_lib.create_state(gan, jax.random.key(0))
  images = jax.random.uniform(jax.random.key(1), (batch,) + tuple(config.data_shape),
                              minval=-1, maxval=1)
  rng = jax.random.key(2)
  step = step_lib.jit_train_step(gan, schedule)
  # FLOPs from the same program compiled for the host CPU: compiled for a GPU, convolutions become
  # cuDNN custom calls that XLA's cost analysis counts as zero.
  on_cpu = jax.device_put((state, {"image": images}, rng), jax.devices("cpu")[0])
  cost = step.lower(*on_cpu).compile().cost_analysis()
  flops = (cost[0] if isinstance(cost, list) else cost)["flops"]
  holder = {"state": state}

  def one():
    holder["state"], metrics = step(holder["state"], {"image": images}, rng)
    return metrics["d_loss"]

  for _ in range(3):
    jax.block_until_ready(one())
  return _median_time(one, steps), flops


def main():
  steps = int(sys.argv[sys.argv.index("--steps") + 1]) if "--steps" in sys.argv else 50
  device = jax.devices()[0]
  peak = matmul_peak()
  print(f"device: {device.device_kind} ({jax.default_backend()}), jax {jax.__version__}; "
        f"float32 matmul peak (8192^3, default precision): {peak / 1e12:.1f} TFLOP/s\n")
  print("| model | batch | ms/step | real images/s | GFLOP/step | TFLOP/s | % of matmul peak |")
  print("|---|---|---|---|---|---|---|")
  for model, spec in MODELS.items():
    for batch in spec["batches"]:
      seconds, flops = bench(model, batch, steps)
      print(f"| {model} | {batch} | {seconds * 1e3:.2f} | {batch / seconds:,.0f} | "
            f"{flops / 1e9:.2f} | {flops / seconds / 1e12:.2f} | "
            f"{100 * flops / seconds / peak:.1f} |", flush=True)


if __name__ == "__main__":
  main()
