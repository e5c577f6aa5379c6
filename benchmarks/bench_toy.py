"""2-D toy GAN (PacGAN's ring/grid setting) training speed on CPU: jaxgan three ways vs PyTorch.

The model is tiny (MLP G and D, three hidden layers of 400, latent 2, batch 100), so a step is a
few milliseconds of arithmetic and the cost of dispatching it matters. Ours is timed

* one jitted step per dispatch (``jit_train_step``), as a training loop in Python runs it;
* ``--scan_steps`` steps fused into one dispatch by `jax.lax.scan` over a stacked real-batch array
  (`benchmarks.jaxgan_runners.scan_train_steps`), reported per step;
* ``--seeds`` independent runs at once, `jax.vmap` over the whole `GANState` (one step each per
  dispatch), reported per seed-step; and the same with a scan of ``--vmap_scan_steps`` inside.

PyTorch eager runs the same model and iteration. Beside them, the iteration's matmuls alone in XLA
and in PyTorch (`benchmarks.kernels_alone`): what no implementation on those kernels can beat.
Round robin, one process per implementation (`benchmarks.harness`).

  cd /work/main && PYTHONPATH=. .venv-bench/bin/python -m benchmarks.bench_toy
"""

from __future__ import annotations

import os

from absl import app
from absl import flags

from benchmarks import configs
from benchmarks import harness

HIDDEN = configs.TOY_HIDDEN
TOY_CONFIG = configs.TOY_CONFIG
OURS = "jaxgan, one jitted step per dispatch"
PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "torch")

_BATCH_SIZE = flags.DEFINE_integer("batch_size", 100, "Examples per D update.")
_SCAN_STEPS = flags.DEFINE_integer("scan_steps", 100, "Steps per dispatch for the scan.")
_SEEDS = flags.DEFINE_integer("seeds", 8, "Seeds trained at once for the vmap.")
_VMAP_SCAN_STEPS = flags.DEFINE_integer("vmap_scan_steps", 10, "Steps per dispatch for the "
                                        "vmap-over-seeds-with-scan row.")
_ROUNDS = flags.DEFINE_integer("rounds", 7, "Round-robin rounds.")
_BLOCK_S = flags.DEFINE_float("block_s", 1.0, "Seconds of steps per implementation per round.")
_WARMUP_S = flags.DEFINE_float("warmup_s", 1.0, "Seconds of warm-up after the first step.")
_THREADS = flags.DEFINE_integer("threads", os.cpu_count(), "Threads per framework.")
_OMP_POLICIES = flags.DEFINE_list("torch_omp_wait_policies", harness.OMP_POLICIES,
                                  harness.OMP_POLICY_HELP)
_KERNELS_ALONE = flags.DEFINE_bool("kernels_alone", True, "Also time the iteration's matmuls alone "
                                   "in XLA and in PyTorch (`benchmarks.kernels_alone`).")
_OUTPUT = flags.DEFINE_string("output", "benchmarks/results/toy_cpu.md",
                              "Markdown results file ('' to only print).")


MATMULS_ALONE = "the iteration's matmuls alone"


def toy_matmuls(batch_size: int):
  from benchmarks import kernels_alone  # pylint: disable=g-import-not-at-top
  return kernels_alone.mlp_matmuls(TOY_CONFIG["latent_dim"], HIDDEN, TOY_CONFIG["data_shape"][0],
                                   batch_size)


