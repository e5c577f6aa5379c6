"""Tests for gan/writers.py: TensorBoard events written synchronously, and failing fast and cleanly
on a full disk (a real, small tmpfs: the tests that need one mount it, which takes root)."""

import contextlib
import os
import re
import struct
import subprocess
import sys

import numpy as np
import pytest
from tensorboardX.proto import event_pb2

from gan import images
from gan import writers
from gan.checkpointing import READERS_LOCK

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_events(logdir):
  """Every Event in ``logdir``'s event files (TFRecord framing: length, crc, data, crc)."""
  events = []
  for name in sorted(os.listdir(logdir)):
    with open(os.path.join(logdir, name), "rb") as f:
      blob = f.read()
    at = 0
    while at < len(blob):
      (length,) = struct.unpack("Q", blob[at:at + 8])
      events.append(event_pb2.Event.FromString(blob[at + 12:at + 12 + length]))
      at += 12 + length + 4
  return events


def test_scalars_and_images_reach_tensorboard_and_jsonl_at_once(tmp_path):
  writer = writers.MetricWriter(str(tmp_path), purge_step=3)
  writer.scalars(3, {"d_loss": 1.25})
  writer.image(3, "samples", np.full((4, 5, 3), 7, np.uint8))
  # Nothing buffered in a thread: both files hold the step before close().
  events = read_events(str(tmp_path / "tensorboard"))
  assert events[0].file_version == "brain.Event:2"
  assert events[1].step == 3 and events[1].session_log.status == event_pb2.SessionLog.START
  scalar = events[2].summary.value[0]
  assert (events[2].step, scalar.tag, scalar.simple_value) == (3, "d_loss", 1.25)
  image = events[3].summary.value[0].image
  assert (image.height, image.width, image.colorspace) == (4, 5, 3)
  assert (tmp_path / "metrics.jsonl").read_text() == '{"step": 3, "d_loss": 1.25}\n'
  writer.close()
  writer.close()  # idempotent


def fill(directory):
  """Fills ``directory``'s filesystem."""
  with open(os.path.join(directory, "filler"), "wb", buffering=0) as f:
    with contextlib.suppress(OSError):
      while True:
        f.write(b"\0" * 4096)
  stat = os.statvfs(directory)
  assert stat.f_bavail * stat.f_frsize <= 4096


def test_a_full_disk_raises_at_the_write_that_failed(small_filesystem):
  with small_filesystem("256k") as disk:
    writer = writers.MetricWriter(str(disk))
    writer.scalars(1, {"d_loss": 1.0})
    fill(disk)
    with pytest.raises(writers.WriteError, match=r"cannot write .*(tfevents\S*|metrics.jsonl) "
                       r"\(No space left on device\)"):
      for step in range(2, 2000):
        writer.scalars(step, {"d_loss": float(step)})
    writer.close()  # does not raise again, does not hang
    with pytest.raises(writers.WriteError, match=r"samples.png \(No space left on device\)"):
      images.save_png(np.zeros((200, 200, 3), np.uint8), str(disk / "samples.png"))
    assert not os.path.exists(disk / "samples.png.tmp") and not os.path.exists(disk / "samples.png")


def _train(workdir, *overrides, config="experiments/configs/toy_ring.py", timeout=300):
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
  return subprocess.run(
      [sys.executable, "-m", "experiments.train", f"--workdir={workdir}", f"--config={config}",
       *overrides], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _one_error_line(done):
  assert done.returncode == 2, done.stderr[-3000:]
  assert "Traceback" not in done.stderr, done.stderr[-3000:]
  # Besides the progress lines, one line: no log records of the libraries underneath.
  lines = [l for l in done.stderr.strip().splitlines() if not re.match(r"step \d+/\d+ ", l)]
  assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr[-3000:]
  return lines[0]


@pytest.mark.slow
def test_samples_filling_the_disk_stop_training_in_one_line_and_it_resumes(small_filesystem):
  # 2 MB: filled by samples within ~200 steps, and the samples then freed (about half of it) hold
  # the resumed steps' writes with room to spare, a fourth checkpoint (written before the oldest
  # is deleted) included. At 1 MB that margin depended on how far the first run got.
  with small_filesystem("2m") as disk:
    workdir = str(disk / "run")
    toy = ["--config.model_args.hidden=(16, 16)", "--config.batch_size=16", "--config.sample_every=1",
           "--config.checkpoint_every=2", "--config.log_every=1"]
    # A sample every step fills the disk: the run stops at once (no hang in a writer thread),
    # naming the file (a sample, a log or a checkpoint: whichever finds the disk full first),
    # and keeps its checkpoints.
    error = _one_error_line(_train(workdir, "--config.num_steps=400", *toy))
    assert "(No space left on device)" in error
    assert re.search(r"(checkpoints written so far|earlier checkpoints) \(\[\d", error), error
    kept = checkpointing_steps(workdir)
    assert kept
    # Space freed, the same command (to a budget that fits) resumes from the last checkpoint.
    for name in os.listdir(os.path.join(workdir, "samples")):
      os.remove(os.path.join(workdir, "samples", name))
    done = _train(workdir, f"--config.num_steps={kept[-1] + 2}", *toy)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"Resuming from checkpoint step {kept[-1]}" in done.stdout


@pytest.mark.slow
def test_a_checkpoint_that_does_not_fit_is_one_line_and_leaves_no_partial_step(
    small_filesystem):
  with small_filesystem("4m") as disk:  # dcgan28's checkpoint is about 13 MB
    workdir = str(disk / "run")
    args = ["--config.num_steps=2", "--config.batch_size=8", "--config.sample_every=0",
            "--config.checkpoint_every=2"]
    # orbax's own tracebacks (about 140 lines) stay out of stderr.
    error = _one_error_line(_train(workdir, *args, config="experiments/configs/dcgan_mnist.py"))
    assert "Could not write the checkpoint of step 2" in error
    assert "(No space left on device)" in error and "earlier checkpoints (none)" in error
    assert os.listdir(os.path.join(workdir, "checkpoints")) == [READERS_LOCK]  # space given back


def checkpointing_steps(workdir):
  from gan import checkpointing  # pylint: disable=g-import-not-at-top
  return checkpointing.Checkpointer.steps_on_disk(os.path.join(workdir, "checkpoints"))
