"""Tests for gan/checkpointing.py: every kind of damage is caught, reported and stepped around.

Training checkpoints (`Checkpointer`) and single saved trees (`save_tree` / `load_tree`, the
classifier's cache) share the layout, the checksum and its verification.
"""

import hashlib
import os
import shutil
import time

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
  with pytest.raises(checkpointing.CheckpointError,
                     match="None of the checkpoints in .* is usable"):
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


def test_tree_checksum_is_sha256_of_path_dtype_shape_and_bytes():
  """Pinned by hand: every checksum already on disk depends on this exact recipe."""
  tree = {"b": np.array([1.5, -2.0], np.float32), "a": np.arange(6, dtype=np.int32).reshape(2, 3)}
  digest = hashlib.sha256()
  for key in ("a", "b"):  # Tree order: sorted dict keys.
    value = tree[key]
    digest.update(f"['{key}']".encode())
    digest.update(f"{value.dtype}{value.shape}".encode())
    digest.update(value.tobytes())
  assert checkpointing.tree_checksum(tree) == digest.hexdigest()
  # A jax array with the same values has the same checksum; another dtype does not.
  assert checkpointing.tree_checksum(jax.tree.map(jnp.asarray, tree)) == digest.hexdigest()
  assert checkpointing.tree_checksum({**tree, "a": tree["a"].astype(np.int64)}) != \
      digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# save_tree / load_tree.


@pytest.fixture
def saved_tree(tmp_path):
  directory = str(tmp_path / "cache" / "tree")
  meta = checkpointing.save_tree(directory, make_state(1.0), {"recipe": "one", "seed": 3})
  return directory, meta


def test_save_tree_round_trip_with_meta(saved_tree):
  directory, written = saved_tree
  assert written == {"recipe": "one", "seed": 3,
                     "checksum": checkpointing.tree_checksum(make_state(1.0))}
  # The layout of a Checkpointer step: the same two items.
  assert {"state", "meta"} <= set(os.listdir(directory))
  assert checkpointing.load_tree_meta(directory) == written
  tree, meta = checkpointing.load_tree(directory, make_state(0.0))
  assert meta == written
  jax.tree.map(np.testing.assert_array_equal, tree, make_state(1.0))
  # An abstract tree (e.g. from jax.eval_shape) works as `like` too.
  tree, _ = checkpointing.load_tree(directory, jax.eval_shape(lambda: make_state(0.0)))
  jax.tree.map(np.testing.assert_array_equal, tree, make_state(1.0))


def test_save_tree_replaces_and_leaves_no_debris(saved_tree):
  directory, _ = saved_tree
  checkpointing.save_tree(directory, make_state(2.0), {"recipe": "two"})
  tree, meta = checkpointing.load_tree(directory, make_state(0.0))
  jax.tree.map(np.testing.assert_array_equal, tree, make_state(2.0))
  assert meta["recipe"] == "two" and "seed" not in meta
  assert os.listdir(os.path.dirname(directory)) == ["tree"]


