"""Round-robin step timing of several implementations, each in its own process.

On a shared machine the speed available changes from minute to minute, so timing one
implementation after another would compare different machines. Here every implementation lives
in its own worker process (its framework imported there, with its own thread settings, and no
other framework's thread pools in the way), is set up and warmed up once per batch size, and then
the workers are asked in turn, round after round, to time a block of steps. A ratio is taken
within a round (the same minute) and the median over rounds reported.

A runner is any object built as ``factory(batch_size=..., **kwargs)`` with a ``step()`` method
that does ``work`` units of work (iterations, or seed-iterations) and returns only when they are
done, and a ``work`` attribute (1 if absent).

Time is read from a ``clock`` (`time.perf_counter` unless told otherwise), so the harness can be
tested with a fake one whose runners advance it by known amounts.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import importlib.metadata
import multiprocessing
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import traceback
from typing import Callable, Dict, List, Optional, Sequence

# Seconds now. It is read in the worker processes, so pass a module-level function (pickled by name).
Clock = Callable[[], float]


@dataclasses.dataclass(frozen=True)
class Implementation:
  """One contestant.

  Attributes:
    name: the label in the tables.
    factory: ``"module:callable"`` that builds a runner from ``batch_size`` and ``kwargs``.
    framework: ``'jax'``, ``'torch'`` or ``'tensorflow'``: which thread settings to apply.
    kwargs: extra keyword arguments for the factory.
    env: environment variables to set in the worker before the framework is imported.
  """
  name: str
  factory: str
  framework: str
  kwargs: dict = dataclasses.field(default_factory=dict)
  env: dict = dataclasses.field(default_factory=dict)


def limit_threads(framework: str, threads: int) -> None:
  """Makes ``framework`` use ``threads`` threads for its operations. Call before importing it."""
  os.environ["OMP_NUM_THREADS"] = str(threads)
  os.environ["MKL_NUM_THREADS"] = str(threads)
  if framework == "torch":
    import torch  # pylint: disable=g-import-not-at-top
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(threads)
  elif framework == "tensorflow":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
  elif framework == "jax":
    # XLA:CPU sizes its intra-op pool from the cores it may run on; pin it to `threads` of them.
    cpus = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, cpus[:threads])
  else:
    raise ValueError(f"Unknown framework {framework!r}; use 'jax', 'torch' or 'tensorflow'.")


def _time_steps(runner, n: int, clock: Clock = time.perf_counter) -> List[float]:
  """Seconds per unit of work for each of ``n`` calls of ``runner.step()``."""
  work = getattr(runner, "work", 1)
  times = []
  for _ in range(n):
    start = clock()
    runner.step()
    times.append((clock() - start) / work)
  return times


def _worker(conn, impl: Implementation, threads: int, clock: Clock = time.perf_counter) -> None:
  """Serves ``('setup', (batch_size, warmup_s))``, ``('time', n)`` and ``('close', None)``."""
  os.environ.update(impl.env)
  limit_threads(impl.framework, threads)
  module_name, factory_name = impl.factory.split(":")
  factory = getattr(importlib.import_module(module_name), factory_name)
  runner = None
  while True:
    command, arg = conn.recv()
    try:
      if command == "close":
        conn.send(("ok", None))
        return
      if command == "setup":
        batch_size, warmup_s = arg
        runner = None
        start = clock()
        runner = factory(batch_size=batch_size, **impl.kwargs)
        runner.step()  # compiles, where there is compiling
        first = clock() - start
        warm = _time_steps(runner, 1, clock)
        while sum(warm) * getattr(runner, "work", 1) < warmup_s:
          warm += _time_steps(runner, 1, clock)
        conn.send(("ok", dict(first_step_s=first, warmup_times=warm,
                              work=getattr(runner, "work", 1))))
      elif command == "time":
        conn.send(("ok", _time_steps(runner, arg, clock)))
      else:
        raise ValueError(f"unknown command {command!r}")
    except Exception:  # pylint: disable=broad-except
      conn.send(("error", traceback.format_exc()))


class Worker:
  """A process that owns one implementation's runner."""

  def __init__(self, impl: Implementation, threads: int, clock: Clock = time.perf_counter):
    self.impl = impl
    context = multiprocessing.get_context("spawn")  # no forking of a process with threads
    self.conn, child = context.Pipe()
    self.process = context.Process(target=_worker, args=(child, impl, threads, clock),
                                   daemon=True)
    self.process.start()
    self.failed: Optional[str] = None

  def call(self, command: str, arg=None):
    self.conn.send((command, arg))
    status, value = self.conn.recv()
    if status != "ok":
      raise RuntimeError(f"{self.impl.name} failed on {command!r}:\n{value}")
    return value

  def close(self):
    try:
      self.call("close")
    except (EOFError, BrokenPipeError, RuntimeError):
      pass
    self.process.join(timeout=30)


