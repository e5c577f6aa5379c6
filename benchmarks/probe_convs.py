r"""dcgan28's convolutions on their own: forward + both gradients, per kernel library and form.

The measurements behind two speed settings and behind the forms that were tried and dropped:

* each of the 20 convolution passes of one dcgan28 iteration at batch 64 alone (forward, weight
  gradient, input gradient; `benchmarks.kernels_alone`), under both kernel choices, and their sums
  over the iteration, including the faster choice for every pass;
* per layer and batch size, ``lax.conv`` (forward, weight and input gradient of ``sum(y**2)``)
  under XLA:CPU's default kernels (YNNPACK convolutions) and under the conv families' CPU XLA
  options (`gan.models.get('dcgan28').cpu_xla_options`: XLA's own kernels): what the schedule's
  `xla_cpu_options` and `d_chunk_size` defaults rest on (the per-example cost by batch size);
* the same layers as im2col + one matmul;
* D's 5x5 stride-2 conv as a 3x3 conv on a space-to-depth input, and its weight gradient as 25
  per-tap matmuls / its input gradient as one stride-1 conv over four output phases.

Every alternative is checked against ``lax.conv`` (largest difference relative to the largest
value) before it is timed. Median of 50 calls, after a warm-up call, alternating the forms.

  cd /work/main && PYTHONPATH=. python -m benchmarks.probe_convs [--batch_sizes=16,32,64,128]
"""

from __future__ import annotations

import statistics
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp

from benchmarks import kernels_alone
from gan import models

_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["16", "32", "64", "128"], "Batch sizes.")
_CALLS = flags.DEFINE_integer("calls", 50, "Timed calls per form.")

DN = ("NHWC", "HWIO", "NHWC")
LAYERS = kernels_alone.DCGAN28_CONVS  # name: (input shape, kernel shape, stride, padding)
OURS = dict(models.get("dcgan28").cpu_xla_options)
conv = kernels_alone.conv


def conv_im2col(x, w, stride, pad):
  k = w.shape[0]
  xp = jnp.pad(x, ((0, 0), pad[0], pad[1], (0, 0)))
  h = (xp.shape[1] - k) // stride + 1
  wd = (xp.shape[2] - k) // stride + 1
  cols = [xp[:, i:i + stride * (h - 1) + 1:stride, j:j + stride * (wd - 1) + 1:stride, :]
          for i in range(k) for j in range(k)]
  patches = jnp.concatenate(cols, axis=-1)
  out = jnp.dot(patches.reshape(-1, patches.shape[-1]), w.reshape(-1, w.shape[-1]))
  return out.reshape(x.shape[0], h, wd, -1)


def conv1_space_to_depth(x, w, stride, pad):
  """D conv_1 (5x5, stride 2, SAME on 14x14) as a 3x3 stride-1 conv on 9x9x(4C) phases."""
  del stride, pad
  b, _, _, c = x.shape
  xp = jnp.pad(x, ((0, 0), (1, 3), (1, 3), (0, 0)))
  xs = xp.reshape(b, 9, 2, 9, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, 9, 9, 4 * c)
  k = jnp.pad(w, ((0, 1), (0, 1), (0, 0), (0, 0)))
  ks = k.reshape(3, 2, 3, 2, c, -1).transpose(0, 2, 1, 3, 4, 5).reshape(3, 3, 4 * c, -1)
  return jax.lax.conv_general_dilated(xs, ks, (1, 1), "VALID", dimension_numbers=DN)


def conv1_weight_grad_per_tap(x, dy):
  """D conv_1's weight gradient as 25 matmuls, one per kernel tap."""
  xp = jnp.pad(x, ((0, 0), (1, 2), (1, 2), (0, 0)))
  contract = (((0, 1, 2), (0, 1, 2)), ((), ()))
  return jnp.stack([jnp.stack([
      jax.lax.dot_general(xp[:, u:u + 13:2, v:v + 13:2, :], dy, contract) for v in range(5)])
      for u in range(5)])