@pytest.mark.parametrize("damage", ["flip", "swap"])
def test_load_tree_refuses_damaged_arrays(saved_tree, tmp_path, damage):
  directory, _ = saved_tree
  if damage == "flip":
    path = _largest_file(os.path.join(directory, "state"))
    data = bytearray(open(path, "rb").read())
    for i in range(len(data) // 3, len(data) // 3 + 16):
      data[i] ^= 0xFF
    open(path, "wb").write(bytes(data))
    expected = "cannot be read|fails its checksum"
  else:  # Valid arrays that are not the ones written: only the checksum can tell.
    other = str(tmp_path / "other")
    checkpointing.save_tree(other, make_state(2.0))
    shutil.rmtree(os.path.join(directory, "state"))
    shutil.copytree(os.path.join(other, "state"), os.path.join(directory, "state"))
    expected = "fails its checksum: the saved arrays are not the ones that were written"
  with pytest.raises(checkpointing.CheckpointError, match=expected):
    checkpointing.load_tree(directory, make_state(0.0), what="the test tree")
  with pytest.raises(checkpointing.CheckpointError, match="^the test tree "):
    checkpointing.load_tree(directory, make_state(0.0), what="the test tree")


def test_load_tree_of_nothing(tmp_path):
  with pytest.raises(FileNotFoundError, match="No saved tree in"):
    checkpointing.load_tree(str(tmp_path / "nowhere"), make_state(0.0))
  with pytest.raises(FileNotFoundError):
    checkpointing.load_tree_meta(str(tmp_path / "nowhere"))
  (tmp_path / "empty").mkdir()
  with pytest.raises(checkpointing.CheckpointError, match="has no readable meta item"):
    checkpointing.load_tree_meta(str(tmp_path / "empty"))
  with pytest.raises(checkpointing.CheckpointError, match="cannot be read"):
    checkpointing.load_tree(str(tmp_path / "empty"), make_state(0.0))


def test_interrupted_save_tree_keeps_the_previous_tree(saved_tree, monkeypatch):
  directory, written = saved_tree

  def killed(*args):
    raise KeyboardInterrupt  # After the new tree is complete, before it is renamed into place.

  monkeypatch.setattr(checkpointing, "_swap_into_place", killed)
  with pytest.raises(KeyboardInterrupt):
    checkpointing.save_tree(directory, make_state(2.0))
  monkeypatch.undo()
  assert os.listdir(os.path.dirname(directory)) == ["tree"]  # No temporary directory left.
  tree, meta = checkpointing.load_tree(directory, make_state(0.0))
  assert meta == written
  jax.tree.map(np.testing.assert_array_equal, tree, make_state(1.0))


def test_failed_save_tree_says_so_and_keeps_the_previous_tree(saved_tree, monkeypatch):
  directory, written = saved_tree

  class DiskFull:

    def __init__(self, *args):
      pass

    def __enter__(self):
      return self

    def __exit__(self, *args):
      return False

    def save(self, path, args):
      os.makedirs(path)  # Half-written...
      raise OSError(28, "No space left on device")

  monkeypatch.setattr(checkpointing.ocp, "Checkpointer", DiskFull)
  with pytest.raises(checkpointing.CheckpointError,
                     match=r"Could not write .*tree: .*No space left on device.*untouched"):
    checkpointing.save_tree(directory, make_state(2.0))
  monkeypatch.undo()
  assert os.listdir(os.path.dirname(directory)) == ["tree"]
  assert checkpointing.load_tree(directory, make_state(0.0))[1] == written


# ---------------------------------------------------------------------------------------------
# Issue 23: a reader changes nothing and never sees a step vanish under it.


def _files(root):
  return sorted(os.path.relpath(os.path.join(d, f), root)
                for d, _, names in os.walk(root) for f in names)


@pytest.mark.parametrize("damage", [_flip_bytes, _truncate, _delete_file, _swap_in_other_arrays])
def test_a_reader_of_a_damaged_run_moves_nothing_and_says_what_it_read(saved, damage):
  damage(saved)
  before = _files(os.path.dirname(saved))
  messages = []
  reader = checkpointing.Checkpointer(saved, log=messages.append, read_only=True)
  step, state = reader.restore_latest_good(make_state(0.0))
  reader.close()
  assert step == 1
  jax.tree.map(np.testing.assert_array_equal, state, make_state(1.0))
  assert _files(os.path.dirname(saved)) == before  # nothing moved, nothing written
  assert "checkpoint step 2" in messages[0]
  assert "read checkpoint step 1, the newest good one; the newer step(s) 2 are damaged" in (
      messages[-1]) and "left where they are" in messages[-1]
  with pytest.raises(ValueError, match="read-only"):
    checkpointing.Checkpointer(saved, read_only=True).quarantine(2)
  # Training, resuming, sets the damaged step aside.
  checkpointing.Checkpointer(saved, log=lambda m: None).restore_latest_good(make_state(0.0))
  assert os.path.isdir(os.path.join(os.path.dirname(saved), "damaged_checkpoints", "2"))


def test_a_reader_of_nothing_creates_nothing(tmp_path):
  directory = str(tmp_path / "checkpoints")
  reader = checkpointing.Checkpointer(directory, read_only=True)
  assert reader.restore_latest_good(make_state(0.0))[0] is None
  reader.close()
  assert not os.path.exists(directory)


def test_old_steps_wait_for_the_reader_reading_them(saved):
  """The trainer deletes its old steps only once no reader holds the readers' lock."""
  import threading  # pylint: disable=g-import-not-at-top
  reader = checkpointing.Checkpointer(saved, read_only=True)
  writer = checkpointing.Checkpointer(saved, keep=1, log=lambda m: None)
  saving = threading.Thread(target=writer.save, args=(3, make_state(3.0)))
  saving.start()
  deadline = time.monotonic() + 120
  while 3 not in checkpointing.Checkpointer.steps_on_disk(saved) and time.monotonic() < deadline:
    time.sleep(0.05)
  time.sleep(0.5)  # the saver now waits on the readers' lock (it cannot delete while we read)
  assert saving.is_alive()  # step 3 written, steps 1 and 2 kept while the reader reads
  assert checkpointing.Checkpointer.steps_on_disk(saved) == [1, 2, 3]
  assert reader.restore_latest_good(make_state(0.0))[0] == 3
  reader.close()
  saving.join(timeout=30)
  assert not saving.is_alive() and checkpointing.Checkpointer.steps_on_disk(saved) == [3]


_READER = r"""
import sys, time
import gan
from gan.errors import Error
workdir, seconds, wanted = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
read, failures, steps = 0, [], set()
deadline = time.monotonic() + seconds
while time.monotonic() < deadline and read < wanted:
  try:
    steps.add(gan.load_run(workdir).step)
    read += 1
  except Error as e:
    failures.append(str(e))
print(read, len(steps), len(failures))
for failure in failures:
  print(failure)
"""


@pytest.mark.slow
def test_reading_a_run_while_it_trains(tmp_path):
  """`gan.load_run` in a loop (20 reads, or 120 s) while a real trainer writes the run (a
  checkpoint every 2 steps, only the newest kept): every read gives a complete checkpoint, and
  nothing reaches stderr."""
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  from gan import workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=root)
  env.pop("XLA_FLAGS", None)
  workdir = str(tmp_path / "run")
  trainer = subprocess.Popen(
      [sys.executable, "-m", "experiments.train", f"--workdir={workdir}",
       "--config=experiments/configs/toy_ring.py", "--config.num_steps=100000",
       "--config.checkpoint_every=2", "--config.keep_checkpoints=1", "--config.sample_every=0",
       "--config.log_every=1000", "--config.batch_size=16", "--config.model_args.hidden=(32,32)"],
      cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  try:
    deadline = time.monotonic() + 120
    while not (workdir_lib.saved_config(workdir) if os.path.isdir(workdir) else None):
      assert time.monotonic() < deadline and trainer.poll() is None, trainer.stderr.read()
      time.sleep(0.1)
    while not checkpointing.Checkpointer.steps_on_disk(os.path.join(workdir, "checkpoints")):
      assert time.monotonic() < deadline and trainer.poll() is None, trainer.stderr.read()
      time.sleep(0.1)
    reader = subprocess.run([sys.executable, "-c", _READER, workdir, "120", "20"], cwd=root,
                            env=env, capture_output=True, text=True, timeout=300)
    assert trainer.poll() is None  # still training all along
  finally:
    trainer.terminate()
    trainer.wait(timeout=60)
  assert reader.returncode == 0, reader.stderr[-3000:]
  read, distinct, failed = map(int, reader.stdout.split("\n")[0].split())
  assert failed == 0, reader.stdout[-3000:]
  assert read >= 10 and distinct >= 2, reader.stdout  # it read many, as they came
  assert "Traceback" not in reader.stderr and "Event loop" not in reader.stderr, reader.stderr


def test_a_run_being_trained_without_a_checkpoint_says_so(tmp_path):
  from experiments.configs import toy_ring  # pylint: disable=g-import-not-at-top
  from gan import runs, workdir as workdir_lib  # pylint: disable=g-import-not-at-top
  config = toy_ring.get_config()
  workdir = str(tmp_path / "run")
  with workdir_lib.claim(config, workdir, differences=lambda saved: []) as held:
    held.commit()  # a trainer that has not written its first checkpoint
    with pytest.raises(checkpointing.CheckpointError,
                       match=f"a trainer \\(process {os.getpid()}\\) is training it now"):
      runs.restore_run(workdir, config)
  with pytest.raises(checkpointing.CheckpointError, match="has no checkpoint yet; train first"):
    runs.restore_run(workdir, config)


def test_a_checkpoint_without_a_checksum_is_refused(saved):
  """Issue 28: a step whose meta item holds no checksum is never restored unverified; the
  newest good one is used, and a reader says why."""
  import json  # pylint: disable=g-import-not-at-top
  path = os.path.join(saved, "2", "meta", "metadata")
  with open(path, encoding="utf-8") as f:
    meta = json.load(f)
  del meta["checksum"]
  with open(path, "w", encoding="utf-8") as f:
    json.dump(meta, f)
  with pytest.raises(checkpointing.CheckpointError, match="checkpoint step 2 has no checksum"):
    checkpointing.Checkpointer(saved).restore(2, make_state(0.0))
  messages = []
  reader = checkpointing.Checkpointer(saved, log=messages.append, read_only=True)
  assert reader.restore_latest_good(make_state(0.0))[0] == 1
  reader.close()
  assert "has no checksum" in messages[0]
