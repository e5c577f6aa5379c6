"""Orbax checkpoints of pytrees, with a checksum that orbax itself does not keep.

Every saved pytree here, a training run's `GANState` or the evaluation classifier's weights, is a
directory of the same two orbax items: ``state`` (the whole pytree, orbax's standard format) and
``meta`` (JSON: whatever the caller records, plus ``checksum``, the `tree_checksum` of the
pytree). Restoring recomputes the checksum and refuses a mismatch, so a flipped byte in an array
file is caught instead of restored as silently wrong weights.

* `Checkpointer`: the numbered steps of a training run (``<workdir>/checkpoints/<step>``), the
  last few kept. When the newest step is damaged (flipped bytes, a truncated or deleted file, a
  deleted step directory) `Checkpointer.restore_latest_good` says which step and what is wrong,
  and falls back to the newest good one.
* `save_tree` / `load_tree`: one pytree in one directory, replaced as a whole (a cache such as
  `gan.classifier`'s weights).

Both write into a temporary directory and rename it when complete, so a process killed mid-write
leaves the previous checkpoint intact and never a half-written one under the real name.

Storage on the ground floor: this module stores pytrees and knows nothing of what they mean (a
trained run is opened by `gan.runs`).
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import os
import re
import shutil
import time
import uuid
from typing import Any, Callable, Mapping, Optional, Sequence

import jax
import numpy as np
import orbax.checkpoint as ocp

from gan.errors import CheckpointError, MissingFileError


def host_array(x: Any) -> np.ndarray:
  """A local NumPy copy of ``x`` (of a replicated multi-process array, this process's copy)."""
  # Replicated arrays are fully present on every process; read the local copy (device_get of an
  # array spanning several processes is not allowed).
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    x = x.addressable_data(0)
  return np.asarray(jax.device_get(x))


def tree_checksum(tree: Any) -> str:
  """SHA-256 over the dtype, shape and bytes of every leaf, in tree order."""
  digest = hashlib.sha256()
  for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
    value = host_array(leaf)
    digest.update(jax.tree_util.keystr(path).encode())
    digest.update(f"{value.dtype}{value.shape}".encode())
    digest.update(np.ascontiguousarray(value).tobytes())
  return digest.hexdigest()


def _restore_verified(restore: Callable[[ocp.args.Composite], Any], like: Any,
                      what: str) -> tuple[Any, dict]:
  """``(state, meta)`` from ``restore(composite_args)``; `CheckpointError` unless it verifies.

  Args:
    restore: reads the ``state`` and ``meta`` items (an orbax restore call).
    like: a pytree with the structure, shapes, dtypes (and shardings) to restore into.
    what: names the checkpoint in error messages, e.g. ``"checkpoint step 7"``.
  """
  abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
  try:
    restored = restore(ocp.args.Composite(state=ocp.args.StandardRestore(abstract),
                                          meta=ocp.args.JsonRestore()))
  except Exception as e:  # pylint: disable=broad-except
    # Orbax raises many types for a damaged checkpoint; any of them means "do not use it".
    first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise CheckpointError(f"{what} cannot be read ({type(e).__name__}: "
                          f"{first_line[:300]})") from e
  meta = restored["meta"] or {}
  expected = meta.get("checksum")
  if expected is None:
    raise CheckpointError(f"{what} has no checksum in its meta item")
  if tree_checksum(restored["state"]) != expected:
    raise CheckpointError(f"{what} fails its checksum: the saved arrays are not the ones that "
                          f"were written (damaged file)")
  return restored["state"], meta


def _write_failure_reason(error: BaseException) -> str:
  """Why a write failed, in a few words: the operating system's reason where orbax (whose errors
  run to kilobytes of paths) carries one, else the error's text, shortened."""
  seen = error
  while seen is not None:
    if isinstance(seen, OSError) and seen.strerror:
      return seen.strerror
    code = re.search(r"os_error_code='(\d+)'", str(seen))
    if code:
      return os.strerror(int(code.group(1)))
    seen = seen.__cause__ or seen.__context__
  text = " ".join(str(error).split())
  return text if len(text) <= 300 else text[:300] + " ..."


# In a run's checkpoint directory: readers hold it shared while they read; the trainer takes it
# exclusively to delete old steps (`Checkpointer._prune`).
READERS_LOCK = ".readers.lock"


def _hold_readers_lock(directory: str) -> Optional[int]:
  """A shared lock on ``directory``'s readers' lock (blocks while a trainer deletes old steps);
  None where there is none (no trainer made one: nothing deletes under us). Opens read-only."""
  try:
    fd = os.open(os.path.join(directory, READERS_LOCK), os.O_RDONLY)
  except OSError:
    return None
  fcntl.flock(fd, fcntl.LOCK_SH)
  return fd


# How often a reader lists a run's steps again when the step it reads is deleted under it.
_RACE_ROUNDS = 20


class Checkpointer:
  """Saves and restores a train state under ``<workdir>/checkpoints``; keeps the last ``keep``."""

  def __init__(self, directory: str, keep: int = 3, log: Callable[[str], None] = print,
               read_only: bool = False):
    """``read_only``: for a command that only reads a run (sample, evaluate, `gan.load_run`): it
    creates, moves and deletes nothing, so it may read a run on a read-only filesystem, or one
    that a trainer is writing. It holds the run's readers' lock (shared) until `close`."""
    self.directory = os.path.abspath(directory)
    self._log = log
    self.read_only = read_only
    self._keep = keep
    self._reading = _hold_readers_lock(self.directory) if read_only else None
    # Old steps are deleted here (`_prune`), not by orbax, so that no reader sees one vanish.
    options = ocp.CheckpointManagerOptions(max_to_keep=None, create=not read_only,
                                           enable_async_checkpointing=False)
    self._manager = ocp.CheckpointManager(self.directory, options=options,
                                          item_names=("state", "meta"))

  @staticmethod
  def steps_on_disk(directory: str) -> list[int]:
    """The step directories under ``directory`` (complete or not), oldest first; for messages."""
    if not os.path.isdir(directory):
      return []
    return sorted(int(name) for name in os.listdir(directory) if name.isdigit())

  def steps(self) -> list[int]:
    """Steps with a complete checkpoint directory, oldest first."""
    self._manager.reload()
    return sorted(self._manager.all_steps())

  def save(self, step: int, state: Any, extra_meta: Optional[dict] = None) -> None:
    """Writes the checkpoint of ``step``. Raises `CheckpointError` (previous ones intact)."""
    meta = dict(step=int(step), checksum=tree_checksum(state), **(extra_meta or {}))
    try:
      if jax.process_index() == 0:  # before the first step a reader could read
        os.close(os.open(os.path.join(self.directory, READERS_LOCK), os.O_RDONLY | os.O_CREAT,
                         0o644))
      self._manager.save(int(step), args=ocp.args.Composite(
          state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)), force=True)
      self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      self._remove_partial(step)  # the half-written step gives its space back
      raise CheckpointError(
          f"Could not write the checkpoint of step {step} to {self.directory} "
          f"({_write_failure_reason(e)}). The earlier checkpoints ({self.steps() or 'none'}) are "
          f"untouched; free disk space or fix permissions, then run again to resume.") from e
    self._prune()

  def _prune(self) -> None:
    """Deletes all but the newest ``keep`` steps, once no reader holds the readers' lock (a
    reader never sees the step it reads vanish)."""
    old = self.steps()[:-self._keep] if self._keep else []
    if not old:
      return
    fd = None
    if jax.process_index() == 0:  # the process that deletes (every process calls delete)
      fd = os.open(os.path.join(self.directory, READERS_LOCK), os.O_RDONLY | os.O_CREAT, 0o644)
    try:
      if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for the readers reading now (seconds)
      for step in old:
        self._manager.delete(step)
    finally:
      if fd is not None:
        os.close(fd)  # releases the lock

  def _remove_partial(self, step: int, patience_s: float = 10.0) -> None:
    """Removes the temporary directory of a failed save of ``step``.

    One write failing does not stop orbax's other writer threads at once: they may still create
    files in the temporary directory while it is being removed. So remove until it stays gone.
    """
    pattern = os.path.join(self.directory, f"{int(step)}.orbax-checkpoint-tmp*")
    deadline = time.monotonic() + patience_s
    quiet_rounds = 0
    while quiet_rounds < 3 and time.monotonic() < deadline:
      partials = glob.glob(pattern)
      for partial in partials:
        shutil.rmtree(partial, ignore_errors=True)
      quiet_rounds = 0 if partials else quiet_rounds + 1
      time.sleep(0.05)

  def restore(self, step: int, like: Any) -> Any:
    """Restores step ``step`` into the structure, shapes and shardings of ``like``; verified."""
    if not os.path.isdir(os.path.join(self.directory, str(step))):
      raise CheckpointError(f"checkpoint step {step} is missing (no directory "
                            f"{os.path.join(self.directory, str(step))})")
    state, _ = _restore_verified(
        lambda args: self._manager.restore(int(step), args=args), like, f"checkpoint step {step}")
    return state

  def restore_latest_good(self, like: Any) -> tuple[Optional[int], Any]:
    """The newest checkpoint that restores and verifies, as ``(step, state)``.

    Damaged newer checkpoints are reported through ``log`` and skipped. A trainer (about to
    resume) then moves them to ``damaged_checkpoints/``; a `read_only` reader changes nothing and
    says which step it read instead. Returns ``(None, like)`` when there is no checkpoint at all;
    raises `CheckpointError` when there are checkpoints but none is good (so a run never silently
    starts over on top of a damaged history).

    A reader may race a trainer: a step can be deleted (the trainer keeps its newest
    ``keep_checkpoints``) while it is being read. A step whose directory vanished is not damaged;
    the steps are listed again and the newest read, up to `_RACE_ROUNDS` times.
    """
    for _ in range(_RACE_ROUNDS):
      steps = self.steps()
      problems, raced = [], False
      for step in reversed(steps):
        try:
          state = self.restore(step, like)
        except CheckpointError as e:
          if not os.path.isdir(os.path.join(self.directory, str(step))):
            raced = True  # removed by the trainer's keep policy meanwhile: list again
            break
          problems.append(str(e))
          self._log(f"WARNING: {e}; falling back to an earlier checkpoint.")
          continue
        if problems:
          self._set_aside(steps[steps.index(step) + 1:], step)
        return step, state
      if not raced:
        break
    else:
      raise CheckpointError(
          f"The checkpoints in {self.directory} were replaced {_RACE_ROUNDS} times while being "
          "read: a trainer is writing this run faster than it can be read. Read it again "
          "later, or pass --step with a step it keeps.")
    if problems:
      raise CheckpointError(
          f"None of the checkpoints in {self.directory} is usable: " + "; ".join(problems) +
          ". Move the directory aside to start afresh, or restore a good copy.")
    return None, like

  def _set_aside(self, damaged: Sequence[int], good: int) -> None:
    """A trainer moves the damaged steps out of the way; a reader says what it read instead."""
    if self.read_only:
      self._log(f"WARNING: read checkpoint step {good}, the newest good one; the newer "
                f"step(s) {', '.join(map(str, damaged))} are damaged (see above) and left where "
                "they are (training moves them to damaged_checkpoints/ when it resumes).")
    elif jax.process_index() == 0:
      for step in damaged:
        self.quarantine(step)

  def quarantine(self, step: int) -> None:
    """Moves a damaged step to ``<workdir>/damaged_checkpoints/<step>``: kept for inspection, and
    out of the way of the step that will be written again. Not for a `read_only` reader."""
    if self.read_only:
      raise ValueError("a read-only Checkpointer moves no checkpoint")
    source = os.path.join(self.directory, str(step))
    if os.path.isdir(source):
      target = os.path.join(os.path.dirname(self.directory), "damaged_checkpoints", str(step))
      if os.path.exists(target):
        shutil.rmtree(target)
      os.makedirs(os.path.dirname(target), exist_ok=True)
      shutil.move(source, target)
      self._manager.reload()

  def close(self) -> None:
    self._manager.close()
    if self._reading is not None:
      os.close(self._reading)  # releases the readers' lock
      self._reading = None