def implementations():
  """Ours three (four) ways, then PyTorch eager, then the matmuls alone in each library."""
  scan, seeds, vmap_scan = _SCAN_STEPS.value, _SEEDS.value, _VMAP_SCAN_STEPS.value
  matmuls = toy_matmuls(_BATCH_SIZE.value)
  floors = [
      harness.Implementation(f"XLA: {MATMULS_ALONE} (one program)",
                             "benchmarks.kernels_alone:JaxMatmuls", "jax",
                             dict(matmuls=matmuls)),
      harness.Implementation(f"torch.mm: {MATMULS_ALONE}", "benchmarks.kernels_alone:TorchMatmuls",
                             "torch", dict(matmuls=matmuls),
                             harness.omp_policy_env(_OMP_POLICIES.value[0])),
  ] if _KERNELS_ALONE.value else []
  return [
      harness.Implementation(OURS, "benchmarks.jaxgan_runners:JaxganStep", "jax",
                             dict(config=TOY_CONFIG)),
      harness.Implementation(f"jaxgan, lax.scan of {scan} steps per dispatch (per step)",
                             "benchmarks.jaxgan_runners:JaxganScan", "jax",
                             dict(config=TOY_CONFIG, steps_per_call=scan)),
      harness.Implementation(f"jaxgan, vmap over {seeds} seeds (per seed-step)",
                             "benchmarks.jaxgan_runners:JaxganVmap", "jax",
                             dict(config=TOY_CONFIG, seeds=seeds)),
      harness.Implementation(f"jaxgan, vmap over {seeds} seeds x scan of {vmap_scan} steps "
                             "(per seed-step)", "benchmarks.jaxgan_runners:JaxganVmap", "jax",
                             dict(config=TOY_CONFIG, seeds=seeds, steps_per_call=vmap_scan)),
  ] + [
      harness.Implementation(harness.torch_eager_name(policy), "benchmarks.torch_toy:TorchToyGAN",
                             "torch", dict(hidden=HIDDEN, latent_dim=2, data_dim=2,
                                           learning_rate=1e-4), harness.omp_policy_env(policy))
      for policy in _OMP_POLICIES.value
  ] + floors


def timing_table(results) -> str:
  """Markdown: per implementation, ms per (seed-)step, steps/s and the time ratio to the fastest
  PyTorch eager row."""
  lines = ["| implementation | ms / step (median) | IQR (ms) | steps / s "
           "| this / fastest PyTorch (time) | first call (s) |", "|---|---:|---:|---:|---:|---:|"]
  for row in results.values():
    torch_result = harness.fastest(row, "PyTorch")
    for result in row:
      if result.error:
        lines.append(f"| {result.name} | failed: {result.error} | | | | |")
        continue
      q1, q3 = result.quartiles_s()
      ratio = harness.paired_ratio(result, torch_result) if torch_result else float("nan")
      lines.append(f"| {result.name} | {harness.fmt(1e3 * result.median_s, 3)} "
                   f"| {harness.fmt(1e3 * q1, 3)}–{harness.fmt(1e3 * q3, 3)} "
                   f"| {harness.fmt(1 / result.median_s, 0)} | {harness.fmt(ratio, 3)} "
                   f"| {harness.fmt(result.first_step_s, 1)} |")
  return "\n".join(lines)


def model_summary(batch_size: int, results, peaks) -> str:
  """Parameter counts (the PyTorch model asserts the same), XLA's FLOPs per step, and the floor
  that the matmul peak puts under any implementation's step time."""
  import jax  # pylint: disable=g-import-not-at-top
  from benchmarks import flops, jaxgan_runners, torch_toy  # pylint: disable=g-import-not-at-top
  from gan import step  # pylint: disable=g-import-not-at-top
  gan, _ = jaxgan_runners.build(TOY_CONFIG)
  state = step.create_state(gan, jax.random.key(0))
  count = lambda tree: sum(x.size for x in jax.tree.leaves(tree))
  g, d = count(state.g_params), count(state.d_params)
  assert g == torch_toy.mlp_params(2, HIDDEN, 2) and d == torch_toy.mlp_params(2, HIDDEN, 1)
  work = flops.train_step_flops(TOY_CONFIG, batch_size)
  peak = max(peaks)
  floor_s = work / (peak * 1e9)
  lines = [
      f"Parameters: G {g:,}, D {d:,} (the same in both frameworks). XLA counts "
      f"{work / 1e9:.3f} GFLOP per iteration (multiply-adds of the matmuls, nearly all of it).",
      "",
      flops.describe_peak(peaks) + " At that rate an iteration cannot take less than "
      f"**{1e3 * floor_s:.3f} ms**, whoever runs it.",
  ]
  torch_result = harness.fastest(results[batch_size], "PyTorch")
  if torch_result:
    lines += ["", f"The fastest PyTorch row ({torch_result.name}) took "
              f"{1e3 * torch_result.median_s:.3f} ms: being k times faster needs "
              f"{torch_result.median_s / floor_s:.2f} / k of the peak, so no implementation on "
              f"this machine can be more than {torch_result.median_s / floor_s:.2f}x faster than "
              "it. Achieved GFLOP/s per row:", ""]
    lines += [f"- {r.name}: {work / r.median_s / 1e9:.1f} GFLOP/s "
              f"({100 * work / r.median_s / 1e9 / peak:.0f}% of peak)"
              for r in results[batch_size] if r.error is None and MATMULS_ALONE not in r.name]
    lines += ["", kernels_alone_summary(batch_size, results[batch_size], torch_result)]
  return "\n".join(lines)


