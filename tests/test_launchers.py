"""Launchers against their real engines (issue 24): a Ray head and a second Ray node started
here, a node killed mid-sweep; a real single-node Slurm (where it can start), a job requeued
mid-run. Nothing is mocked: real processes, real kills, real files. Every final checkpoint is
compared, by its SHA-256, with the same run trained by the local launcher."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from gan import checkpointing
from gan import sweeps
from gan import workdir as workdir_lib

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Tiny runs, long enough to be killed mid-way: toy ring, a small MLP, a checkpoint every 100.
TINY = ["--config=experiments/configs/toy_ring.py", "--config.batch_size=16",
        "--config.model_args.hidden=(32,32)", "--config.sample_every=0",
        "--config.log_every=100", "--config.checkpoint_every=100", "--config.num_steps=1500"]
GRID = "--grid=loss=non_saturating,hinge,least_squares,saturating"
NAMES = ["loss=non_saturating", "loss=hinge", "loss=least_squares", "loss=saturating"]


def _env():
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  env.pop("XLA_FLAGS", None)  # one CPU device everywhere: the driver's, the nodes', the jobs'
  return env


def _sweep(root, *args, timeout=900):
  return subprocess.run([sys.executable, "-m", "experiments.sweep", f"--root={root}", *TINY,
                         GRID, *args], cwd=ROOT, env=_env(), capture_output=True, text=True,
                        timeout=timeout)


def final_checksums(root):
  """{run: the SHA-256 in its final checkpoint's meta}."""
  out = {}
  for name in NAMES:
    directory = os.path.join(root, name, "checkpoints")
    step = checkpointing.Checkpointer.steps_on_disk(directory)[-1]
    with open(os.path.join(directory, str(step), "meta", "metadata"), encoding="utf-8") as f:
      out[name] = (step, json.load(f)["checksum"])
  return out


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
  """The four runs trained by the local launcher, two at a time: the checksums to match."""
  root = str(tmp_path_factory.mktemp("local") / "sweep")
  done = _sweep(root, "--parallel=2")
  assert done.returncode == 0, done.stderr[-3000:]
  return final_checksums(root)


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _ray_bin():
  return os.path.join(os.path.dirname(sys.executable), "ray")


def _wait_for(condition, timeout, what):
  deadline = time.monotonic() + timeout
  while not condition():
    if time.monotonic() > deadline:
      raise AssertionError(f"timed out waiting for {what}")
    time.sleep(0.3)


def _alive_nodes(address, env):
  code = ("import ray; ray.init(address=%r, logging_level='ERROR'); "
          "print(sum(n['Alive'] for n in ray.nodes()))" % address)
  done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                        timeout=120)
  return int(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else -1


@pytest.fixture
def ray_cluster():
  """A Ray head (1 CPU) and a second node (1 CPU) joining it, both on this machine; the second
  runs in its own session so that the test can kill it whole (its raylet and its workers)."""
  pytest.importorskip("ray")
  port = _free_port()
  temp = f"/tmp/ray_{uuid.uuid4().hex[:6]}"
  env = dict(_env(), RAY_health_check_period_ms="500", RAY_health_check_failure_threshold="4",
             RAY_health_check_timeout_ms="1000", RAY_USAGE_STATS_ENABLED="0")
  head = subprocess.run([_ray_bin(), "start", "--head", f"--port={port}", "--num-cpus=1",
                         "--include-dashboard=false", f"--temp-dir={temp}"],
                        env=env, capture_output=True, text=True, timeout=180)
  assert head.returncode == 0, head.stdout + head.stderr
  address = f"127.0.0.1:{port}"
  node2 = subprocess.Popen([_ray_bin(), "start", f"--address={address}", "--num-cpus=1",
                            "--block"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
  try:
    _wait_for(lambda: _alive_nodes(address, env) == 2, 180, "the second Ray node")
    yield dict(address=address, node2=node2, env=env)
  finally:
    if node2.poll() is None:
      os.killpg(node2.pid, signal.SIGKILL)
    subprocess.run([_ray_bin(), "stop", "--force"], env=env, capture_output=True, timeout=120)
    shutil.rmtree(temp, ignore_errors=True)


def _trainers_of(session_pid):
  """Process ids of `experiments.train` processes in the session of ``session_pid``."""
  found = []
  for pid in os.listdir("/proc"):
    if not pid.isdigit():
      continue
    try:
      if os.getsid(int(pid)) != session_pid:
        continue
      with open(f"/proc/{pid}/cmdline", "rb") as f:
        if b"experiments.train" in f.read():
          found.append(int(pid))
    except OSError:
      continue
  return found


def test_ray_sweep_survives_a_killed_node(ray_cluster, local_reference, tmp_path):
  """Four runs over two nodes; once the second node's run has a checkpoint, the second node is
  killed (SIGKILL to its raylet, its workers and their trainer). The sweep finishes on the head,
  the run of the dead node resumes from its checkpoint, and every final checkpoint equals the
  local launcher's."""
  root = str(tmp_path / "sweep")
  driver = subprocess.Popen(
      [sys.executable, "-m", "experiments.sweep", f"--root={root}", *TINY, GRID,
       "--launcher=ray", f"--ray_address={ray_cluster['address']}", "--cpus_per_run=1"],
      cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  node2 = ray_cluster["node2"]
  try:
    def node2_run_has_a_checkpoint():
      assert driver.poll() is None, driver.communicate()
      for pid in _trainers_of(node2.pid):
        with open(f"/proc/{pid}/cmdline", "rb") as f:
          workdir = [a for a in f.read().decode().split("\0") if a.startswith("--workdir=")]
        if workdir and checkpointing.Checkpointer.steps_on_disk(
            os.path.join(workdir[0][len("--workdir="):], "checkpoints")):
          return workdir[0][len("--workdir="):]
      return None
    _wait_for(node2_run_has_a_checkpoint, 300, "a run on the second node to checkpoint")
    killed = node2_run_has_a_checkpoint()
    os.killpg(node2.pid, signal.SIGKILL)
    node2.wait()
    out, err = driver.communicate(timeout=900)
  finally:
    if driver.poll() is None:
      driver.kill()
  assert driver.returncode == 0, out[-2000:] + err[-3000:]
  name = os.path.basename(killed)
  log = open(os.path.join(root, f"{name}.log"), encoding="utf-8").read()
  assert log.count("# jaxgan: started") == 2, log[-2000:]  # once on each node
  assert "Resuming from checkpoint step" in log
  assert final_checksums(root) == local_reference
  record = {r["name"]: r["outcome"] for r in workdir_lib.read_sweep(root)["runs"]}
  assert record[name]["attempts"] == 2 and all(r["state"] == "done" for r in record.values())
  rows = sweeps.status(root)
  assert [r["state"] for r in rows] == ["done"] * 4


def test_a_killed_driver_started_again_skips_and_resumes(local_reference, tmp_path):
  """Fault 2: the driver (local launcher, two at a time) SIGKILLed mid-sweep takes its trainers
  with it; started again, finished runs are skipped, the others resume, and every final
  checkpoint equals the uninterrupted sweep's."""
  root = str(tmp_path / "sweep")
  command = [sys.executable, "-m", "experiments.sweep", f"--root={root}", *TINY, GRID,
             "--parallel=2"]
  driver = subprocess.Popen(command, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
  first = os.path.join(root, NAMES[0])
  _wait_for(lambda: workdir_lib.read_results(first) if os.path.isdir(first) else None, 600,
            "the first run to finish")
  _wait_for(lambda: any(checkpointing.Checkpointer.steps_on_disk(
      os.path.join(root, n, "checkpoints")) for n in NAMES[2:]), 600, "a third run's checkpoint")
  driver.kill()
  driver.wait()
  _wait_for(lambda: not any(workdir_lib.trainer_holding(os.path.join(root, n)) for n in NAMES),
            30, "the trainers to die with the driver")
  again = subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True,
                         timeout=900)
  assert again.returncode == 0, again.stderr[-3000:]
  assert f"== {NAMES[0]}: finished, skipped" in again.stdout
  assert final_checksums(root) == local_reference


@pytest.fixture(scope="module")
def slurm():
  """A real single-node Slurm (tools/slurm_single_node.sh: Debian's slurm-wlm and munge, a
  munge key, one node with this machine's CPUs and memory, one partition), stopped after."""
  if os.geteuid() != 0:
    pytest.skip("starting slurmctld and slurmd needs root; CI runs as root")
  state = f"/tmp/jaxgan-slurm-{uuid.uuid4().hex[:6]}"
  started = subprocess.run(["bash", os.path.join(ROOT, "tools", "slurm_single_node.sh"), "start",
                            state], capture_output=True, text=True, timeout=900)
  if started.returncode:
    pytest.skip(f"a single-node Slurm did not start here: {started.stderr.strip()[-500:]}")
  yield state
  subprocess.run(["bash", os.path.join(ROOT, "tools", "slurm_single_node.sh"), "stop", state],
                 capture_output=True, timeout=120)
  shutil.rmtree(state, ignore_errors=True)


def _squeue(task):
  return subprocess.run(["squeue", "-h", "-j", task, "-o", "%T %r"], capture_output=True,
                        text=True, timeout=60).stdout


def _running_array_tasks():
  done = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i"], capture_output=True,
                        text=True, timeout=60)
  return [line.strip() for line in done.stdout.splitlines() if "_" in line]


def test_slurm_sweep_survives_a_preempted_and_requeued_job(slurm, local_reference, tmp_path):
  """Four runs as one job array (one CPU each, two at a time on this 2-CPU node); once a
  running task's run has a checkpoint, it is preempted (SIGUSR2) and requeued. The array
  finishes, the requeued run resumes from its checkpoint, and every final checkpoint equals the
  local launcher's."""
  root = str(tmp_path / "sweep")
  driver = subprocess.Popen(
      [sys.executable, "-m", "experiments.sweep", f"--root={root}", *TINY, GRID,
       "--launcher=slurm", "--cpus_per_run=1", "--slurm_time_min=20"],
      cwd=ROOT, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  try:
    def a_running_task_with_a_checkpoint():
      assert driver.poll() is None, driver.communicate()
      for task in _running_array_tasks():
        name = NAMES[int(task.split("_")[1])]
        if checkpointing.Checkpointer.steps_on_disk(os.path.join(root, name, "checkpoints")):
          return task, name
      return None
    _wait_for(a_running_task_with_a_checkpoint, 300, "a running task to checkpoint")
    task, name = a_running_task_with_a_checkpoint()
    # Preemption as Slurm signals it to a job that asked (submitit's --signal): SIGUSR2 to the
    # job's steps; submitit checkpoints the task and requeues it (scontrol requeue) before it
    # exits, and the trainer dies with it.
    # (scancel may wait on the step it signalled while that step is requeued: not waited for.)
    signalling = subprocess.Popen(["scancel", "--signal=USR2", task], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
    # Slurm holds a requeued task (reason BeginTime) before it may start again: start it now.
    _wait_for(lambda: "BeginTime" in _squeue(task), 120, "the task to be requeued")
    signalling.kill()  # (else it may signal the task's next start too)
    signalling.wait()
    subprocess.run(["scontrol", "update", f"JobId={task}", "StartTime=now"], capture_output=True,
                   timeout=60)
    out, err = driver.communicate(timeout=900)
  finally:
    if driver.poll() is None:
      driver.kill()
  assert driver.returncode == 0, out[-2000:] + err[-3000:]
  log = open(os.path.join(root, f"{name}.log"), encoding="utf-8").read()
  assert log.count("# jaxgan: started") == 2, log[-2000:]
  assert "Resuming from checkpoint step" in log
  assert final_checksums(root) == local_reference
  assert [r["state"] for r in sweeps.status(root)] == ["done"] * 4
