"""A run's workdir and a sweep's root: the one owner of every file they hold.

Every file a run or a sweep writes has one reader and one writer here: ``config.json``
(`saved_config` / `read_config`, written by `Claim.commit`), ``results.json`` (`read_results` /
`write_results`), ``eval.jsonl`` (`read_eval_history` / `append_eval`), ``metrics.jsonl``
(`read_metrics`; rows written by `gan.writers.MetricWriter` under `METRICS_FILE`) and a sweep
root's ``sweep.json`` (`read_sweep` / `write_sweep`). Storage sits on the ground floor: it
knows the files' layout, not what a config means (comparing configs is `gan.config`'s, and the
caller hands `claim` the comparison).

A workdir belongs to one experiment. `claim` is the door: it checks the path and the kind of
every entry a run writes, takes the workdir's lock (one trainer at a time), and compares the
config with the one saved there. The run then builds its data and model and restores its
checkpoint; only once it can start does it call `Claim.commit`, which writes ``config.json``. A
run that fails before that leaves the workdir as it found it (a directory it created is removed
again), so the corrected command is not refused as "a different experiment".

What a resume rewrites: `truncate_jsonl` drops the rows of ``metrics.jsonl`` and ``eval.jsonl``
past the restored step, since those steps are trained again and logged again.

The lock is an advisory ``fcntl.flock`` on ``<workdir>/.lock``: the operating system releases it
when the process ends in any way (a kill included), so a crashed run never leaves the workdir
locked. It protects against a second trainer on the same machine (or a filesystem with working
``flock``, which excludes some network filesystems).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
from typing import Any, Callable, Mapping, Optional, Sequence

import ml_collections

from gan.errors import BadFileError, ConfigError

CONFIG_FILE = "config.json"
RESULTS_FILE = "results.json"
METRICS_FILE = "metrics.jsonl"
# One line per evaluation during training (``eval_every``) and the final one: ``{"step": s,
# "eval_per_seed": [...], "wall_seconds": t}``. A step evaluated again after a resume is read as
# its last line.
EVAL_FILE = "eval.jsonl"
SWEEP_FILE = "sweep.json"
LOCK_FILE = ".lock"
# Entries a run writes, by the kind they must be. Anything else in the workdir is left alone.
DIRECTORIES = ("checkpoints", "damaged_checkpoints", "samples", "tensorboard", "eval")
FILES = (CONFIG_FILE, METRICS_FILE, EVAL_FILE, RESULTS_FILE, LOCK_FILE)
# Entries whose presence means a run has trained here.
_RUN_EVIDENCE = ("checkpoints", RESULTS_FILE, METRICS_FILE)


_FIX = "move it aside, or pass another --workdir"


def _not_a_directory(path: str) -> str:
  """What ``path`` (which exists, as a name) is instead of a directory."""
  if os.path.islink(path) and not os.path.exists(path):
    return f"a broken symlink (to {os.readlink(path)}, which does not exist)"
  return "a file, not a directory"


def check_layout(workdir: str) -> None:
  """Raises `ConfigError` naming the first entry of ``workdir`` that is of the wrong kind (a file
  where a run keeps a directory, a directory or a broken symlink where it keeps a file)."""
  for name in DIRECTORIES:
    path = os.path.join(workdir, name)
    if os.path.lexists(path) and not os.path.isdir(path):
      what = "a broken or looping symlink" if os.path.islink(path) else "not a directory"
      raise ConfigError(f"{path} is {what}, but a run keeps a directory there; {_FIX}.")
  for name in FILES:
    path = os.path.join(workdir, name)
    if os.path.lexists(path) and not os.path.isfile(path):
      what = ("a directory" if os.path.isdir(path) else
              "a broken or looping symlink" if os.path.islink(path) else "not a regular file")
      raise ConfigError(f"{path} is {what}, but a run keeps a file there; {_FIX}.")


def read_json_object(path: str, what: str) -> dict:
  """The JSON object in ``path``; `ConfigError` naming the file if it is not one."""
  try:
    with open(path, encoding="utf-8") as f:
      value = json.load(f)
  except IsADirectoryError as e:
    raise ConfigError(f"{path} is a directory, not {what}; move it aside.") from e
  except UnicodeDecodeError as e:
    raise ConfigError(f"{path} is not text, so not {what}: it was damaged. Restore it from a "
                      "copy, or use another workdir.") from e
  except json.JSONDecodeError as e:
    raise ConfigError(f"{path} is not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}), "
                      f"so not {what}: it was damaged or cut short. Restore it from a copy, or "
                      "use another workdir.") from e
  except OSError as e:
    raise ConfigError(f"{path} cannot be read ({e.strerror}).") from e
  if not isinstance(value, dict):
    raise ConfigError(f"{path} holds a JSON {type(value).__name__}, not {what} (a JSON object); "
                      "it was damaged. Restore it from a copy, or use another workdir.")
  return value


def saved_config(workdir: str) -> Optional[dict]:
  """The config saved in ``workdir`` (None if there is none); `ConfigError` if it is damaged."""
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.lexists(path):
    return None
  return read_json_object(path, "a saved config")


def read_config(workdir: str) -> dict:
  """The config a training run saved in ``workdir`` (as saved: `gan.config.from_saved` turns it
  into today's config), for commands that read a finished run."""
  if not os.path.lexists(workdir):
    raise ConfigError(f"--workdir {workdir} holds no training run (there is no such directory); "
                      "pass the workdir given to experiments.train.")
  if not os.path.isdir(workdir):
    raise ConfigError(f"--workdir {workdir} is {_not_a_directory(workdir)}; pass the workdir "
                      "given to experiments.train.")
  saved = saved_config(workdir)
  if saved is None:
    raise ConfigError(f"--workdir {workdir} holds no training run (no {CONFIG_FILE}); pass the "
                      f"workdir given to experiments.train.")
  return saved


def _write_json_atomically(path: str, value: Any) -> None:
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    json.dump(value, f, indent=2, sort_keys=True)
  os.replace(path + ".tmp", path)


def read_results(workdir: str, what: str = "a run's results") -> Optional[dict]:
  """The ``results.json`` a finished run wrote, or None; `ConfigError` if it is damaged."""
  path = os.path.join(workdir, RESULTS_FILE)
  if not os.path.lexists(path):
    return None
  results = read_json_object(path, what)
  shapes = [("step", int, "an integer")] + [
      (k, list, "a list of one metrics dict per seed") for k in ("eval_per_seed", "train_per_seed")]
  for key, kind, shown in shapes:
    value = results.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool) or (
        kind is list and not all(v is None or isinstance(v, dict) for v in value))):
      raise BadFileError(f"{path}: {key} is {str(value)[:80]!r}, not {shown}: the file was "
                         "damaged. Restore it from a copy, or train the run again (remove the "
                         "file and run its command: it resumes from its checkpoints).")
  return results