def kernels_alone_summary(batch_size: int, row, torch_result) -> str:
  """What the matmuls-alone rows say about being 3x faster than PyTorch eager."""
  from benchmarks import kernels_alone  # pylint: disable=g-import-not-at-top
  matmuls = toy_matmuls(batch_size)
  work = kernels_alone.matmul_flops(matmuls)
  budget = torch_result.median_s / 3
  lines = [f"The iteration's {len(matmuls)} matmuls (forward, weight- and input-gradient passes, "
           f"{work / 1e9:.3f} GFLOP; the same list as the dots in "
           "our step's jaxpr) alone, with nothing else, operands shared by shape, one after "
           f"another. Being 3x faster than {torch_result.name} allows "
           f"{1e3 * budget:.3f} ms per iteration:", ""]
  for r in row:
    if r.error is None and MATMULS_ALONE in r.name:
      lines.append(f"- {r.name}: {1e3 * r.median_s:.3f} ms, "
                   f"{work / r.median_s / 1e9:.1f} GFLOP/s, "
                   f"{r.median_s / budget:.2f}x the 3x budget")
  return "\n".join(lines)


NOTES = """\
Notes:

- One iteration: G on fresh z, a D update on [real; fake] in one D call (both: jaxgan's
  `concat_real_fake=True`, as the toy configs set it, ~5% faster than two calls for this MLP), a
  G update through the frozen D reusing that G forward; Adam(1e-4, beta_1 = 0.5);
  non-saturating loss. Fixed random real data on the device: no input pipeline is timed.
- "per step" rows divide a dispatch's time by the steps (or seed-steps) it did; the ratio is the
  median over rounds of (this / fastest PyTorch row) within a round, so below 1 means faster.
- The matmuls-alone rows (`benchmarks.kernels_alone`) are floors for any implementation that
  uses that library's matmul kernels: XLA's in one jitted program (one dispatch, the calls
  ordered by optimization barriers so that none overlaps another, as in a step), PyTorch's as
  `torch.mm` calls into preallocated outputs under the first `OMP_WAIT_POLICY` flagged.
- PyTorch runs once per `OMP_WAIT_POLICY` flagged; libgomp's default (spinning at barriers) was
  2x faster than PASSIVE for this model on an idle machine. Every worker idles 0.25 s before each
  timed block, so no spinning threads are left over from the block before.
"""


def main(argv):
  del argv
  load_before = os.getloadavg()
  harness.limit_threads("jax", _THREADS.value)
  from benchmarks import flops  # pylint: disable=g-import-not-at-top
  results, peaks = flops.around_peaks(lambda: harness.run_round_robin(
      implementations(), [_BATCH_SIZE.value], rounds=_ROUNDS.value, block_s=_BLOCK_S.value,
      warmup_s=_WARMUP_S.value, threads=_THREADS.value))
  report = "\n\n".join([
      harness.run_header(f"2-D toy GAN (MLP {HIDDEN}, latent 2, batch {_BATCH_SIZE.value}) "
                         "training speed on CPU", PACKAGES, _THREADS.value, load_before),
      model_summary(_BATCH_SIZE.value, results, peaks),
      timing_table(results),
      NOTES,
  ]) + "\n"
  harness.publish_report(report, _OUTPUT.value)


if __name__ == "__main__":
  app.run(main)