def conv1_input_grad_phases(w, dy):
  """D conv_1's input gradient as one 3x3 conv of dy over the four output phases.

  Forward: y[o] = sum_u x[2o + u - 1] w[u], so dx[2i + p] = sum_a dy[i - 1 + a] w[u(p, a)]^T with
  u(0, .) = {0: 3, 1: 1} and u(1, .) = {0: 4, 1: 2, 2: 0}; missing taps are zero.
  """
  taps = {0: {0: 3, 1: 1}, 1: {0: 4, 1: 2, 2: 0}}
  c, o = w.shape[2], w.shape[3]
  zero = jnp.zeros((c, o), w.dtype)
  k = jnp.stack([jnp.stack([jnp.stack([jnp.stack([
      w[taps[p][a], taps[q][b]] if a in taps[p] and b in taps[q] else zero
      for q in (0, 1)]) for p in (0, 1)]) for b in range(3)]) for a in range(3)])
  k = jnp.transpose(k, (0, 1, 5, 2, 3, 4)).reshape(3, 3, o, 4 * c)
  y = jax.lax.conv_general_dilated(dy, k, (1, 1), ((1, 1), (1, 1)), dimension_numbers=DN)
  b, h, wd, _ = y.shape
  return y.reshape(b, h, wd, 2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, 2 * h, 2 * wd, c)


def forward_and_grads(form, stride, pad, options):
  def loss(x, w):
    y = form(x, w, stride, pad)
    return jnp.sum(y * y)
  return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)), compiler_options=options)


def relative_difference(a, b):
  return max(float(jnp.max(jnp.abs(u - v)) / jnp.max(jnp.abs(u)))
             for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def time_alternating(fns: dict, args: dict, calls: int) -> dict:
  """Median seconds per call of each ``fns[name](*args[name])``, the forms taking turns."""
  for name, fn in fns.items():
    jax.block_until_ready(fn(*args[name]))
  times = {name: [] for name in fns}
  for _ in range(calls // 5):
    for name, fn in fns.items():
      for _ in range(5):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args[name]))
        times[name].append(time.perf_counter() - start)
  return {name: statistics.median(t) for name, t in times.items()}


def layers_table(batch_sizes, calls) -> str:
  lines = ["| layer | batch | XLA default kernels (ms) | ours (ms) | ours per example (µs) "
           "| im2col + matmul, ours (ms) | im2col rel. diff |", "|---|---:|---:|---:|---:|---:|---:|"]
  for name, (in_shape, w_shape, stride, pad) in LAYERS.items():
    for batch in batch_sizes:
      x = jax.random.normal(jax.random.key(0), (batch,) + in_shape)
      w = 0.05 * jax.random.normal(jax.random.key(1), w_shape)
      fns = {"default": forward_and_grads(conv, stride, pad, None),
             "ours": forward_and_grads(conv, stride, pad, OURS),
             "im2col": forward_and_grads(conv_im2col, stride, pad, OURS)}
      diff = relative_difference(fns["ours"](x, w), fns["im2col"](x, w))
      t = time_alternating(fns, {k: (x, w) for k in fns}, calls)
      lines.append(f"| {name} | {batch} | {1e3 * t['default']:.2f} | {1e3 * t['ours']:.2f} "
                   f"| {1e6 * t['ours'] / batch:.0f} | {1e3 * t['im2col']:.2f} | {diff:.1e} |")
  return "\n".join(lines)


