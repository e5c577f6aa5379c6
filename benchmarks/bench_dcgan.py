"""dcgan28 training speed on CPU: jaxgan vs PyTorch (eager and ``torch.compile``) vs the seed's Keras.

All implementations train the same models (the seed's Keras DCGAN for 28x28x1: G 852,609 and D
212,865 trainable parameters) with the same iteration: one D update on a real and a generated
batch, then one G update; Adam(2e-4, beta_1 = 0.5), non-saturating loss from logits. The real
batch is fixed random data, so no input pipeline is timed. They run round robin, each in its own
process (see `benchmarks.harness`), and the table gives the median time per iteration and the
median over rounds of the within-round time ratio. XLA's FLOP count of our step and a measured
matmul peak turn times into GFLOP/s.

Run (in the bench venv, see benchmarks/README.md):

  cd /work/main && PYTHONPATH=. .venv-bench/bin/python -m benchmarks.bench_dcgan

``--variants`` adds our step with each of its optimisations switched off, one at a time.
"""

from __future__ import annotations

import os
from typing import Dict, List

from absl import app
from absl import flags

from benchmarks import configs
from benchmarks import harness

DCGAN28_CONFIG = configs.DCGAN28_CONFIG
OURS = "jaxgan (jit)"


def speed_knobs() -> dict:
  """The speed settings our step runs with under `DCGAN28_CONFIG` (the library's defaults)."""
  from benchmarks import jaxgan_runners  # pylint: disable=g-import-not-at-top
  gan, schedule = jaxgan_runners.build(DCGAN28_CONFIG)
  return dict(phase_decomposed_upsample=gan.generator.phase_decomposed,
              share_generator_forward=schedule.share_generator_forward,
              concat_real_fake=schedule.concat_real_fake, d_dropout=gan.discriminator.dropout_rate,
              xla_cpu_options=dict(schedule.xla_cpu_options), d_chunk_size=schedule.d_chunk_size)


def variants() -> dict:
  """Our step with one speed setting flipped from its default (and without dropout), by name.

  Each is a config override: the model fields change the objective (`gan.config.build_gan`), the
  schedule fields the `gan.step.Schedule` it runs under (`gan.config.resolve_schedule`).
  """
  knobs = speed_knobs()
  label = lambda key, if_true, if_false: if_false if knobs[key] else if_true
  return {
      "jaxgan, " + label("phase_decomposed_upsample", "phase-decomposed upsample",
                         "upsample then conv"):
          dict(phase_decomposed_upsample=not knobs["phase_decomposed_upsample"]),
      "jaxgan, " + label("share_generator_forward", "G forward shared", "G run twice"):
          dict(share_generator_forward=not knobs["share_generator_forward"]),
      "jaxgan, " + label("concat_real_fake", "one D call on [real; fake]",
                         "D on real and fake apart"):
          dict(concat_real_fake=not knobs["concat_real_fake"]),
      "jaxgan, no dropout": dict(d_dropout=0.0),
  } | ({"jaxgan, XLA's default CPU kernels (YNNPACK convolutions)": dict(xla_cpu_options="")}
       if knobs["xla_cpu_options"] else {}) | (
           {"jaxgan, D on whole batches": dict(d_chunk_size=0)} if knobs["d_chunk_size"] else {})

PACKAGES = ("jax", "jaxlib", "flax", "optax", "numpy", "torch", "tensorflow-cpu", "keras")

_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["32", "64", "256"], "Batch sizes to time.")
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Round-robin rounds per batch size.")
_BLOCK_S = flags.DEFINE_float("block_s", 1.5, "Seconds of steps per implementation per round "
                              "(at least one step).")
_WARMUP_S = flags.DEFINE_float("warmup_s", 1.5, "Seconds of warm-up steps after the first step.")
_THREADS = flags.DEFINE_integer("threads", os.cpu_count(), "Threads per framework.")
_TORCH_COMPILE = flags.DEFINE_bool("torch_compile", True, "Include torch.compile (slow to compile "
                                   "on 2 cores: minutes per batch size).")
