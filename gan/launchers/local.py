"""The ``local`` launcher: a pool of trainer processes on this machine (the default).

``options.parallel`` runs at a time; the next run starts as soon as any run ends, and a failed
run does not stop the others. A KeyboardInterrupt (the sweep's SIGINT or SIGTERM, turned into
one by `experiments.sweep`) stops the runs under way: SIGINT to each (it exits as an interrupted
training run does, its checkpoints kept), then a kill after `STOP_GRACE_S`.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from typing import Callable, Sequence

from gan.launchers.base import Job, LaunchOptions, Outcome, start

STOP_GRACE_S = 30
POLL_S = 0.2


def _stop(active: dict[str, subprocess.Popen], log: Callable[[str], None]) -> None:
  for process in active.values():
    if process.poll() is None:
      process.send_signal(signal.SIGINT)
  deadline = time.monotonic() + STOP_GRACE_S
  for process in active.values():
    try:
      process.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()
  if active:
    log(f"Stopped the runs under way ({', '.join(active)}); run the same command again to "
        "resume them.")


def launch(jobs: Sequence[Job], options: LaunchOptions, log: Callable[[str], None],
           poll_s: float = POLL_S) -> list[Outcome]:
  """Runs ``jobs`` here, ``options.parallel`` at a time; one `Outcome` each, in job order."""
  pending, active, outcomes = list(jobs), {}, {}
  width = max(1, options.parallel)
  try:
    while pending or active:
      while pending and len(active) < width:
        job = pending.pop(0)
        log(f"== {job.name} (started)")
        active[job.name] = start(job)
      time.sleep(poll_s)
      for name, process in list(active.items()):
        if process.poll() is not None:
          del active[name]
          outcomes[name] = Outcome(name, process.returncode, socket.gethostname())
          log(f"== {name} ({'done' if process.returncode == 0 else 'failed'})")
  except KeyboardInterrupt:
    _stop(active, log)
    raise
  return [outcomes[job.name] for job in jobs]