@dataclasses.dataclass
class Result:
  """The timings of one implementation at one batch size, in seconds per unit of work."""
  name: str
  batch_size: int
  first_step_s: float = float("nan")
  rounds: List[List[float]] = dataclasses.field(default_factory=list)
  error: Optional[str] = None

  @property
  def all_times(self) -> List[float]:
    return [t for block in self.rounds for t in block]

  @property
  def median_s(self) -> float:
    return statistics.median(self.all_times) if self.all_times else float("nan")

  def quartiles_s(self):
    times = self.all_times
    if len(times) < 2:
      return (self.median_s, self.median_s)
    q = statistics.quantiles(times, n=4)
    return q[0], q[2]


def fastest(results: Sequence[Result], name_prefix: str = "") -> Optional[Result]:
  """The result with the lowest median time among those that ran and whose name starts with
  ``name_prefix`` (None if none did)."""
  ran = [r for r in results
         if r.name.startswith(name_prefix) and r.error is None and r.all_times]
  return min(ran, key=lambda r: r.median_s) if ran else None


# PyTorch's CPU kernels run on OpenMP threads, and OMP_WAIT_POLICY decides what an idle one does:
# libgomp's default spins a while at each barrier (fast on an idle machine: 2x faster for the toy
# here), PASSIVE sleeps at once (better when other busy processes share the cores). The benchmarks
# time PyTorch under each policy flagged and hold ours against the faster.
OMP_POLICY_HELP = ("OMP_WAIT_POLICY values for PyTorch's OpenMP threads, one PyTorch eager row "
                   "each ('default' leaves libgomp's own); ours is compared with the fastest.")
OMP_POLICIES = ["default", "PASSIVE"]


def torch_eager_name(policy: str) -> str:
  """The row name of PyTorch eager under an OMP_WAIT_POLICY ('default' = libgomp's own)."""
  return "PyTorch eager" + ("" if policy == "default" else f", OMP_WAIT_POLICY={policy}")


def omp_policy_env(policy: str) -> dict:
  """The worker environment for an OMP_WAIT_POLICY ('default' leaves libgomp's own)."""
  return {} if policy == "default" else dict(OMP_WAIT_POLICY=policy)


def paired_ratio(numerator: Result, denominator: Result) -> float:
  """Median over rounds of (median time of ``numerator`` / median time of ``denominator``)."""
  ratios = [statistics.median(a) / statistics.median(b)
            for a, b in zip(numerator.rounds, denominator.rounds) if a and b]
  return statistics.median(ratios) if ratios else float("nan")


