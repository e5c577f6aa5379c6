"""The ``ray`` launcher: each run a Ray task on an existing cluster (``pip install -e '.[ray]'``).

The driver connects to the cluster (``options.ray_address``: ``auto``, or ``host:port`` of the
head) and submits one task per run, asking ``cpus_per_run`` / ``gpus_per_run``. A task runs the
run's ``experiments.train`` command on its node (`gan.launchers.run_job`); the trainer dies with
the task's worker. When a node dies, Ray starts the task again elsewhere (up to
``max_retries`` times) and the run resumes from its last checkpoint; a run that exits non-zero
(a config or data error) is an outcome, never retried. Interrupting the driver cancels the tasks.
"""

from __future__ import annotations

from typing import Callable, Sequence

from gan.errors import ConfigError
from gan.launchers.base import Job, LaunchOptions, Outcome, RootNotVisible, run_job


def _ray():
  try:
    import ray  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ConfigError("--launcher=ray needs Ray: pip install -e '.[ray]'.") from e
  return ray


def launch(jobs: Sequence[Job], options: LaunchOptions, log: Callable[[str], None]
           ) -> list[Outcome]:
  """Runs ``jobs`` as Ray tasks on the cluster at ``options.ray_address``."""
  ray = _ray()
  try:
    ray.init(address=options.ray_address, log_to_driver=False, logging_level="ERROR")
  except (ConnectionError, RuntimeError, ValueError) as e:
    raise ConfigError(f"cannot reach a Ray cluster at {options.ray_address!r} "
                      f"({' '.join(str(e).split())[:200]}); start one (ray start --head) or pass "
                      "--ray_address=host:port.") from e
  task = ray.remote(num_cpus=options.cpus_per_run, num_gpus=options.gpus_per_run,
                    max_retries=options.max_retries, retry_exceptions=False)(run_job)
  refs = {task.remote(job): job for job in jobs}
  for job in jobs:
    log(f"== {job.name} (submitted)")
  outcomes = {}
  try:
    while refs:
      ready, _ = ray.wait(list(refs), num_returns=1)
      job = refs.pop(ready[0])
      try:
        outcome = ray.get(ready[0])
      except ray.exceptions.RayTaskError as e:
        outcome = Outcome(job.name, None, error=f"its task raised {e.cause!r}")
      except ray.exceptions.RayError as e:  # its node or worker lost more than max_retries times
        outcome = Outcome(job.name, None, error=" ".join(str(e).split())[:300])
      if outcome.root_not_visible:
        raise RootNotVisible(outcome.error)
      outcomes[job.name] = outcome
      log(f"== {job.name} ({'done' if outcome.ok else 'failed'}"
          f"{f', on {outcome.node}' if outcome.node else ''})")
  except BaseException:
    for ref in refs:
      ray.cancel(ref, force=True)
    raise
  finally:
    ray.shutdown()
  return [outcomes[job.name] for job in jobs]
