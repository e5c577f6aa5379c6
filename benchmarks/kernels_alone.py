"""One iteration's matmuls (toy) or convolutions (dcgan28) with nothing else: a floor per library.

The FLOPs/peak floor (`benchmarks.flops`) assumes every multiply-add runs at the rate of one large
square matmul. A GAN step's own matmuls and convolutions are smaller and shaped otherwise, and no
implementation that calls a given kernel library can be faster than that library running just
those operations. These runners time exactly that, in the same round robin as the real steps:

* `mlp_matmuls` lists the matmuls one toy iteration needs (`benchmarks.bench_toy`'s iteration: a D
  update on ``[real; fake]``, a G update through the updated D reusing the G forward), forward,
  weight-gradient and input-gradient passes, each ``(m, k, n)``. `JaxMatmuls` runs them all in one
  jitted program (XLA's kernels, one dispatch); `TorchMatmuls` calls ``torch.mm`` for each, as
  eager PyTorch does.
* `dcgan28_conv_passes` lists dcgan28's convolution passes per iteration (20, the number of
  convolution instructions in our compiled step, which `tests/test_benchmarks_kernels_alone.py`
  checks); `JaxConvolutions` runs them in one jitted program, under our compiler options or XLA's
  default ones.

Operations of the same shape read the same random operands, as a step's passes reuse one layer's
weights and activations (fresh operands for every call were 1.1x slower for the toy: more of them
fall out of the caches); the optimization barriers that order the calls also keep XLA from merging
repeated ones.
"""

from __future__ import annotations

import dataclasses
from typing import List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp

Matmul = Tuple[int, int, int]  # (m, k, n): [m, k] @ [k, n]


def net_matmuls(widths: Sequence[int], batch: int, *, forward: bool, weight_grads: bool,
                input_grad: bool) -> List[Matmul]:
  """The matmuls of a fully connected net ``widths[0] -> ... -> widths[-1]`` on ``batch`` rows.

  Args:
    widths: layer widths, input first.
    batch: rows of the input.
    forward: include each layer's ``x @ W``.
    weight_grads: include each layer's ``x^T @ dy`` (the net's parameters are being trained).
    input_grad: include ``dy @ W^T`` of the first layer too (the gradient reaches the net's input).
      The other layers' input gradients are included whenever any gradient flows (either flag).
  """
  layers = list(zip(widths[:-1], widths[1:]))
  out: List[Matmul] = []
  if forward:
    out += [(batch, w_in, w_out) for w_in, w_out in layers]
  if weight_grads:
    out += [(w_in, batch, w_out) for w_in, w_out in layers]
  if weight_grads or input_grad:
    out += [(batch, w_out, w_in) for i, (w_in, w_out) in enumerate(layers) if i > 0 or input_grad]
  return out


def mlp_matmuls(latent_dim: int, hidden: Sequence[int], data_dim: int, batch: int) -> List[Matmul]:
  """The matmuls of one toy GAN iteration with D on ``[real; fake]`` in one call.

  G forward on ``batch`` (shared by both updates); D update: D forward, weight and input gradients
  on ``2 * batch`` (the input gradient of D's first layer is not needed); G update: D forward on
  the fake with the updated D, D's input gradients down to the fake, G's weight and input
  gradients (not G's first-layer input gradient: z is not trained).
  """
  g_widths = [latent_dim, *hidden, data_dim]
  d_widths = [data_dim, *hidden, 1]
  return (net_matmuls(g_widths, batch, forward=True, weight_grads=False, input_grad=False)
          + net_matmuls(d_widths, 2 * batch, forward=True, weight_grads=True, input_grad=False)
          + net_matmuls(d_widths, batch, forward=True, weight_grads=False, input_grad=True)
          + net_matmuls(g_widths, batch, forward=False, weight_grads=True, input_grad=False))


def matmul_flops(matmuls: Sequence[Matmul]) -> float:
  return float(sum(2 * m * k * n for m, k, n in matmuls))


