"""Tests for gan/checkpointing.py: every kind of damage is caught, reported and stepped around."""

import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gan import checkpointing


def make_state(scale):
  return {"w": scale * jnp.arange(20000, dtype=jnp.float32).reshape(200, 100),
          "b": scale * jnp.ones((7,)), "step": jnp.int32(int(scale))}


@pytest.fixture
def saved(tmp_path):
  directory = str(tmp_path / "checkpoints")
  checkpointer = checkpointing.Checkpointer(directory, keep=3, log=lambda m: None)
  checkpointer.save(1, make_state(1.0))
  checkpointer.save(2, make_state(2.0))
  return directory


def _largest_file(root):
  files = [os.path.join(d, f) for d, _, names in os.walk(root) for f in names]
  return max(files, key=os.path.getsize)


def _flip_bytes(directory):
  path = _largest_file(os.path.join(directory, "2", "state"))
  data = bytearray(open(path, "rb").read())
  for i in range(len(data) // 3, len(data) // 3 + 16):
    data[i] ^= 0xFF
  open(path, "wb").write(bytes(data))


def _truncate(directory):
  path = _largest_file(os.path.join(directory, "2", "state"))
  with open(path, "r+b") as f:
    f.truncate(os.path.getsize(path) // 2)


def _delete_file(directory):
  os.remove(_largest_file(os.path.join(directory, "2", "state")))


def _delete_step_dir(directory):
  shutil.rmtree(os.path.join(directory, "2"))


def _swap_in_other_arrays(directory):
  # Valid arrays that are not the ones written for step 2: only the checksum can tell.
  shutil.rmtree(os.path.join(directory, "2", "state"))
  shutil.copytree(os.path.join(directory, "1", "state"), os.path.join(directory, "2", "state"))


def test_round_trip_and_checksum(saved):
  checkpointer = checkpointing.Checkpointer(saved)
  step, state = checkpointer.restore_latest_good(make_state(0.0))
  assert step == 2
  jax.tree.map(np.testing.assert_array_equal, state, make_state(2.0))
  assert checkpointing.tree_checksum(state) == checkpointing.tree_checksum(make_state(2.0))
  assert checkpointing.tree_checksum(make_state(1.0)) != checkpointing.tree_checksum(state)


@pytest.mark.parametrize("damage", [_flip_bytes, _truncate, _delete_file, _delete_step_dir,
                                    _swap_in_other_arrays])
def test_damaged_latest_checkpoint_falls_back_to_the_newest_good_one(saved, damage):
  damage(saved)
  messages = []
  checkpointer = checkpointing.Checkpointer(saved, log=messages.append)
  step, state = checkpointer.restore_latest_good(make_state(0.0))
  assert step == 1
  jax.tree.map(np.testing.assert_array_equal, state, make_state(1.0))
  if damage is not _delete_step_dir:  # a deleted step is simply not there any more
    assert len(messages) == 1 and "checkpoint step 2" in messages[0]
    assert "falling back" in messages[0]
    # The damaged step is moved aside, kept for inspection, out of the way of the next save.
    assert checkpointer.steps() == [1]
    assert os.path.isdir(os.path.join(os.path.dirname(saved), "damaged_checkpoints", "2"))
  if damage is _swap_in_other_arrays:
    assert "fails its checksum" in messages[0]


def test_no_good_checkpoint_stops_with_a_clear_message(saved):
  _swap_in_other_arrays(saved)
  shutil.rmtree(os.path.join(saved, "1", "state"))
  with pytest.raises(checkpointing.CheckpointError, match="None of the checkpoints in .* is usable"):
    checkpointing.Checkpointer(saved, log=lambda m: None).restore_latest_good(make_state(0.0))


def test_restoring_a_missing_step_names_it(saved):
  with pytest.raises(checkpointing.CheckpointError, match="checkpoint step 7 is missing"):
    checkpointing.Checkpointer(saved).restore(7, make_state(0.0))


def test_failed_write_leaves_earlier_checkpoints_intact(saved, monkeypatch):
  checkpointer = checkpointing.Checkpointer(saved, log=lambda m: None)

  def disk_full(*args, **kwargs):
    raise OSError(28, "No space left on device")

  monkeypatch.setattr(checkpointer._manager, "save", disk_full)  # pylint: disable=protected-access
  with pytest.raises(checkpointing.CheckpointError, match=r"No space left on device.*\(\[1, 2\]\) "
                     r"are untouched"):
    checkpointer.save(3, make_state(3.0))
  monkeypatch.undo()
  step, state = checkpointing.Checkpointer(saved).restore_latest_good(make_state(0.0))
  assert step == 2
  jax.tree.map(np.testing.assert_array_equal, state, make_state(2.0))