_CHANNELS_LAST = flags.DEFINE_bool("channels_last", True, "PyTorch activations in NHWC memory "
                                   "layout (the faster one with oneDNN on this CPU).")
_OMP_POLICIES = flags.DEFINE_list("torch_omp_wait_policies", harness.OMP_POLICIES,
                                  harness.OMP_POLICY_HELP)
_KERAS = flags.DEFINE_bool("keras", True, "Include the seed's Keras loop.")
_VARIANTS = flags.DEFINE_bool("variants", False, "Also time our step with each optimisation off.")
_KERNELS_ALONE = flags.DEFINE_bool("kernels_alone", True, "Also time the iteration's convolution "
                                   "passes alone in XLA (`benchmarks.kernels_alone`).")
_OUTPUT = flags.DEFINE_string("output", "benchmarks/results/dcgan28_cpu.md", "Markdown results "
                              "file ('' to only print).")


CONVS_ALONE = "XLA: the iteration's convolutions alone"


def kernels_alone_implementations() -> List[harness.Implementation]:
  """The convolution passes of one iteration with nothing else, under our step's XLA options and
  under XLA's defaults: no XLA program with these kernels does the iteration faster."""
  knobs = speed_knobs()
  return [harness.Implementation(f"{CONVS_ALONE}, our step's kernels",
                                 "benchmarks.kernels_alone:JaxConvolutions", "jax",
                                 dict(compiler_options=knobs["xla_cpu_options"],
                                      d_chunk_size=knobs["d_chunk_size"])),
          harness.Implementation(f"{CONVS_ALONE}, XLA's default kernels",
                                 "benchmarks.kernels_alone:JaxConvolutions", "jax",
                                 dict(compiler_options=None, d_chunk_size=knobs["d_chunk_size"]))]


def implementations() -> List[harness.Implementation]:
  """The contestants the flags ask for, ours first."""
  impls = [harness.Implementation(OURS, "benchmarks.jaxgan_runners:JaxganStep", "jax",
                                  dict(config=DCGAN28_CONFIG))]
  layout = dict(channels_last=_CHANNELS_LAST.value)
  for policy in _OMP_POLICIES.value:
    impls.append(harness.Implementation(harness.torch_eager_name(policy),
                                        "benchmarks.torch_dcgan:TorchDCGAN", "torch",
                                        dict(compile=False, **layout),
                                        harness.omp_policy_env(policy)))
  if _TORCH_COMPILE.value:  # under the first policy only: compiling is slow
    impls.append(harness.Implementation("PyTorch torch.compile",
                                        "benchmarks.torch_dcgan:TorchDCGAN", "torch",
                                        dict(compile=True, **layout),
                                        harness.omp_policy_env(_OMP_POLICIES.value[0])))
  if _KERAS.value:
    impls.append(harness.Implementation("Keras train_on_batch (seed)",
                                        "benchmarks.keras_dcgan:KerasDCGAN", "tensorflow"))
  if _KERNELS_ALONE.value:
    impls += kernels_alone_implementations()
  if _VARIANTS.value:
    for name, override in variants().items():
      impls.append(harness.Implementation(name, "benchmarks.jaxgan_runners:JaxganStep", "jax",
                                          dict(config=dict(DCGAN28_CONFIG, **override))))
  return impls


def timing_table(results: Dict[int, List[harness.Result]]) -> str:
  """Markdown: per batch size and implementation, ms/iteration, images/s and ours/this."""
  lines = ["| batch | implementation | ms / iteration (median) | IQR (ms) | images / s "
           "| ours / this (time) | first step (s) |",
           "|---:|---|---:|---:|---:|---:|---:|"]
  for batch_size, row in results.items():
    ours = row[0]
    for result in row:
      if result.error:
        lines.append(f"| {batch_size} | {result.name} | failed: {result.error} | | | | |")
        continue
      q1, q3 = result.quartiles_s()
      lines.append(
          f"| {batch_size} | {result.name} | {harness.fmt(1e3 * result.median_s)} "
          f"| {harness.fmt(1e3 * q1)}–{harness.fmt(1e3 * q3)} "
          f"| {harness.fmt(batch_size / result.median_s, 0)} "
          f"| {harness.fmt(harness.paired_ratio(ours, result), 3)} "
          f"| {harness.fmt(result.first_step_s, 1)} |")
  return "\n".join(lines)