class _Operands:
  """Standard normal arrays by name: the same array for the same name."""

  def __init__(self):
    self.arrays = {}

  def __call__(self, name, shape) -> jax.Array:
    if name not in self.arrays:
      self.arrays[name] = jax.random.normal(jax.random.key(len(self.arrays)), shape)
    return self.arrays[name]


def one_after_another(fns, operands) -> list:
  """``[fn(*args) for fn, args in zip(fns, operands)]``, each call starting after the last ended.

  XLA:CPU runs independent operations concurrently; a step's matmuls and convolutions mostly depend
  on each other, so here each call's operands pass through an optimization barrier with the
  previous result (no arithmetic, only the ordering).
  """
  outs = []
  for fn, args in zip(fns, operands):
    if outs:
      args, _ = jax.lax.optimization_barrier((args, outs[-1]))
    outs.append(fn(*args))
  return outs


class JaxMatmuls:
  """All ``matmuls`` in one jitted XLA program, one after another.

  Args:
    batch_size: the toy's batch (passed by the harness; the shapes already carry it).
    matmuls: ``(m, k, n)`` per matmul.
    compiler_options: XLA options to compile with (None: XLA's defaults, as the toy's step).
  """
  work = 1

  def __init__(self, batch_size: int, matmuls: Sequence[Matmul],
               compiler_options: Optional[dict] = None):
    del batch_size
    array = _Operands()
    self.operands = [(array(("a", m, k), (m, k)), array(("b", k, n), (k, n)))
                     for m, k, n in matmuls]
    self.run = jax.jit(lambda ops: one_after_another([jnp.matmul] * len(ops), ops),
                       compiler_options=compiler_options)

  def step(self):
    jax.block_until_ready(self.run(self.operands))


class TorchMatmuls:
  """``torch.mm`` for each of ``matmuls`` in turn into preallocated outputs (PyTorch's kernels)."""
  work = 1

  def __init__(self, batch_size: int, matmuls: Sequence[Matmul]):
    del batch_size
    import torch  # pylint: disable=g-import-not-at-top
    torch.manual_seed(0)
    self._mm = torch.mm
    shared = {}
    tensor = lambda key, shape: shared.setdefault(key, torch.randn(*shape))
    self.operands = [(tensor(("a", m, k), (m, k)), tensor(("b", k, n), (k, n)),
                      tensor(("out", m, n), (m, n))) for m, k, n in matmuls]

  def step(self):
    for a, b, out in self.operands:
      self._mm(a, b, out=out)


@dataclasses.dataclass(frozen=True)
class ConvPass:
  """One convolution pass of an iteration.

  Attributes:
    layer: the layer's name in `DCGAN28_CONVS`.
    kind: ``'forward'``, ``'weight_grad'`` or ``'input_grad'``.
    count: how many times one iteration runs it.
  """
  layer: str
  kind: str
  count: int


# name: (input [H, W, C], kernel [k, k, C, O], stride, padding): dcgan28's four convolutions, the
# upsampling ones in their phase-decomposed form (as the step runs them).
DCGAN28_CONVS = {
    "D conv_0 5x5 s2 1->64 on 28x28": ((28, 28, 1), (5, 5, 1, 64), 2, ((1, 2), (1, 2))),
    "D conv_1 5x5 s2 64->128 on 14x14": ((14, 14, 64), (5, 5, 64, 128), 2, ((1, 2), (1, 2))),
    "G upconv_0 3x3 128->4x64 on 7x7": ((7, 7, 128), (3, 3, 128, 256), 1, ((1, 1), (1, 1))),
    "G upconv_1 3x3 64->4x1 on 14x14": ((14, 14, 64), (3, 3, 64, 4), 1, ((1, 1), (1, 1))),
}


