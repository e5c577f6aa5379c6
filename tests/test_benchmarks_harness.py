"""The benchmark harness: round-robin timing in worker processes, ratios, and the fastest row.

The runners below sleep instead of computing, so their times are known: the harness must find the
2 ms runner twice as fast as the 4 ms one, pick it as the fastest, and report a runner that fails
to build without losing the others.
"""

import time

import pytest

from benchmarks import harness


class SleepRunner:
  """A runner whose step sleeps ``ms`` milliseconds (``work`` units per step)."""

  def __init__(self, batch_size, ms, work=1):
    del batch_size
    self.seconds = ms / 1e3
    self.work = work

  def step(self):
    time.sleep(self.seconds)


class BrokenRunner:
  def __init__(self, batch_size):
    raise RuntimeError(f"cannot build at batch {batch_size}")


def _impl(name, factory, **kwargs):
  # 'jax' only pins the worker to the cores; nothing is imported for it.
  return harness.Implementation(name, f"{__name__}:{factory}", "jax", kwargs)


def test_round_robin_ratios_fastest_and_failures():
  impls = [_impl("fast", "SleepRunner", ms=2.0), _impl("slow", "SleepRunner", ms=4.0),
           _impl("per-unit", "SleepRunner", ms=8.0, work=4), _impl("broken", "BrokenRunner")]
  log = []
  results = harness.run_round_robin(impls, [8], rounds=3, block_s=0.05, warmup_s=0.01,
                                    threads=1, settle_s=0.01, log=log.append)
  fast, slow, per_unit, broken = results[8]
  assert [len(r.rounds) for r in (fast, slow, per_unit)] == [3, 3, 3]
  assert broken.error == "RuntimeError: cannot build at batch 8"
  assert not broken.rounds
  assert any("broken left out" in line for line in log)
  # Sleeps overshoot by a fraction of a millisecond, so the ratios are near, not at, 1/2.
  assert fast.median_s == pytest.approx(2e-3, rel=0.5)
  assert harness.paired_ratio(fast, slow) == pytest.approx(0.5, abs=0.15)
  # 8 ms per call doing 4 units of work is 2 ms per unit.
  assert per_unit.median_s == pytest.approx(2e-3, rel=0.3)
  assert harness.fastest([slow, broken, per_unit]) is per_unit
  assert harness.fastest([broken]) is None


def test_paired_ratio_is_the_median_of_within_round_ratios():
  a = harness.Result("a", 1, rounds=[[1.0, 1.0], [2.0], [10.0]])
  b = harness.Result("b", 1, rounds=[[2.0], [2.0, 2.0], [40.0]])
  # Round ratios 0.5, 1.0, 0.25: the median is 0.5, whatever the overall medians say.
  assert harness.paired_ratio(a, b) == 0.5


def test_omp_policy_rows():
  assert harness.torch_eager_name("default") == "PyTorch eager"
  assert harness.torch_eager_name("PASSIVE") == "PyTorch eager, OMP_WAIT_POLICY=PASSIVE"
  assert harness.omp_policy_env("default") == {}
  assert harness.omp_policy_env("PASSIVE") == {"OMP_WAIT_POLICY": "PASSIVE"}