def targets_table(results: Dict[int, List[harness.Result]]) -> str:
  """Markdown: per batch size, ours against the fastest PyTorch eager row and the Keras loop.

  The issue's targets (batch 64): at most 0.67x PyTorch eager's time and 0.5x the Keras loop's.
  The last column puts the iteration's convolutions alone (the faster of the two XLA rows) against
  the Keras loop: how much of the 0.5x budget they use before anything else runs.
  """
  lines = ["| batch | fastest PyTorch eager row | ours / PyTorch eager (time) "
           "| ours / Keras (time) | fastest convolutions-alone row / Keras (time) |",
           "|---:|---|---:|---:|---:|"]
  for batch_size, row in results.items():
    ours = row[0]
    torch_eager = harness.fastest(row, "PyTorch eager")
    keras = [r for r in row if r.name.startswith("Keras") and r.error is None]
    convs = harness.fastest(row, CONVS_ALONE)
    ratio = lambda a, b: harness.paired_ratio(a, b) if a and b else float("nan")
    lines.append(f"| {batch_size} | {torch_eager.name if torch_eager else '—'} "
                 f"| {harness.fmt(ratio(ours, torch_eager), 3)} "
                 f"| {harness.fmt(ratio(ours, keras[0] if keras else None), 3)} "
                 f"| {harness.fmt(ratio(convs, keras[0] if keras else None), 3)} |")
  return "\n".join(lines)


def flops_table(results: Dict[int, List[harness.Result]], peak: float) -> str:
  """Markdown: XLA's FLOPs per iteration and each implementation's achieved GFLOP/s.

  Ours is credited with the FLOPs its compiled step does; the others, which upsample and then
  convolve, with the FLOPs of our step in that same form (``phase_decomposed_upsample=False``).
  Variants are credited with their own compiled FLOPs.
  """
  from benchmarks import flops  # pylint: disable=g-import-not-at-top
  variant_overrides = variants()
  memo = {}

  def count(config, batch_size):  # a compile each: count each (config, batch size) once
    key = (repr(sorted(config.items())), batch_size)
    if key not in memo:
      memo[key] = flops.train_step_flops(config, batch_size)
    return memo[key]

  lines = ["| batch | GFLOP / iteration, ours (phase-decomposed) | GFLOP / iteration, upsample "
           "then conv | implementation | achieved GFLOP/s | % of matmul peak |",
           "|---:|---:|---:|---|---:|---:|"]
  for batch_size, row in results.items():
    ours = count(DCGAN28_CONFIG, batch_size)
    direct = count(dict(DCGAN28_CONFIG, phase_decomposed_upsample=False), batch_size)
    for result in row:
      if result.error or result.name.startswith(CONVS_ALONE):
        continue
      if result.name == OURS:
        work = ours
      elif result.name in variant_overrides:
        work = count(dict(DCGAN28_CONFIG, **variant_overrides[result.name]), batch_size)
      else:
        work = direct
      achieved = work / result.median_s / 1e9
      lines.append(f"| {batch_size} | {harness.fmt(ours / 1e9, 3)} | {harness.fmt(direct / 1e9, 3)} "
                   f"| {result.name} | {harness.fmt(achieved, 1)} "
                   f"| {harness.fmt(100 * achieved / peak, 0)} |")
  return "\n".join(lines)


