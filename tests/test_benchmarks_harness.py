"""The benchmark harness: round-robin timing in worker processes, ratios, and the fastest row.

The harness reads time from a clock it is given. Here that is a fake clock that only the runners
move, each step by a known number of seconds, so every time, ratio, block size and log line the
harness reports is exact. The steps take powers of two of a second, so no sum or quotient rounds.
"""

from benchmarks import harness

# Each worker process imports this module afresh, so each has its own fake clock.
_now = [0.0]


def fake_clock() -> float:
  return _now[0]


class TickRunner:
  """A runner whose step advances the fake clock by ``seconds`` (``work`` units per step)."""

  def __init__(self, batch_size, seconds, work=1):
    del batch_size
    self.seconds = seconds
    self.work = work

  def step(self):
    _now[0] += self.seconds


class BrokenRunner:
  def __init__(self, batch_size):
    raise RuntimeError(f"cannot build at batch {batch_size}")


def _impl(name, factory, **kwargs):
  # 'jax' only pins the worker to the cores; nothing is imported for it.
  return harness.Implementation(name, f"{__name__}:{factory}", "jax", kwargs)


def test_time_steps_gives_seconds_per_unit_of_work():
  assert harness._time_steps(TickRunner(8, 2**-7, work=4), 3, clock=fake_clock) == [2**-9] * 3


def test_round_robin_times_ratios_fastest_and_failures():
  impls = [_impl("fast", "TickRunner", seconds=2**-9), _impl("slow", "TickRunner", seconds=2**-8),
           _impl("per-unit", "TickRunner", seconds=2**-7, work=4),
           _impl("broken", "BrokenRunner")]
  log = []
  results = harness.run_round_robin(impls, [8, 16], rounds=3, block_s=2**-5, warmup_s=2**-7,
                                    threads=1, settle_s=0, log=log.append, clock=fake_clock)
  for batch_size in (8, 16):
    fast, slow, per_unit, broken = results[batch_size]
    # A block is as many calls as fit in block_s: 2^-5 s / 2^-9 s = 16 calls, and so on; the
    # per-unit runner's 2^-7 s calls do 4 units each, 2^-9 s per unit.
    assert fast.rounds == [[2**-9] * 16] * 3
    assert slow.rounds == [[2**-8] * 8] * 3
    assert per_unit.rounds == [[2**-9] * 4] * 3
    assert (fast.first_step_s, slow.first_step_s, per_unit.first_step_s) == (2**-9, 2**-8, 2**-7)
    assert fast.median_s == per_unit.median_s == 2**-9
    assert fast.quartiles_s() == (2**-9, 2**-9)
    assert harness.paired_ratio(fast, slow) == 0.5
    assert harness.paired_ratio(slow, per_unit) == 2.0
    assert broken.error == "RuntimeError: cannot build at batch 8"  # left out at batch 16 too
    assert not broken.rounds
    assert harness.fastest([slow, broken, per_unit]) is per_unit
    assert harness.fastest([fast, slow], name_prefix="slow") is slow
    assert harness.fastest([broken]) is None
  assert log == [
      "  batch 8 fast: first call 0.0 s, warm 1.95 ms/step, 16 calls/block",
      "  batch 8 slow: first call 0.0 s, warm 3.91 ms/step, 8 calls/block",
      "  batch 8 per-unit: first call 0.0 s, warm 1.95 ms/step, 4 calls/block",
      "  broken left out: RuntimeError: cannot build at batch 8",
  ] + [f"  batch 8 round {i}/3: fast 1.95, slow 3.91, per-unit 1.95 ms" for i in (1, 2, 3)] + [
      "  batch 16 fast: first call 0.0 s, warm 1.95 ms/step, 16 calls/block",
      "  batch 16 slow: first call 0.0 s, warm 3.91 ms/step, 8 calls/block",
      "  batch 16 per-unit: first call 0.0 s, warm 1.95 ms/step, 4 calls/block",
  ] + [f"  batch 16 round {i}/3: fast 1.95, slow 3.91, per-unit 1.95 ms" for i in (1, 2, 3)]


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