def dcgan28_conv_passes() -> List[ConvPass]:
  """The convolution passes of one dcgan28 iteration (D on real and on fake in separate calls).

  D's layers run forward three times (real and fake in the D update, fake in the G update), their
  weight gradients twice (real and fake) and conv_1's input gradient three times (twice for
  conv_0's weight gradient, once on the way to the fake); conv_0's input gradient only in the G
  update. G's layers run each pass once: the forward is shared, and the G update needs both
  gradients.
  """
  d0, d1, g0, g1 = DCGAN28_CONVS
  return [ConvPass(d0, "forward", 3), ConvPass(d0, "weight_grad", 2), ConvPass(d0, "input_grad", 1),
          ConvPass(d1, "forward", 3), ConvPass(d1, "weight_grad", 2), ConvPass(d1, "input_grad", 3),
          ConvPass(g0, "forward", 1), ConvPass(g0, "weight_grad", 1), ConvPass(g0, "input_grad", 1),
          ConvPass(g1, "forward", 1), ConvPass(g1, "weight_grad", 1), ConvPass(g1, "input_grad", 1)]


def conv(x, w, stride, pad):
  return jax.lax.conv_general_dilated(x, w, (stride, stride), pad,
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def conv_pass_fn(layer: str, kind: str, batch: int):
  """``(fn, operand shapes)`` computing one pass of ``layer`` on ``batch`` examples: forward
  ``fn(x, w)``, weight gradient ``fn(x, dy)`` or input gradient ``fn(w, dy)``, as autodiff emits
  them."""
  in_shape, w_shape, stride, pad = DCGAN28_CONVS[layer]
  out_hw = [(size + lo + hi - w_shape[0]) // stride + 1
            for size, (lo, hi) in zip(in_shape[:2], pad)]
  x_shape = (batch,) + tuple(in_shape)
  dy_shape = (batch,) + tuple(out_hw) + (w_shape[3],)
  if kind == "forward":
    return (lambda x, w: conv(x, w, stride, pad)), (x_shape, tuple(w_shape))
  if kind == "weight_grad":
    def weight_grad(x, dy):
      zero = jnp.zeros(w_shape, x.dtype)
      return jax.vjp(lambda w: conv(x, w, stride, pad), zero)[1](dy)[0]
    return weight_grad, (x_shape, dy_shape)
  if kind == "input_grad":
    def input_grad(w, dy):
      zero = jnp.zeros(x_shape, w.dtype)
      return jax.vjp(lambda x: conv(x, w, stride, pad), zero)[1](dy)[0]
    return input_grad, (tuple(w_shape), dy_shape)
  raise ValueError(f"Unknown pass kind {kind!r}; use 'forward', 'weight_grad' or 'input_grad'.")


class JaxConvolutions:
  """The convolution passes of one dcgan28 iteration in one jitted XLA program.

  Args:
    batch_size: examples per update.
    compiler_options: XLA options (``None``: XLA's defaults; the benchmark passes our step's).
    d_chunk_size: as `gan.step.Schedule.d_chunk_size`: D's passes on more examples than this run in
      pieces of this size (and one for the rest), as our step runs them; 0: whole batches.
    passes: the passes (default: `dcgan28_conv_passes`).
  """
  work = 1

  def __init__(self, batch_size: int, compiler_options: Optional[dict] = None,
               d_chunk_size: int = 0, passes: Optional[Sequence[ConvPass]] = None):
    fns, operands, array = [], [], _Operands()
    for p in passes or dcgan28_conv_passes():
      pieces = [batch_size]
      if p.layer.startswith("D ") and 0 < d_chunk_size < batch_size:
        pieces = [d_chunk_size] * (batch_size // d_chunk_size) + (
            [batch_size % d_chunk_size] if batch_size % d_chunk_size else [])
      for piece in pieces:
        fn, shapes = conv_pass_fn(p.layer, p.kind, piece)
        for _ in range(p.count):
          operands.append(tuple(array((p.layer, p.kind, i, shape), shape)
                                for i, shape in enumerate(shapes)))
          fns.append(fn)
    self.count = len(fns)
    self.operands = operands
    self.run = jax.jit(lambda ops: one_after_another(fns, ops), compiler_options=compiler_options)

  def step(self):
    jax.block_until_ready(self.run(self.operands))