def write_results(workdir: str, results: Mapping[str, Any]) -> None:
  """Writes ``results.json`` atomically (a reader sees the old file or the new one)."""
  _write_json_atomically(os.path.join(workdir, RESULTS_FILE), dict(results))


def _read_step_rows(path: str, required: Sequence[str] = ()) -> dict[int, dict]:
  """``{step: its last row}`` of a ``{"step": ...}`` JSON-lines file, in step order; empty
  without the file. A last line cut short (no newline: a kill mid-write, which a resume drops)
  is skipped; any other line that is not such a row (with the ``required`` keys) is a
  `BadFileError` naming the file and the line."""
  rows = {}
  if not os.path.lexists(path):
    return rows
  try:
    with open(path, encoding="utf-8") as f:
      lines = f.readlines()
  except (OSError, UnicodeDecodeError) as e:
    reason = e.strerror if isinstance(e, OSError) else "not text"
    raise BadFileError(f"{path} cannot be read ({reason}); restore it from a copy, or move it "
                       "aside.") from e
  for number, line in enumerate(lines, 1):
    if not line.strip():
      continue
    try:
      row = json.loads(line)
    except json.JSONDecodeError:
      if number == len(lines) and not line.endswith("\n"):
        continue  # cut short by a kill; a resume drops it
      row = None
    if not (isinstance(row, dict) and isinstance(row.get("step"), int) and
            all(k in row for k in required)):
      needs = "".join(f", {k!r}" for k in required)
      raise BadFileError(f"{path}, line {number}, is not a row of {{'step'{needs}}}: the file "
                         "was damaged. Restore it from a copy, or remove that line.")
    rows[row["step"]] = row
  return dict(sorted(rows.items()))


