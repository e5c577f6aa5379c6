"""Launchers: how a sweep's runs reach processes, on this machine or on a cluster.

A sweep (`experiments.sweep`) turns each run into a `Job`, an ``experiments.train`` command with
its log file, and hands the list to a launcher chosen by name from `LAUNCHERS`:

* ``local`` (`gan.launchers.local`): a pool of processes on this machine, the default; no
  dependency beyond the standard library.
* ``ray`` (`gan.launchers.ray_cluster`): each run a Ray task on an existing cluster, retried on
  another node when its node dies.
* ``slurm`` (`gan.launchers.slurm`): one Slurm job array through submitit; a preempted, timed-out
  or requeued run starts again.

Every launcher runs the same command for a run, and a run resumes from its checkpoints whenever
it starts again, so where and how often it ran never changes what it computes (its final
checkpoint's SHA-256 is that of the same run under ``local``). A launcher returns one `Outcome`
per job; a run that fails (a non-zero exit: a config or data error, a crash) is an outcome, not
retried, and the others go on. A node that cannot see the sweep's root is a `RootNotVisible`.

Adding a launcher: one module with a function ``launch(jobs, options, log) -> [Outcome]`` and
one `LAUNCHERS.register` call here; its test runs it against the real engine.
"""

from __future__ import annotations

from typing import Callable, Sequence

from gan.launchers import local, ray_cluster, slurm
from gan.launchers.base import (STARTED, Job, LaunchOptions, Outcome, RootNotVisible, attempts,
                                check_marker, run_job, start)
from gan.registry import Registry

Launcher = Callable[[Sequence[Job], LaunchOptions, Callable[[str], None]], list[Outcome]]
LAUNCHERS = Registry[Launcher]("launcher")
LAUNCHERS.register("local", local.launch)
LAUNCHERS.register("ray", ray_cluster.launch)
LAUNCHERS.register("slurm", slurm.launch)

__all__ = ["LAUNCHERS", "Job", "LaunchOptions", "Launcher", "Outcome", "RootNotVisible",
           "STARTED", "attempts", "check_marker", "run_job", "start"]
