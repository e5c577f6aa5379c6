"""Tests for gan/batching.py: batched_apply pads, runs and unpads exactly as documented."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan import batching


class Recorder:
  """A row-wise function that remembers every batch it was given."""

  def __init__(self):
    self.batches = []

  def __call__(self, batch):
    self.batches.append(jax.tree.map(np.asarray, batch))
    return 2.0 * batch + 1.0


def test_uneven_rows_are_padded_with_pad_value_and_dropped():
  x = np.arange(7 * 2, dtype=np.float32).reshape(7, 2)
  fn = Recorder()
  out = batching.batched_apply(fn, x, batch_size=3, pad_value=-5.0)
  np.testing.assert_array_equal(out, 2.0 * x + 1.0)
  assert isinstance(out, np.ndarray) and out.shape == (7, 2)
  # Batches 0..2, 3..5, then row 6 and two rows of padding: fn really sees the pad value.
  assert [b.shape for b in fn.batches] == [(3, 2)] * 3
  np.testing.assert_array_equal(fn.batches[0], x[:3])
  np.testing.assert_array_equal(fn.batches[1], x[3:6])
  np.testing.assert_array_equal(fn.batches[2], [[12.0, 13.0], [-5.0, -5.0], [-5.0, -5.0]])


def test_rows_dividing_evenly_are_not_padded():
  x = np.arange(6, dtype=np.float32)
  fn = Recorder()
  np.testing.assert_array_equal(batching.batched_apply(fn, x, batch_size=2), 2.0 * x + 1.0)
  np.testing.assert_array_equal(np.stack(fn.batches), x.reshape(3, 2))


def test_batch_larger_than_input_is_one_padded_call():
  fn = Recorder()
  out = batching.batched_apply(fn, np.array([1.0, 2.0]), batch_size=4)
  np.testing.assert_array_equal(out, [3.0, 5.0])
  np.testing.assert_array_equal(fn.batches[0], [1.0, 2.0, 0.0, 0.0])  # default pad_value 0.


def test_pytree_inputs_and_outputs():
  inputs = {"x": np.arange(5, dtype=np.float32), "label": np.array([3, 1, 4, 1, 5], np.int32)}
  seen = []

  @jax.jit
  def fn(batch):
    return {"sum": batch["x"] + batch["label"], "pair": (batch["label"] * 10, batch["x"][:, None])}

  def recording_fn(batch):
    seen.append(jax.tree.map(np.asarray, batch))
    return fn(batch)

  out = batching.batched_apply(recording_fn, inputs, batch_size=2, pad_value=-1.0)
  np.testing.assert_array_equal(out["sum"], [3.0, 2.0, 6.0, 4.0, 9.0])
  np.testing.assert_array_equal(out["pair"][0], [30, 10, 40, 10, 50])
  assert out["pair"][0].dtype == np.int32
  np.testing.assert_array_equal(out["pair"][1], np.arange(5, dtype=np.float32)[:, None])
  # The last batch pads every leaf, each in its own dtype.
  np.testing.assert_array_equal(seen[-1]["x"], [4.0, -1.0])
  np.testing.assert_array_equal(seen[-1]["label"], [5, -1])
  assert seen[-1]["label"].dtype == np.int32


def test_jax_inputs_give_numpy_outputs_equal_to_one_call():
  x = jax.random.normal(jax.random.key(0), (11, 4))
  fn = jax.jit(lambda b: jnp.tanh(b) @ jnp.ones((4, 3)))
  out = batching.batched_apply(fn, x, batch_size=4)
  assert isinstance(out, np.ndarray)
  np.testing.assert_allclose(out, np.asarray(fn(x)), rtol=1e-6, atol=1e-6)


def test_empty_input_gives_empty_outputs_of_the_right_shape_without_running_fn():
  calls = []

  def fn(batch):
    calls.append(1)
    return {"y": jnp.zeros((batch.shape[0], 3), jnp.int32), "z": batch.sum(axis=1)}

  out = batching.batched_apply(fn, np.zeros((0, 5), np.float32), batch_size=8)
  assert out["y"].shape == (0, 3) and out["y"].dtype == np.int32
  assert out["z"].shape == (0,) and out["z"].dtype == np.float32
  assert len(calls) == 1  # Traced once by jax.eval_shape; no call with concrete arrays.


@pytest.mark.parametrize("batch_size", [0, -2, 2.0, True, None])
def test_bad_batch_size(batch_size):
  with pytest.raises(ValueError, match=f"batch_size must be a positive int, got {batch_size!r}"):
    batching.batched_apply(lambda b: b, np.zeros(3), batch_size)


def test_inputs_with_different_row_counts():
  with pytest.raises(ValueError, match=r"share their leading dimension; got \[3, 4\]"):
    batching.batched_apply(lambda b: b, (np.zeros(3), np.zeros((4, 2))), 2)


def test_no_inputs():
  with pytest.raises(ValueError, match="at least one input array"):
    batching.batched_apply(lambda b: b, {}, 2)