def read_eval_history(workdir: str) -> dict[int, dict]:
  """``{step: its last line of eval.jsonl}`` in step order (``eval_per_seed``, and
  ``wall_seconds`` where it was logged); empty without the file."""
  rows = _read_step_rows(os.path.join(workdir, EVAL_FILE), required=("eval_per_seed",))
  for step, row in rows.items():
    if not isinstance(row["eval_per_seed"], list):
      raise BadFileError(f"{os.path.join(workdir, EVAL_FILE)}: the row of step {step} has no "
                         "list eval_per_seed: the file was damaged. Restore it from a copy, or "
                         "remove that line.")
  return rows


def append_eval(workdir: str, step: int, eval_per_seed: Sequence[Mapping[str, Any]],
                wall_seconds: float) -> None:
  """Appends one evaluation to ``eval.jsonl``: ``wall_seconds`` is how long the run (this
  invocation) had been going when it evaluated ``step``."""
  with open(os.path.join(workdir, EVAL_FILE), "a", encoding="utf-8") as f:
    f.write(json.dumps(dict(step=int(step), eval_per_seed=list(eval_per_seed),
                            wall_seconds=round(wall_seconds, 1)), sort_keys=True) + "\n")


def read_metrics(workdir: str) -> dict[int, dict]:
  """``{step: its last row of metrics.jsonl}`` in step order; empty without the file."""
  return _read_step_rows(os.path.join(workdir, METRICS_FILE))


def read_sweep(root: str) -> dict:
  """The ``sweep.json`` of a sweep root: ``{"config": path, "flag_overrides": [...], "runs":
  [{"name", "overrides", "config", "flag_overrides"}, ...]}`` (the top-level config and flags
  are the latest sweep's; each run names its own); `ConfigError` naming the file if there is
  none or it is damaged."""
  path = os.path.join(root, SWEEP_FILE)
  if not os.path.lexists(root):
    raise ConfigError(f"--root {root} does not exist; pass the --root given to experiments.sweep.")
  if not os.path.lexists(path):
    raise ConfigError(f"--root {root} holds no sweep (no {SWEEP_FILE}); pass the --root given "
                      "to experiments.sweep.")
  record = read_json_object(path, "a sweep's record")
  runs = record.get("runs")
  if not isinstance(record.get("config"), str) or not isinstance(runs, list) or not all(
      isinstance(r, dict) and isinstance(r.get("name"), str) and
      isinstance(r.get("overrides"), dict) for r in runs):
    raise ConfigError(f"{path} is not a sweep's record (a config path and a list of runs with a "
                      "name and overrides each): it was damaged. Move it aside and run the "
                      "sweep's command again to rewrite it.")
  for run in runs:
    run.setdefault("config", record["config"])  # written before runs named their own
    run.setdefault("flag_overrides", list(record.get("flag_overrides") or []))
  return record


def write_sweep(root: str, config_path: str, flag_overrides: Sequence[str],
                runs: Sequence[tuple[str, Mapping[str, Any]]],
                budgets: Optional[Mapping[str, int]] = None) -> dict:
  """Adds a sweep's runs to ``<root>/sweep.json`` (written atomically): each run's name,
  overrides, config file and ``--config.*`` flags. Runs of earlier sweeps on the same root stay
  in the record (a run of the same name is updated), so a second sweep with another grid adds
  to the table rather than hiding the first. ``budgets`` (``{name: num_steps}``) lets a status
  listing show a run's budget before it starts. Returns the record written."""
  path = os.path.join(root, SWEEP_FILE)
  earlier = read_sweep(root)["runs"] if os.path.lexists(path) else []
  config_path = os.path.abspath(config_path)
  new = {name: dict(name=name, overrides=dict(overrides), config=config_path,
                    flag_overrides=list(flag_overrides),
                    **({"num_steps": budgets[name]} if budgets and name in budgets else {}))
         for name, overrides in runs}
  merged = [new.pop(run["name"], run) for run in earlier] + list(new.values())
  record = dict(config=config_path, flag_overrides=list(flag_overrides), runs=merged)
  _write_json_atomically(path, record)
  return record


SWEEP_LOCK_FILE = ".sweep.lock"
# A sweep root's marker: a random token the driver writes before it launches; a node where the
# file is missing, or holds another token, does not see the root (`gan.launchers.check_marker`).
MARKER_FILE = ".sweep_marker"