def run_round_robin(impls: Sequence[Implementation], batch_sizes: Sequence[int], *, rounds: int,
                    block_s: float, warmup_s: float, threads: int, settle_s: float = 0.25,
                    log=print, clock: Clock = time.perf_counter) -> Dict[int, List[Result]]:
  """Times every implementation at every batch size, alternating between them.

  Per batch size: each worker builds and warms up its runner (``warmup_s`` seconds of steps after
  the compiling first step), then ``rounds`` rounds follow; in each, every worker in turn times a
  block of at least one step and about ``block_s`` seconds. The order rotates every round.
  Before each block every worker sits idle for ``settle_s`` seconds, so threads that spin after
  their last task (OpenMP's, by default) have gone to sleep and do not take the cores from the
  next implementation. A worker that fails is reported and left out; the others go on.

  Every time is read from ``clock`` in the workers (`time.perf_counter`; tests pass a fake one).
  """
  workers = [Worker(impl, threads, clock) for impl in impls]
  results: Dict[int, List[Result]] = {}
  try:
    for batch_size in batch_sizes:
      current = [Result(w.impl.name, batch_size) for w in workers]
      steps = {}
      for worker, result in zip(workers, current):
        if worker.failed:
          result.error = worker.failed
          continue
        try:
          info = worker.call("setup", (batch_size, warmup_s))
        except RuntimeError as e:
          # A failure to build or compile (say, torch.compile without a compiler) will recur at
          # every batch size: report it once and drop the implementation.
          worker.failed = result.error = str(e).strip().splitlines()[-1]
          log(f"  {worker.impl.name} left out: {result.error}")
          continue
        result.first_step_s = info["first_step_s"]
        per_unit = statistics.median(info["warmup_times"])
        per_call = per_unit * info["work"]
        steps[worker.impl.name] = max(1, int(block_s / max(per_call, 1e-9)))
        log(f"  batch {batch_size} {worker.impl.name}: first call {info['first_step_s']:.1f} s, "
            f"warm {1e3 * per_unit:.2f} ms/step, {steps[worker.impl.name]} calls/block")
      live = [(w, r) for w, r in zip(workers, current) if r.error is None]
      for round_index in range(rounds):
        shift = round_index % max(1, len(live))
        for worker, result in live[shift:] + live[:shift]:
          if settle_s:
            time.sleep(settle_s)
          result.rounds.append(worker.call("time", steps[worker.impl.name]))
        log(f"  batch {batch_size} round {round_index + 1}/{rounds}: " + ", ".join(
            f"{r.name} {1e3 * statistics.median(r.rounds[-1]):.2f}" for _, r in live) + " ms")
      results[batch_size] = current
  finally:
    for worker in workers:
      worker.close()
  return results


# ----------------------------------------------------------------------------------------------
# Describing the run.


def cpu_model() -> str:
  """The CPU's model name from ``lscpu`` (falls back to /proc/cpuinfo, then `platform`)."""
  try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
      if line.startswith("Model name:"):
        return line.split(":", 1)[1].strip()
  except (OSError, subprocess.CalledProcessError):
    pass
  return platform.processor() or "unknown"


def versions(packages: Sequence[str]) -> Dict[str, str]:
  """Installed versions of ``packages`` (without importing them)."""
  found = {"python": platform.python_version()}
  for package in packages:
    try:
      found[package] = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
      found[package] = "not installed"
  return found


def run_header(title: str, packages: Sequence[str], threads: int, load_before) -> str:
  """Markdown lines: the exact command, date, CPU, thread count, load and library versions."""
  command = "cd /work/main && PYTHONPATH=. python -m " + " ".join(
      shlex.quote(a) for a in [_module_name()] + sys.argv[1:])
  load_after = os.getloadavg()
  lines = [
      f"# {title}", "",
      f"- command: `{command}`",
      f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
      f"- CPU: {cpu_model()} ({os.cpu_count()} logical CPUs), {threads} threads per framework",
      f"- load average (1/5/15 min) before: {'/'.join(f'{x:.2f}' for x in load_before)}, "
      f"after: {'/'.join(f'{x:.2f}' for x in load_after)} (a shared machine: absolute times "
      "are noisy, ratios are taken within a round)",
      "- versions: " + ", ".join(f"{k} {v}" for k, v in versions(packages).items()),
  ]
  return "\n".join(lines)


def _module_name() -> str:
  main = sys.modules.get("__main__")
  spec = getattr(main, "__spec__", None)
  return spec.name if spec is not None else os.path.basename(sys.argv[0])


def fmt(value: float, digits: int = 2) -> str:
  """A number for a table cell; NaN becomes an em dash."""
  if value != value:  # NaN
    return "—"
  return f"{value:,.{digits}f}"


def publish_report(report: str, output: Optional[str]) -> None:
  """Prints a benchmark's markdown report and, when ``output`` is set, writes it there."""
  print(report)
  if output:
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with open(output, "w") as f:
      f.write(report)
    print(f"Wrote {output}")