NOTES = """\
Notes:

- One iteration everywhere: G forward on fresh z, a D update on real and fake, a G update through
  D with D's weights frozen. jaxgan runs D on real and fake as its `concat_real_fake` default says
  (above); PyTorch makes one D call on [real; fake] (one call or two measured within 5% of each
  other for PyTorch here). jaxgan and PyTorch reuse the D step's G forward for the G update
  (jaxgan pulls the gradient back through a saved VJP, PyTorch through the autograd graph, as in
  the PyTorch DCGAN example); the seed's Keras loop generates with
  `generator.predict_on_batch` (BatchNorm in inference mode), makes one D call on [real; fake],
  and runs G again, in training mode, inside `gan.train_on_batch`, which is what it does.
- jaxgan: `jit_train_step(build_gan(config), resolve_schedule(config))`, state donated, z and
  dropout masks drawn inside the step; time includes `block_until_ready` on the new state. Its
  nearest-upsample + 5x5 conv layers run as a 3x3 conv over four output phases (identical
  function, ~2.8x fewer G FLOPs). Its schedule takes the model family's CPU defaults: it
  compiles with `xla_cpu_options` (above), XLA's own convolution kernels instead of YNNPACK's,
  which XLA:CPU uses by default; and D (no BatchNorm) takes batches above `d_chunk_size` in
  pieces of that size, the same function at a lower per-example cost (see the variants run for
  both).
- PyTorch: channels-last (NHWC) activations (as fast as NCHW at batch 64, 15-25% faster at
  256), `Adam(fused=True)`, one eager row per `OMP_WAIT_POLICY` flagged (libgomp's default spins
  at barriers, which wins on an idle machine and loses badly on a busy one; PASSIVE sleeps); the
  targets table holds ours against the faster row. Every worker idles 0.25 s before each block,
  so no spinning threads are left from the block before. torch.compile runs under the first
  policy only. torch.compile
  compiles G and the two loss functions (forward and backward through AOTAutograd) with static
  shapes, so each batch size compiles anew ("first step" column; Inductor's on-disk cache in
  /tmp/torchinductor_$USER makes later runs quick, a cold compile took 100-190 s per batch size
  on this machine).
- Keras 3 with the TensorFlow backend: `jit_compile='auto'` leaves XLA off on a CPU-only
  TensorFlow. Keras 3 reads `trainable` when it traces a train function, so the loop sets
  D.trainable = True before D's update and False before the combined model's, which is what
  Keras 2's compile-time freezing gave the seed.
- "XLA: the iteration's convolutions alone" (`benchmarks.kernels_alone`): the forward,
  weight-gradient and input-gradient convolutions of one iteration (the 20 in our compiled step,
  as `tests/test_benchmarks_kernels_alone.py` checks; D's in pieces of `d_chunk_size` as our step
  runs them), on random operands shared by shape, one after another in one jitted program,
  under our step's XLA options and under XLA's defaults. No XLA program that does the iteration
  with these kernels can take less time.
- "ours / this": median over rounds of (our median / this median) within a round; below 1 means
  ours is faster. The IQR is over all timed iterations.
"""


def main(argv):
  del argv
  load_before = os.getloadavg()
  impls = implementations()
  batch_sizes = [int(b) for b in _BATCH_SIZES.value]
  harness.limit_threads("jax", _THREADS.value)
  from benchmarks import flops  # pylint: disable=g-import-not-at-top
  results, peaks = flops.around_peaks(lambda: harness.run_round_robin(
      impls, batch_sizes, rounds=_ROUNDS.value, block_s=_BLOCK_S.value,
      warmup_s=_WARMUP_S.value, threads=_THREADS.value))
  peak = max(peaks)
  report = "\n\n".join([
      harness.run_header("dcgan28 training speed on CPU", PACKAGES, _THREADS.value,
                         load_before),
      "Our step's speed settings (the library defaults at run time): " + ", ".join(
          f"`{k}={v}`" for k, v in speed_knobs().items()) + ".",
      "## Time per iteration", timing_table(results),
      "## Against the targets", targets_table(results),
      "## FLOPs (XLA cost analysis) and achieved throughput",
      flops.describe_peak(peaks) + " The machine is shared, so the peak it offers moves with "
      "the load; read '% of peak' loosely.",
      flops_table(results, peak),
      NOTES,
  ]) + "\n"
  harness.publish_report(report, _OUTPUT.value)


if __name__ == "__main__":
  app.run(main)