def lock_sweep_root(root: str) -> int:
  """Locks ``root`` for one sweep driver (as `claim` locks a workdir for one trainer); returns
  the lock's descriptor (closing it unlocks). `ConfigError` naming the other driver if held."""
  fd = _exclusive_lock(os.path.join(root, SWEEP_LOCK_FILE), lambda holder: (
      f"--root {root} is in use by another sweep (process {holder}); two drivers on one root "
      "would launch its runs twice. Wait for it to end, watch it with --status, or pass another "
      "--root."))
  os.ftruncate(fd, 0)
  os.pwrite(fd, str(os.getpid()).encode(), 0)
  return fd


def write_marker(root: str) -> tuple[str, str]:
  """Writes a fresh `MARKER_FILE` in ``root``; returns ``(path, token)``."""
  import uuid  # pylint: disable=g-import-not-at-top
  path, token = os.path.join(root, MARKER_FILE), uuid.uuid4().hex
  with open(path + ".tmp", "w", encoding="utf-8") as f:
    f.write(token + "\n")
  os.replace(path + ".tmp", path)
  return path, token


def record_outcomes(root: str, outcomes: Mapping[str, Mapping[str, Any]]) -> None:
  """Stores how runs ended (``{name: {"state": "done" | "failed", ...}}``) in their entries of
  ``sweep.json``, for ``experiments.sweep --status``."""
  record = read_sweep(root)
  for run in record["runs"]:
    if run["name"] in outcomes:
      run["outcome"] = dict(outcomes[run["name"]])
  _write_json_atomically(os.path.join(root, SWEEP_FILE), record)


def last_metrics(workdir: str) -> Optional[dict]:
  """The last row of a run's ``metrics.jsonl`` (None without one); read while it trains, so a
  damaged file reads as none rather than stopping a status listing."""
  try:
    rows = read_metrics(workdir)
  except BadFileError:
    return None
  return rows[max(rows)] if rows else None


def _has_run(workdir: str) -> list[str]:
  found = []
  for name in _RUN_EVIDENCE:
    path = os.path.join(workdir, name)
    if os.path.isdir(path):
      if os.listdir(path):
        found.append(name + "/")
    elif os.path.exists(path):
      found.append(name)
  return found


class Claim:
  """A held workdir: locked by this process until `release`; `commit` writes its config."""

  def __init__(self, workdir: str, config: ml_collections.ConfigDict, lock_fd: Optional[int],
               created: bool, write: bool):
    self.workdir, self._config, self._lock_fd = workdir, config, lock_fd
    self._created, self._write, self.committed = created, write, False
    self._cleanups = []

  def on_release(self, fn) -> None:
    """Calls ``fn()`` when the claim is released (files the run holds open, before the unlock)."""
    self._cleanups.append(fn)

  def commit(self) -> None:
    """Writes ``config.json`` (atomically): from now on the workdir is this experiment's. The
    lock file then names this process (a refused command changes no file of the workdir)."""
    if self._lock_fd is not None:
      os.ftruncate(self._lock_fd, 0)
      os.pwrite(self._lock_fd, str(os.getpid()).encode(), 0)
    path = os.path.join(self.workdir, CONFIG_FILE)
    if self._write and not os.path.exists(path):
      with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(self._config.to_json(indent=2, sort_keys=True))
      os.replace(path + ".tmp", path)
    self.committed = True

  def release(self) -> None:
    """Unlocks; a workdir this claim created and never committed is removed again."""
    while self._cleanups:
      self._cleanups.pop()()
    if self._lock_fd is not None:
      os.close(self._lock_fd)
      self._lock_fd = None
      if self._created and not self.committed:
        try:
          os.remove(os.path.join(self.workdir, LOCK_FILE))
          for name in DIRECTORIES:  # made empty on the way (the checkpoint manager makes one)
            if os.path.isdir(os.path.join(self.workdir, name)):
              os.rmdir(os.path.join(self.workdir, name))
          os.rmdir(self.workdir)
        except OSError:
          pass  # something else was written there meanwhile: leave it

  def __enter__(self) -> "Claim":
    return self

  def __exit__(self, *exc) -> None:
    self.release()


