r"""Chaos check: SIGKILL a training run at random moments, resume it each time, compare.

  python -m experiments.kill_resume --workdir /tmp/kill_resume --kills 10

Trains a small config once without interruption (the reference), then trains it again in a
second workdir, killing the process with SIGKILL ``--kills`` times and restarting it each time:
on odd kills as soon as the restarted run has written a new checkpoint plus a random fraction of a
second, on even kills while a checkpoint is being written (a ``*.orbax-checkpoint-tmp*``
directory exists). After every kill a fresh process checks that the newest checkpoint restores
and verifies its checksum; at the end, that the final state is bitwise identical to the reference
(same checksum). Exits 0 on success, 1 on any mismatch.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

from absl import app
from absl import flags

_WORKDIR = flags.DEFINE_string("workdir", "/tmp/jaxgan_kill_resume", "Scratch directory.")
_KILLS = flags.DEFINE_integer("kills", 10, "How many times to SIGKILL the run.")
_STEPS = flags.DEFINE_integer("steps", 60, "Training steps of the run.")
_MODEL = flags.DEFINE_string("model", "dcgan28", "Model to train (dcgan28 or mlp).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the kill schedule.")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _command(workdir, steps, model):
  return [sys.executable, "-m", "experiments.train", f"--workdir={workdir}",
          f"--config.model={model}", f"--config.num_steps={steps}", "--config.batch_size=8",
          "--config.checkpoint_every=3", "--config.keep_checkpoints=2", "--config.sample_every=0",
          "--config.log_every=3"]


def _checksum(workdir, step):
  with open(os.path.join(workdir, "checkpoints", str(step), "meta", "metadata")) as f:
    return json.load(f)["checksum"]


def _finished_steps(workdir):
  directory = os.path.join(workdir, "checkpoints")
  return sorted(n for n in os.listdir(directory) if n.isdigit()) if os.path.isdir(directory) else []


def _writing_checkpoint(workdir):
  directory = os.path.join(workdir, "checkpoints")
  return os.path.isdir(directory) and any("tmp" in n for n in os.listdir(directory))


def _latest_is_good(workdir, model):
  """Restores the newest checkpoint in a fresh process; True when it verifies without fallback."""
  code = (
      "import sys, jax; from gan import checkpointing, config, step\n"
      "from experiments.configs import dcgan_mnist\n"
      f"c = dcgan_mnist.get_config(); c.model = {model!r}\n"
      "gan = config.build_gan(c)\n"
      "like = step.create_state(gan, jax.random.key(0))\n"
      f"ck = checkpointing.Checkpointer({os.path.join(workdir, 'checkpoints')!r}, log=print)\n"
      "steps = ck.steps()\n"
      "ck.restore(steps[-1], like) if steps else None\n"
      "print('latest', steps[-1] if steps else None)\n")
  result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
  return result.returncode == 0, (result.stdout + result.stderr).strip().splitlines()[-1:]


def run(workdir, kills, steps, model, seed):
  """Returns True when the killed-and-resumed run ends bitwise equal to the reference."""
  rng = random.Random(seed)
  shutil.rmtree(workdir, ignore_errors=True)
  reference, chaos = os.path.join(workdir, "reference"), os.path.join(workdir, "chaos")
  env = dict(os.environ, PYTHONPATH=ROOT)
  subprocess.run(_command(reference, steps, model), cwd=ROOT, env=env, check=True,
                 capture_output=True)
  for k in range(kills):
    proc = subprocess.Popen(_command(chaos, steps, model), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    during_write = k % 2 == 1
    before = _finished_steps(chaos)
    # Wait until this incarnation has made progress (a new checkpoint, or one being written),
    # then kill at once (during a write) or after a random part of a checkpoint interval.
    while proc.poll() is None:
      if during_write and _writing_checkpoint(chaos):
        break
      if not during_write and _finished_steps(chaos) != before:
        time.sleep(rng.uniform(0.0, 0.5))
        break
      time.sleep(0.002)
    if proc.poll() is not None:
      print(f"kill {k + 1}: the run finished before the kill")
      break
    where = "during a checkpoint write" if _writing_checkpoint(chaos) else "between checkpoints"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    good, last = _latest_is_good(chaos, model)
    print(f"kill {k + 1}: SIGKILL {where}; newest checkpoint restores and verifies: {good} {last}")
    if not good:
      return False
  subprocess.run(_command(chaos, steps, model), cwd=ROOT, env=env, check=True,
                 capture_output=True)
  same = _checksum(chaos, steps) == _checksum(reference, steps)
  print(f"final state after {kills} kills bitwise identical to the uninterrupted run: {same}")
  return same


def main(argv):
  del argv
  return 0 if run(_WORKDIR.value, _KILLS.value, _STEPS.value, _MODEL.value, _SEED.value) else 1


if __name__ == "__main__":
  sys.exit(app.run(main))