def passes_table(batch, calls) -> str:
  """Each convolution pass of one dcgan28 iteration alone, under both kernel choices, and the sums
  over the iteration: with our options, with XLA's defaults, and with the faster of the two for
  every pass (which no single program can choose, XLA's options being per program)."""
  lines = ["| layer | pass | per iteration | ours (ms) | XLA default kernels (ms) |",
           "|---|---|---:|---:|---:|"]
  totals = {"ours": 0.0, "default": 0.0, "best": 0.0}
  for p in kernels_alone.dcgan28_conv_passes():
    fn, shapes = kernels_alone.conv_pass_fn(p.layer, p.kind, batch)
    args = tuple(jax.random.normal(jax.random.key(i), s) for i, s in enumerate(shapes))
    fns = {"ours": jax.jit(fn, compiler_options=OURS), "default": jax.jit(fn)}
    t = time_alternating(fns, {k: args for k in fns}, calls)
    totals["ours"] += p.count * t["ours"]
    totals["default"] += p.count * t["default"]
    totals["best"] += p.count * min(t.values())
    lines.append(f"| {p.layer} | {p.kind.replace('_', ' ')} | {p.count} | {1e3 * t['ours']:.2f} "
                 f"| {1e3 * t['default']:.2f} |")
  return "\n".join(
      [f"One dcgan28 iteration's {sum(p.count for p in kernels_alone.dcgan28_conv_passes())} "
       f"convolution passes at batch {batch}, each alone:", ""] + lines + [
           "", f"Sum over the iteration: ours {1e3 * totals['ours']:.1f} ms, XLA default kernels "
           f"{1e3 * totals['default']:.1f} ms, the faster of the two for each pass "
           f"{1e3 * totals['best']:.1f} ms."])


def conv1_forms_table(batch, calls) -> str:
  in_shape, w_shape, stride, pad = LAYERS["D conv_1 5x5 s2 64->128 on 14x14"]
  x = jax.random.normal(jax.random.key(0), (batch,) + in_shape)
  w = 0.05 * jax.random.normal(jax.random.key(1), w_shape)
  dy = jax.random.normal(jax.random.key(2), (batch, 7, 7, 128))
  jit = lambda f: jax.jit(f, compiler_options=OURS)
  fns = {
      "lax.conv, forward + both gradients": forward_and_grads(conv, stride, pad, OURS),
      "space-to-depth 3x3 conv, forward + both gradients":
          forward_and_grads(conv1_space_to_depth, stride, pad, OURS),
      "lax.conv weight gradient": jit(lambda x, dy: jax.vjp(
          lambda w: conv(x, w, stride, pad), w)[1](dy)[0]),
      "weight gradient as 25 per-tap matmuls": jit(conv1_weight_grad_per_tap),
      "lax.conv input gradient": jit(lambda w, dy: jax.vjp(
          lambda x: conv(x, w, stride, pad), x)[1](dy)[0]),
      "input gradient as one conv over four output phases": jit(conv1_input_grad_phases),
  }
  args = {name: (x, w) for name in list(fns)[:2]}
  args.update({name: (x, dy) for name in list(fns)[2:4]})
  args.update({name: (w, dy) for name in list(fns)[4:]})
  names = list(fns)
  reference = {names[1]: names[0], names[3]: names[2], names[5]: names[4]}
  t = time_alternating(fns, args, calls)
  lines = [f"D conv_1 at batch {batch}, XLA's own kernels:", "",
           "| form | ms | rel. diff to lax.conv |", "|---|---:|---:|"]
  for name in names:
    diff = (relative_difference(fns[reference[name]](*args[reference[name]]),
                                fns[name](*args[name])) if name in reference else 0.0)
    lines.append(f"| {name} | {1e3 * t[name]:.2f} | {diff:.1e} |")
  return "\n".join(lines)


def main(argv):
  del argv
  batch_sizes = [int(b) for b in _BATCH_SIZES.value]
  print(f"XLA:CPU options of ours: {OURS}; jax {jax.__version__} on {jax.default_backend()}\n")
  print(layers_table(batch_sizes, _CALLS.value) + "\n")
  print(passes_table(64, _CALLS.value) + "\n")
  print(conv1_forms_table(64, _CALLS.value))


if __name__ == "__main__":
  app.run(main)