def _exclusive_lock(path: str, in_use: Callable[[str], str]) -> int:
  """An exclusive ``flock`` on ``path`` (created), as a descriptor; `ConfigError` with
  ``in_use(holder)`` (the process id the file names) when another process holds it."""
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError as e:
    holder = os.read(fd, 32).decode("ascii", "replace").strip()
    os.close(fd)
    if e.errno in (errno.EWOULDBLOCK, errno.EACCES, errno.EAGAIN):
      raise ConfigError(in_use(holder or "unknown")) from e
    raise ConfigError(f"{path} cannot be locked ({e.strerror}).") from e
  return fd


def _lock(workdir: str) -> int:
  return _exclusive_lock(os.path.join(workdir, LOCK_FILE), lambda holder: (
      f"--workdir {workdir} is in use by another run (process {holder}); two trainers in one "
      "workdir would mix their checkpoints and logs. Wait for it to end, or pass another "
      "--workdir."))


def trainer_holding(workdir: str) -> Optional[str]:
  """The process id (as the lock file names it) of the trainer holding ``workdir`` now, or None
  when no trainer runs there. Reads only: a shared lock taken and released at once."""
  try:
    fd = os.open(os.path.join(workdir, LOCK_FILE), os.O_RDONLY)
  except OSError:
    return None
  try:
    fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
  except OSError:
    return os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
  finally:
    os.close(fd)  # closing releases a shared lock we took
  return None


def claim(config: ml_collections.ConfigDict, workdir: str, is_main: bool = True, *,
          differences: Callable[[dict], list[str]]) -> Claim:
  """Checks ``workdir`` for ``config`` and locks it; see the module docstring.

  ``differences(saved)`` lists how a saved config differs from ``config`` in what it computes
  (``'field: old -> new'``; `gan.config.config_differences`); any difference is refused.

  Only process 0 (``is_main``) creates, locks and writes; the other processes of a multi-process
  run check the saved config only.

  Raises:
    ConfigError: the path cannot be a workdir, an entry is of the wrong kind, another run holds
      it, its saved config differs from ``config`` or is damaged, or it holds a run's files but
      no config.
  """
  if os.path.lexists(workdir) and not os.path.isdir(workdir):
    raise ConfigError(f"--workdir {workdir} is {_not_a_directory(workdir)}; pass a directory "
                      "path.")
  created = not os.path.exists(workdir)
  if is_main:
    try:
      os.makedirs(workdir, exist_ok=True)
    except OSError as e:
      raise ConfigError(f"--workdir {workdir} cannot be created ({e.strerror}); pass a path you "
                        f"can write to.") from e
    if not os.access(workdir, os.W_OK | os.X_OK):
      raise ConfigError(f"--workdir {workdir} is not writable; pass a directory you can write "
                        "to.")
  lock_fd = _lock(workdir) if is_main else None
  held = Claim(workdir, config, lock_fd, created, write=is_main)
  try:
    check_layout(workdir)
    saved = saved_config(workdir)
    path = os.path.join(workdir, CONFIG_FILE)
    if saved is None:
      found = _has_run(workdir)
      if found:
        raise ConfigError(
            f"--workdir {workdir} holds a run's files ({', '.join(found)}) but no {CONFIG_FILE}, "
            "so the config they were trained with is unknown and resuming could mix two "
            f"experiments. Put its {CONFIG_FILE} back, or pass another --workdir.")
    else:
      diffs = differences(saved)
      if diffs:
        raise ConfigError(
            f"--workdir {workdir} holds a run with a different config; resuming it with this "
            f"one would mix two experiments. Differing fields: {'; '.join(diffs)}. Use a new "
            f"workdir, or the saved config ({path}).")
  except BaseException:
    held.release()
    raise
  return held


def truncate_jsonl(path: str, last_step: int) -> None:
  """Drops the rows of a ``{"step": ...}`` JSON-lines log past ``last_step`` (and a line cut
  short by a kill), rewriting the file atomically; nothing to do if there is no such row."""
  if not os.path.isfile(path):
    return
  with open(path, encoding="utf-8") as f:
    lines = f.readlines()
  kept = []
  for line in lines:
    try:
      row = json.loads(line)
    except json.JSONDecodeError:
      continue
    if isinstance(row, dict) and int(row.get("step", 0)) <= last_step:
      kept.append(line if line.endswith("\n") else line + "\n")
  if kept != lines:
    with open(path + ".tmp", "w", encoding="utf-8") as f:
      f.writelines(kept)
    os.replace(path + ".tmp", path)
