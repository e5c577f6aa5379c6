"""The ``slurm`` launcher: one Slurm job array for a sweep, through submitit
(``pip install -e '.[slurm]'``).

Each array task runs one run's ``experiments.train`` command (`gan.launchers.run_job`) with
``cpus_per_run`` CPUs, ``gpus_per_run`` GPUs and a ``slurm_time_min`` limit, at most
``parallel`` at a time (0: no limit) on ``slurm_partition``. A task that is preempted, reaches
its time limit or is requeued (``scontrol requeue``) starts again and the run resumes from its
last checkpoint (submitit's checkpointing requeues it); a run that exits non-zero is an outcome,
never retried. Interrupting the driver cancels the array.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Sequence

from gan.errors import ConfigError
from gan.launchers.base import Job, LaunchOptions, Outcome, RootNotVisible, run_job

POLL_S = 1.0
# A run whose trainer a signal stopped waits this long for Slurm to end its task too: Slurm
# requeueing, preempting or cancelling a task signals every process in it, then kills them
# (KillWait, 30 s by default); a result written first would end the run instead of requeueing it.
SCHEDULER_GRACE_S = 120


class _QuietSacct(logging.Filter):
  """Drops submitit's warning at each poll where Slurm keeps no accounting (``sacct`` fails and
  submitit reads the job's state from its own files): expected, and said once in the README."""

  def filter(self, record: logging.LogRecord) -> bool:
    return "Bypassing sacct error" not in record.getMessage()


def _submitit():
  try:
    import submitit  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ConfigError("--launcher=slurm needs submitit: pip install -e '.[slurm]'.") from e
  logger = logging.getLogger("submitit")
  if not any(isinstance(f, _QuietSacct) for f in logger.filters):
    logger.addFilter(_QuietSacct())
  return submitit


def _task_class(submitit):
  class Task(submitit.helpers.Checkpointable):
    """A run as a checkpointable callable: on preemption or timeout submitit requeues it."""

    def __call__(self, job: Job) -> Outcome:
      outcome = run_job(job)
      if outcome.returncode is not None and outcome.returncode < 0:
        time.sleep(SCHEDULER_GRACE_S)  # stopped by Slurm: this task is killed (and requeued)
      return outcome

  return Task


def launch(jobs: Sequence[Job], options: LaunchOptions, log: Callable[[str], None]
           ) -> list[Outcome]:
  """Runs ``jobs`` as one job array; ``options.slurm_folder`` holds submitit's files."""
  submitit = _submitit()
  if not options.slurm_folder:
    raise ConfigError("the slurm launcher needs a folder for submitit's files.")
  try:
    executor = submitit.AutoExecutor(folder=options.slurm_folder, cluster="slurm")
  except RuntimeError as e:
    raise ConfigError(f"--launcher=slurm: no Slurm here ({e}); run on a Slurm login node.") from e
  parameters = dict(name="jaxgan", timeout_min=options.slurm_time_min,
                    cpus_per_task=max(1, int(options.cpus_per_run)),
                    slurm_array_parallelism=options.parallel or len(jobs))
  if options.slurm_partition:
    parameters["slurm_partition"] = options.slurm_partition
  if options.gpus_per_run:
    parameters["gpus_per_node"] = int(options.gpus_per_run)
  executor.update_parameters(**parameters)
  try:
    submitted = executor.map_array(_task_class(submitit)(), list(jobs))
  except Exception as e:  # pylint: disable=broad-except  (sbatch refused: a partition, a limit)
    raise ConfigError(f"--launcher=slurm: sbatch refused the array: "
                      f"{' '.join(str(e).split())[:300]}") from e
  for job, sjob in zip(jobs, submitted):
    log(f"== {job.name} (Slurm job {sjob.job_id})")
  outcomes, waiting = {}, dict(zip([j.name for j in jobs], submitted))
  try:
    while waiting:
      for name, sjob in list(waiting.items()):
        if not sjob.done():
          continue
        del waiting[name]
        try:
          outcome = sjob.result()
        except Exception as e:  # pylint: disable=broad-except  (the job failed or was cancelled)
          outcome = Outcome(name, None, error=" ".join(str(e).split())[-300:])
        if outcome.root_not_visible:
          raise RootNotVisible(outcome.error)
        outcomes[name] = outcome
        log(f"== {name} ({'done' if outcome.ok else 'failed'}, Slurm job {sjob.job_id})")
      if waiting:
        time.sleep(POLL_S)
  except BaseException:
    for sjob in waiting.values():
      sjob.cancel(check=False)
    raise
  return [outcomes[job.name] for job in jobs]
