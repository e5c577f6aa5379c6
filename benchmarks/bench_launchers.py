r"""The launchers' wall time on one sweep of 8 tiny runs, and their overhead per run.

  python -m benchmarks.bench_launchers [--out benchmarks/results/launchers_cpu.md]

The sweep: toy ring, a (32, 32) MLP, batch 16, 500 steps, losses non_saturating, hinge,
least_squares, saturating x seeds 0, 1. Run four ways on this machine, each on a fresh root:
``local --parallel 1`` (in this process's child, one run at a time), ``local --parallel 2``,
``ray`` on a two-node cluster started here (a head and a second node, one CPU each), and
``slurm`` (a single-node Slurm started here by tools/slurm_single_node.sh, one CPU a run).

Overhead per run = (wall time x runs at a time - the runs' own time) / runs, where a run's own
time is its ``results.json`` ``wall_seconds`` (from the trainer's door to its results: data,
compiling and training). It is what the launcher adds: process start, imports, scheduling,
polling.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = ["--config=experiments/configs/toy_ring.py", "--config.batch_size=16",
        "--config.model_args.hidden=(32,32)", "--config.sample_every=0",
        "--config.log_every=100", "--config.checkpoint_every=250", "--config.num_steps=500",
        "--grid=loss=non_saturating,hinge,least_squares,saturating", "--seeds=0,1"]


def _env():
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT, RAY_USAGE_STATS_ENABLED="0")
  env.pop("XLA_FLAGS", None)
  return env


def sweep(root, *extra):
  started = time.time()
  done = subprocess.run([sys.executable, "-m", "experiments.sweep", f"--root={root}", *ARGS,
                         *extra], cwd=ROOT, env=_env(), capture_output=True, text=True)
  wall = time.time() - started
  if done.returncode:
    raise SystemExit(f"sweep {extra} failed: {done.stderr[-2000:]}")
  own = 0.0
  for name in os.listdir(root):
    results = os.path.join(root, name, "results.json")
    if os.path.isfile(results):
      with open(results, encoding="utf-8") as f:
        own += json.load(f)["wall_seconds"]
  return wall, own


def ray_cluster():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  ray = os.path.join(os.path.dirname(sys.executable), "ray")
  subprocess.run([ray, "start", "--head", f"--port={port}", "--num-cpus=1",
                  "--include-dashboard=false"], env=_env(), check=True, capture_output=True)
  node2 = subprocess.Popen([ray, "start", f"--address=127.0.0.1:{port}", "--num-cpus=1",
                            "--block"], env=_env(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
  code = (f"import ray; ray.init(address='127.0.0.1:{port}', logging_level='ERROR'); "
          "print(sum(n['Alive'] for n in ray.nodes()))")
  for _ in range(120):
    out = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True,
                         text=True).stdout.strip()
    if out.endswith("2"):
      break
    time.sleep(1)

  def stop():
    os.killpg(node2.pid, signal.SIGKILL)
    subprocess.run([ray, "stop", "--force"], env=_env(), capture_output=True)
  return f"127.0.0.1:{port}", stop


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results",
                                                    "launchers_cpu.md"))
  args = parser.parse_args()
  base = tempfile.mkdtemp(prefix="bench_launchers_")
  rows = []
  try:
    for label, slots, extra in [("local --parallel 1", 1, []), ("local --parallel 2", 2,
                                                                ["--parallel=2"])]:
      rows.append((label, slots, *sweep(os.path.join(base, label.replace(" ", "_")), *extra)))
      print(rows[-1], flush=True)
    address, stop = ray_cluster()
    try:
      rows.append(("ray, two nodes x 1 CPU", 2, *sweep(os.path.join(base, "ray"),
                                                       "--launcher=ray",
                                                       f"--ray_address={address}")))
      print(rows[-1], flush=True)
    finally:
      stop()
    state = os.path.join(base, "slurm_state")
    subprocess.run(["bash", os.path.join(ROOT, "tools", "slurm_single_node.sh"), "start", state],
                   check=True)
    try:
      rows.append(("slurm, 1 node x 2 CPUs", 2, *sweep(os.path.join(base, "slurm"),
                                                       "--launcher=slurm")))
      print(rows[-1], flush=True)
    finally:
      subprocess.run(["bash", os.path.join(ROOT, "tools", "slurm_single_node.sh"), "stop",
                      state])
  finally:
    shutil.rmtree(base, ignore_errors=True)
  lines = ["| launcher | runs at a time | wall time (s) | runs' own time, summed (s) | "
           "overhead per run (s) |", "|---|---|---|---|---|"]
  for label, slots, wall, own in rows:
    lines.append(f"| {label} | {slots} | {wall:.1f} | {own:.1f} | {(wall * slots - own) / 8:.1f} |")
  table = "\n".join(lines)
  print(table)
  with open(args.out, "w", encoding="utf-8") as f:
    f.write(f"# Launchers: one sweep of 8 tiny runs\n\nCommand: `python -m "
            f"benchmarks.bench_launchers` ({time.strftime('%Y-%m-%d')}, this project's 2-core "
            f"machine, CPU only). The sweep and the definitions are in the script's "
            f"docstring.\n\n{table}\n")


if __name__ == "__main__":
  main()