# ----------------------------------------------------------------------------------------------
# One pytree in one directory.


def save_tree(directory: str, tree: Any, meta: Optional[Mapping[str, Any]] = None) -> dict:
  """Saves ``tree`` and ``meta`` (plus the tree's checksum) to ``directory``, replacing it whole.

  The directory holds the items of a `Checkpointer` step: ``state`` (orbax's standard format) and
  ``meta`` (JSON). Everything is written under a temporary sibling name and renamed to
  ``directory`` only when complete, so a reader sees the old tree, the new one, or (if the
  process dies between the two renames) none, never a mix or a half-written one; the temporary
  directory is removed whatever happens.

  Args:
    directory: where the tree lives; created (with its parents) or replaced.
    tree: a pytree of arrays.
    meta: JSON-serialisable fields recorded with it (e.g. how it was made).

  Returns:
    The meta written: ``meta`` plus ``checksum`` (`tree_checksum` of ``tree``).

  Raises:
    CheckpointError: the tree could not be written (the previous one is intact).
  """
  directory = os.path.abspath(os.fspath(directory))
  parent, name = os.path.split(directory)
  meta = {**(meta or {}), "checksum": tree_checksum(tree)}
  os.makedirs(parent, exist_ok=True)
  scratch = os.path.join(parent, f".{name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
  try:
    os.makedirs(scratch)
    written = os.path.join(scratch, "new")
    try:
      with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
        checkpointer.save(written, args=ocp.args.Composite(state=ocp.args.StandardSave(tree),
                                                           meta=ocp.args.JsonSave(meta)))
    except Exception as e:  # pylint: disable=broad-except
      raise CheckpointError(f"Could not write {directory}: {e}. What was there before is "
                            "untouched; free disk space or fix permissions.") from e
    _swap_into_place(written, directory, os.path.join(scratch, "old"))
  finally:
    shutil.rmtree(scratch, ignore_errors=True)
  return meta


def _swap_into_place(written: str, directory: str, aside: str) -> None:
  if os.path.lexists(directory):
    os.rename(directory, aside)
  os.rename(written, directory)


def _existing_tree_directory(directory: str) -> str:
  directory = os.path.abspath(os.fspath(directory))
  if not os.path.isdir(directory):
    raise MissingFileError(f"No saved tree in {directory} (no such directory).")
  return directory


def load_tree_meta(directory: str, what: Optional[str] = None) -> dict:
  """The ``meta`` saved by `save_tree` (without reading or verifying the arrays).

  Args:
    directory: what `save_tree` wrote.
    what: names it in error messages; default: the directory.

  Raises:
    FileNotFoundError: ``directory`` does not exist.
    CheckpointError: it holds no readable ``meta`` item.
  """
  directory = _existing_tree_directory(directory)
  try:
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
      meta = checkpointer.restore(directory, args=ocp.args.Composite(
          meta=ocp.args.JsonRestore()))["meta"]
  except Exception as e:  # pylint: disable=broad-except
    first_line = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise CheckpointError(f"{what or directory} has no readable meta item "
                          f"({type(e).__name__}: {first_line[:300]})") from e
  if not isinstance(meta, dict):
    raise CheckpointError(f"{what or directory} has a meta item that is not a JSON object")
  return meta


def load_tree(directory: str, like: Any, what: Optional[str] = None) -> tuple[Any, dict]:
  """Restores a tree saved by `save_tree` and verifies it against its checksum.

  Args:
    directory: what `save_tree` wrote.
    like: a pytree (or `jax.ShapeDtypeStruct` tree, e.g. from `jax.eval_shape`) with the
      structure, shapes and dtypes to restore into.
    what: names it in error messages; default: the directory.

  Returns:
    ``(tree, meta)``.

  Raises:
    FileNotFoundError: ``directory`` does not exist.
    CheckpointError: it cannot be read, has no checksum, or its arrays fail the checksum; the
      message says which.
  """
  directory = _existing_tree_directory(directory)

  def restore(args):
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
      return checkpointer.restore(directory, args=args)

  return _restore_verified(restore, like, what or directory)
