r"""Seeds in one program: seed-steps per second for N seeds trained together (the step vmapped
over the state, as ``--config.num_seeds=N``) against N separate runs (one after another).

  python -m benchmarks.bench_seeds [--config pacgan_ring] [--seeds 1,4,16] [--steps 50]

Both forms run the real train step on a fixed real batch per seed, ``jax.jit``-ed, with the
state donated; each timing is the median of 5 blocks of ``--steps`` steps after one warm-up
block. A separate run's rate is the N = 1 rate (N runs one after another take N times as long).
Writes ``benchmarks/results/seeds_<backend>_<config>.md`` with the command and the machine.
"""

import argparse
import functools
import os
import platform
import statistics
import time

import jax
import jax.numpy as jnp

from experiments.configs import dcgan_mnist_seed
from experiments.configs import pacgan_ring
from gan import config as config_lib
from gan import step as step_lib

# "dcgan_mnist": the seed's recipe (no EMA), which `benchmarks/results/seeds_cpu_dcgan_mnist.md` measured.
CONFIGS = {"pacgan_ring": pacgan_ring.get_config, "dcgan_mnist": dcgan_mnist_seed.get_config}


def seed_steps_per_second(config, num_seeds: int, steps: int, blocks: int = 5) -> float:
  gan = config_lib.build_gan(config)
  schedule = config_lib.resolve_schedule(config)
  rows = config.batch_size * config.n_critic
  init = lambda seed: step_lib.create_state(gan, jax.random.key(seed))
  real = lambda seed: jax.random.uniform(jax.random.key(100 + seed), (rows,) + gan.data_shape,
                                         minval=-1.0, maxval=1.0)
  one = functools.partial(step_lib.train_step, gan, schedule=schedule)
  if num_seeds == 1:
    state, batch, rng = init(0), {"image": real(0)}, jax.random.key(1)
    step = jax.jit(one, donate_argnums=0, compiler_options=schedule.compiler_options())
  else:
    seeds = jnp.arange(num_seeds)
    state = jax.vmap(init)(seeds)
    batch = {"image": jax.vmap(real)(seeds)}
    rng = jax.vmap(lambda s: jax.random.fold_in(jax.random.key(s), 1))(seeds)
    step = jax.jit(jax.vmap(one), donate_argnums=0,
                   compiler_options=schedule.compiler_options())

  def block(state):
    start = time.perf_counter()
    for _ in range(steps):
      state, _ = step(state, batch, rng)
    jax.block_until_ready(state)
    return state, time.perf_counter() - start

  state, _ = block(state)  # compile and warm up
  times = []
  for _ in range(blocks):
    state, seconds = block(state)
    times.append(seconds)
  return num_seeds * steps / statistics.median(times)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--config", default="pacgan_ring", choices=sorted(CONFIGS))
  parser.add_argument("--seeds", default="1,4,16")
  parser.add_argument("--steps", type=int, default=50)
  args = parser.parse_args()
  config = CONFIGS[args.config]()
  rates = {n: seed_steps_per_second(config, n, args.steps) for n in
           (int(s) for s in args.seeds.split(","))}
  single = rates.get(1)
  command = ("python -m benchmarks.bench_seeds --config " + args.config + " --seeds " + args.seeds
             + " --steps " + str(args.steps))
  lines = [f"# Seeds in one program ({jax.default_backend()}, {args.config})", "",
           f"Command: `{command}`", "",
           f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
           f"jax {jax.__version__}, backend {jax.default_backend()}; "
           f"{time.strftime('%Y-%m-%d')}.", "",
           "| seeds together | seed-steps/s | vs separate runs |", "|---:|---:|---:|"]
  for n, rate in rates.items():
    ratio = f"{rate / single:.2f}x" if single else "–"
    lines.append(f"| {n} | {rate:.1f} | {ratio} |")
  text = "\n".join(lines) + "\n"
  print(text)
  path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results",
                      f"seeds_{jax.default_backend()}_{args.config}.md")
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)


if __name__ == "__main__":
  main()
