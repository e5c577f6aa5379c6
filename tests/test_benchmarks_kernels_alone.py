"""The kernels-alone floors list exactly the matmuls and convolutions our compiled steps contain.

The lists are written by hand from the algorithm (`benchmarks.kernels_alone`); here they are checked
against the ``dot_general`` and ``conv_general_dilated`` operations in the jaxpr of
`gan.step.train_step` for the very configs the benchmarks time, under the schedule they run with
(`benchmarks.jaxgan_runners.build`), and the runners against plain calls.
"""

import collections
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import configs
from benchmarks import jaxgan_runners
from benchmarks import kernels_alone
from gan import step


def _step_operations(config: dict, batch: int, primitive: str) -> list:
  """Every ``primitive`` equation of the jaxpr of one train step, sub-jaxprs included."""
  gan, schedule = jaxgan_runners.build(config)
  state = jax.eval_shape(functools.partial(step.create_state, gan), jax.random.key(0))
  images = jax.ShapeDtypeStruct((batch,) + gan.data_shape, jnp.float32)
  closed = jax.make_jaxpr(functools.partial(step.train_step, gan, schedule=schedule))(
      state, {"image": images}, jax.random.key(0))
  found = []

  def walk(jaxpr):
    for eqn in jaxpr.eqns:
      if eqn.primitive.name == primitive:
        found.append(eqn)
      for value in eqn.params.values():
        for sub in value if isinstance(value, (tuple, list)) else (value,):
          if hasattr(sub, "eqns"):
            walk(sub)
          elif hasattr(sub, "jaxpr") and hasattr(sub.jaxpr, "eqns"):
            walk(sub.jaxpr)

  walk(closed.jaxpr)
  return found


def test_toy_matmuls_are_the_dots_of_the_toy_step():
  hidden = configs.TOY_HIDDEN
  ours = kernels_alone.mlp_matmuls(2, hidden, 2, batch=100)
  dots = _step_operations(configs.TOY_CONFIG, 100, "dot_general")
  step_shapes = []
  for eqn in dots:
    (contract, _), _ = eqn.params["dimension_numbers"]
    lhs = eqn.invars[0].aval.shape
    k = int(np.prod([lhs[d] for d in contract]))
    step_shapes.append((tuple(sorted(eqn.outvars[0].aval.shape)), k))
  listed = [(tuple(sorted((m, n))), k) for m, k, n in ours]
  assert collections.Counter(listed) == collections.Counter(step_shapes)
  assert len(ours) == 30
  # 22 passes of 100 x 400 x 400 multiply-adds, plus the thin first and last layers.
  np.testing.assert_allclose(kernels_alone.matmul_flops(ours), 0.7064e9, rtol=1e-4)


def test_dcgan28_conv_passes_are_the_convolutions_of_the_step():
  batch = 6  # unlike every channel count, so shapes tell the passes apart
  passes = kernels_alone.dcgan28_conv_passes()
  expected = collections.Counter()
  for p in passes:
    fn, shapes = kernels_alone.conv_pass_fn(p.layer, p.kind, batch)
    out = jax.eval_shape(fn, *[jax.ShapeDtypeStruct(s, jnp.float32) for s in shapes]).shape
    expected[tuple(sorted(out))] += p.count
  convs = _step_operations(configs.DCGAN28_CONFIG, batch, "conv_general_dilated")
  found = collections.Counter(tuple(sorted(e.outvars[0].aval.shape)) for e in convs)
  assert sum(p.count for p in passes) == len(convs) == 20
  assert found == expected


def test_dcgan28_convolutions_in_pieces_are_those_of_the_step_under_its_schedule():
  # D's passes in pieces of 6 and 5 (sizes no channel count or spatial size shares), as the
  # schedule that `d_chunk_size=6` resolves to runs them; G's on the whole batch.
  batch, chunk = 11, 6
  convs = kernels_alone.JaxConvolutions(batch, d_chunk_size=chunk)
  outs = jax.eval_shape(convs.run, convs.operands)
  expected = collections.Counter(tuple(sorted(o.shape)) for o in outs)
  step_convs = _step_operations(dict(configs.DCGAN28_CONFIG, d_chunk_size=chunk), batch,
                                "conv_general_dilated")
  found = collections.Counter(tuple(sorted(e.outvars[0].aval.shape)) for e in step_convs)
  assert len(step_convs) == convs.count
  assert found == expected


@pytest.mark.parametrize("kind", ["forward", "weight_grad", "input_grad"])
def test_conv_pass_fn_matches_autodiff_of_the_layer(kind):
  layer = "D conv_1 5x5 s2 64->128 on 14x14"
  in_shape, w_shape, stride, pad = kernels_alone.DCGAN28_CONVS[layer]
  fn, shapes = kernels_alone.conv_pass_fn(layer, kind, 2)
  keys = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(keys[0], (2,) + in_shape)
  w = jax.random.normal(keys[1], w_shape)
  y, vjp = jax.vjp(lambda x, w: kernels_alone.conv(x, w, stride, pad), x, w)
  dy = jax.random.normal(keys[2], y.shape)
  dx, dw = vjp(dy)
  args, want = {"forward": ((x, w), y), "weight_grad": ((x, dy), dw),
                "input_grad": ((w, dy), dx)}[kind]
  assert [tuple(s) for s in shapes] == [a.shape for a in args]
  np.testing.assert_allclose(fn(*args), want, rtol=1e-5, atol=1e-4)


def test_one_after_another_computes_the_plain_calls():
  a, b, c = (jax.random.normal(k, (3, 3)) for k in jax.random.split(jax.random.key(0), 3))
  fns = [jnp.matmul, jnp.add, lambda u, v: u - v]
  ops = [(a, b), (b, c), (c, a)]
  got = jax.jit(lambda ops: kernels_alone.one_after_another(fns, ops))(ops)
  for g, fn, args in zip(got, fns, ops):
    np.testing.assert_allclose(g, fn(*args), rtol=1e-6)


def test_runners_step():
  runner = kernels_alone.JaxMatmuls(4, [(4, 8, 3), (3, 4, 5)])
  runner.step()
  outs = runner.run(runner.operands)
  assert [o.shape for o in outs] == [(4, 3), (3, 5)]
  convs = kernels_alone.JaxConvolutions(
      2, passes=[kernels_alone.ConvPass("G upconv_1 3x3 64->4x1 on 14x14", "forward", 2)])
  convs.step()
  assert convs.count == 2
  assert [o.shape for o in convs.run(convs.operands)] == [(2, 14, 14, 4)] * 2


def test_convolutions_run_d_in_pieces_like_the_step():
  d_pass = kernels_alone.ConvPass("D conv_0 5x5 s2 1->64 on 28x28", "forward", 3)
  g_pass = kernels_alone.ConvPass("G upconv_1 3x3 64->4x1 on 14x14", "forward", 1)
  convs = kernels_alone.JaxConvolutions(10, d_chunk_size=4, passes=[d_pass, g_pass])
  shapes = [o.shape for o in convs.run(convs.operands)]
  # D: pieces of 4, 4 and 2, three passes each; G: the whole batch.
  assert shapes == ([(4, 14, 14, 64)] * 6 + [(2, 14, 14, 64)] * 3 + [(10, 14, 14, 4)])
