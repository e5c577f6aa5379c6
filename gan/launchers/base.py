"""What every launcher shares: a run as a `Job`, how it ended as an `Outcome`, the options, and
the body that runs a job on a node (`run_job`). See `gan.launchers`."""


from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import time
from typing import Callable, Mapping, Optional, Sequence

from gan.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Job:
  """One run of a sweep, as a command.

  Attributes:
    name: the run's name (its overrides), as the sweep names it.
    command: the ``experiments.train`` command, an argv list.
    log_path: where its stdout and stderr go (appended to: a run started again adds to it).
    cwd: the directory the command runs in (the checkout).
    env: variables set for the command, beside the node's own.
    parent_pid_variable: a variable set to the process id of whatever runs the command, so
      that the trainer dies with it (`experiments.cli.behave_as_child`).
    marker: ``(path, token)``: a file the sweep wrote in its root; a node where it is missing
      or differs does not see the root (shared storage), and the job does not start.
  """
  name: str
  command: tuple[str, ...]
  log_path: str
  cwd: str
  env: Mapping[str, str] = dataclasses.field(default_factory=dict)
  parent_pid_variable: Optional[str] = None
  marker: Optional[tuple[str, str]] = None


@dataclasses.dataclass(frozen=True)
class Outcome:
  """How a job ended: ``returncode`` of its last attempt (None when it never ran), the node it
  ran on last, and why it did not run (``error``; ``root_not_visible`` when its node does not
  see the sweep's root). How often it started is in its log (`attempts`)."""
  name: str
  returncode: Optional[int]
  node: str = ""
  error: str = ""
  root_not_visible: bool = False

  @property
  def ok(self) -> bool:
    return self.returncode == 0


@dataclasses.dataclass(frozen=True)
class LaunchOptions:
  """What a launcher may be asked, all optional. Launchers ignore what does not apply to them.

  Attributes:
    parallel: runs at a time (``local``; ``slurm``: the array's parallelism; 0 = no limit).
    cpus_per_run / gpus_per_run: resources each run asks for (``ray``, ``slurm``).
    ray_address: the cluster, ``auto`` or ``host:port``.
    max_retries: how often a run whose node died is started again (``ray``).
    slurm_partition: the partition; ``slurm_time_min``: each job's time limit in minutes.
    slurm_folder: where submitit keeps its files (default ``<root>/.submitit``).
  """
  parallel: int = 1
  cpus_per_run: float = 1
  gpus_per_run: float = 0
  ray_address: str = "auto"
  max_retries: int = 3
  slurm_partition: Optional[str] = None
  slurm_time_min: int = 60
  slurm_folder: Optional[str] = None


# The line a job's log gets each time the job starts: how many attempts it took.
STARTED = "# jaxgan: started"


def attempts(log_path: str) -> int:
  """How many times the job logging to ``log_path`` was started."""
  try:
    with open(log_path, encoding="utf-8", errors="replace") as f:
      return sum(line.startswith(STARTED) for line in f)
  except OSError:
    return 0


class RootNotVisible(ConfigError):
  """A node does not see the sweep's root: the root is not on storage shared by the nodes."""


def check_marker(job: Job) -> None:
  """Raises `RootNotVisible` naming this node and the path when ``job.marker`` is not here."""
  if job.marker is None:
    return
  path, token = job.marker
  try:
    with open(path, encoding="utf-8") as f:
      seen = f.read().strip()
  except OSError as e:
    seen = f"<{e.strerror}>"
  if seen != token:
    raise RootNotVisible(
        f"node {socket.gethostname()} does not see the sweep's root: {path} is "
        f"{'missing' if seen.startswith('<') else 'another sweep' + chr(39) + 's marker'} there "
        f"({seen[:60]}). The root must be on storage every node mounts at the same path.")


def start(job: Job, **popen_args) -> subprocess.Popen:
  """Starts ``job``'s command with its log and environment (after `check_marker`)."""
  check_marker(job)
  env = {**os.environ, **job.env}
  if job.parent_pid_variable:
    env[job.parent_pid_variable] = str(os.getpid())
  os.makedirs(os.path.dirname(os.path.abspath(job.log_path)), exist_ok=True)
  with open(job.log_path, "a", encoding="utf-8") as log:
    log.write(f"{STARTED} on {socket.gethostname()} (process {os.getpid()}) at "
              f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    log.flush()
    return subprocess.Popen(list(job.command), cwd=job.cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT, **popen_args)


def run_job(job: Job) -> Outcome:
  """Runs ``job`` to its end on this node (a Ray task's or a Slurm job's body). A node that
  does not see the root returns an outcome saying so (the driver stops the sweep)."""
  try:
    process = start(job)
  except RootNotVisible as e:
    return Outcome(job.name, None, socket.gethostname(), error=str(e), root_not_visible=True)
  try:
    returncode = process.wait()
  finally:
    if process.poll() is None:  # this process is being stopped: stop the trainer too
      process.terminate()
      process.wait()
  return Outcome(job.name, returncode, socket.gethostname())
