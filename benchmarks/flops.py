"""FLOPs of one training iteration from XLA's cost analysis, and this machine's matmul peak.

``python -m benchmarks.flops`` prints both for dcgan28; `benchmarks.bench_dcgan` puts them beside
its timings (achieved GFLOP/s = FLOPs per iteration / seconds per iteration).
"""

from __future__ import annotations

import functools
import statistics
import time
from typing import Callable, List, Sequence, Tuple, TypeVar

import jax
import jax.numpy as jnp

from benchmarks import jaxgan_runners
from gan import step as step_lib

T = TypeVar("T")


def train_step_flops(config: dict, batch_size: int) -> float:
  """FLOPs XLA counts for one compiled `gan.step.train_step` at ``batch_size``.

  The step runs under the schedule ``config`` resolves to (so a D in pieces or one D call on
  [real; fake] is counted as the benchmark runs it), compiled with XLA's default options.
  Multiply-adds count as two FLOPs; elementwise work and random-number generation count too.
  """
  gan, schedule = jaxgan_runners.build(config)
  state = jax.eval_shape(functools.partial(step_lib.create_state, gan), jax.random.key(0))
  batch = {"image": jax.ShapeDtypeStruct((batch_size,) + gan.data_shape, jnp.float32)}
  rng = jax.eval_shape(lambda: jax.random.key(0))
  train_step = functools.partial(step_lib.train_step, gan, schedule=schedule)
  compiled = jax.jit(train_step).lower(state, batch, rng).compile()
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):  # older jax: one dict per computation
    cost = cost[0]
  return float(cost["flops"])


def matmul_peak_gflops(n: int = 2048, repeats: int = 7) -> float:
  """Best float32 GFLOP/s of a jitted ``n x n @ n x n`` over ``repeats`` timed calls.

  The best, not the median: on a shared machine the best call is the closest to what the cores
  can do, which is what a peak is.
  """
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
  matmul = jax.jit(jnp.dot)
  matmul(a, b).block_until_ready()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    matmul(a, b).block_until_ready()
    times.append(time.perf_counter() - start)
  return 2 * n ** 3 / min(times) / 1e9


def around_peaks(run: Callable[[], T]) -> Tuple[T, List[float]]:
  """``(run(), peaks)``: the matmul peak measured once before ``run`` and twice after it.

  No benchmark worker runs during either measurement; the best of the three is the peak, as on a
  shared machine any one of them may have caught a busy minute.
  """
  peaks = [matmul_peak_gflops()]
  result = run()
  peaks += [matmul_peak_gflops() for _ in range(2)]
  return result, peaks


def describe_peak(peaks: Sequence[float]) -> str:
  """The report sentence for `around_peaks`'s measurements."""
  return (f"float32 matmul peak, 2048x2048 `jnp.dot`, best of 7 calls, best of 3 tries (one "
          f"before the timings, two after): **{max(peaks):.1f} GFLOP/s** (tries: "
          f"{', '.join(f'{p:.1f}' for p in peaks)}).")


def main(batch_sizes: Sequence[int] = (32, 64, 256)) -> None:
  """Prints dcgan28's FLOPs per iteration (both upsampling forms) and the matmul peak."""
  from benchmarks import configs  # pylint: disable=g-import-not-at-top
  for batch_size in batch_sizes:
    ours = train_step_flops(configs.DCGAN28_CONFIG, batch_size)
    direct = train_step_flops(dict(configs.DCGAN28_CONFIG, phase_decomposed_upsample=False),
                              batch_size)
    print(f"batch {batch_size}: {ours / 1e9:.2f} GFLOP/iteration (phase-decomposed upsample), "
          f"{direct / 1e9:.2f} (upsample then conv)")
  peaks = [matmul_peak_gflops() for _ in range(3)]
  print(f"float32 matmul peak: {max(peaks):.1f} GFLOP/s (runs: "
        f"{', '.join(f'{p:.1f}' for p in peaks)}; median {statistics.median(peaks):.1f})")


if __name__ == "__main__":
  main()
