"""Where training reports go: TensorBoard event files, ``metrics.jsonl``, and the terminal.

TensorBoard events are written synchronously, in the calling thread, with tensorboardX's event
file writer (no TensorFlow needed): a write that fails (a full disk, a removed directory) raises
`WriteError` at the call that made it, instead of killing a background thread and leaving the
trainer blocked on its queue. Only process 0 writes; on other processes every method is a no-op.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from typing import Iterator, Mapping, Optional

import numpy as np


from gan import workdir as workdir_lib
from gan.errors import WriteError


@contextlib.contextmanager
def reporting_write_errors(path: str) -> Iterator[None]:
  """Turns an ``OSError`` inside the block into a `WriteError` naming ``path``."""
  try:
    yield
  except OSError as e:
    raise WriteError(f"cannot write {path} ({e.strerror or e}); free disk space or fix the "
                     "permissions of that directory.") from e


class _EventFile:
  """TensorBoard's event file format, written synchronously (`tensorboardX`'s writer minus its
  background thread)."""

  def __init__(self, logdir: str, purge_step: Optional[int]):
    from tensorboardX import event_file_writer  # pylint: disable=g-import-not-at-top
    from tensorboardX.proto import event_pb2  # pylint: disable=g-import-not-at-top
    self._event_pb2 = event_pb2
    os.makedirs(logdir, exist_ok=True)
    self._writer = event_file_writer.EventsWriter(os.path.join(logdir, "events"))
    if purge_step is not None:
      # TensorBoard discards earlier events of steps >= purge_step: those steps are trained again.
      self._writer.write_event(event_pb2.Event(
          step=purge_step, session_log=event_pb2.SessionLog(status=event_pb2.SessionLog.START)))
    self.path = self._writer._file_name  # pylint: disable=protected-access

  def write(self, step: int, summary) -> None:
    self._writer.write_event(self._event_pb2.Event(wall_time=time.time(), step=int(step),
                                                   summary=summary))

  def flush(self) -> None:
    self._writer.flush()

  def close(self) -> None:
    self._writer.close()


class MetricWriter:
  """Scalars to TensorBoard and ``metrics.jsonl``; images to TensorBoard.

  ``purge_step``: a resumed run's first step; TensorBoard hides the events of that step and later
  ones from the interrupted attempt (the caller truncates ``metrics.jsonl`` likewise). Every
  write is flushed before the call returns; a failed one raises `WriteError`.
  """

  def __init__(self, workdir: str, enabled: bool = True, purge_step: Optional[int] = None):
    self.enabled = enabled
    self._tb = self._jsonl = None
    if enabled:
      logdir = os.path.join(workdir, "tensorboard")
      with reporting_write_errors(logdir):
        self._tb = _EventFile(logdir, purge_step)
      self._jsonl_path = os.path.join(workdir, workdir_lib.METRICS_FILE)
      with reporting_write_errors(self._jsonl_path):
        self._jsonl = open(self._jsonl_path, "a", encoding="utf-8")

  def scalars(self, step: int, values: Mapping[str, float]) -> None:
    if not self.enabled:
      return
    from tensorboardX import summary  # pylint: disable=g-import-not-at-top
    with reporting_write_errors(self._tb.path):
      for name, value in values.items():
        self._tb.write(step, summary.scalar(name, float(value)))
      self._tb.flush()
    with reporting_write_errors(self._jsonl_path):
      self._jsonl.write(json.dumps(dict(step=int(step), **{k: float(v) for k, v in values.items()}))
                        + "\n")
      self._jsonl.flush()

  def image(self, step: int, name: str, image: np.ndarray) -> None:
    """``image``: uint8 ``[H, W, C]``."""
    if self.enabled:
      from tensorboardX import summary  # pylint: disable=g-import-not-at-top
      with reporting_write_errors(self._tb.path):
        self._tb.write(step, summary.image(name, image, dataformats="HWC"))
        self._tb.flush()

  def flush(self) -> None:
    if self.enabled:
      with reporting_write_errors(self._tb.path):
        self._tb.flush()
      with reporting_write_errors(self._jsonl_path):
        self._jsonl.flush()

  def close(self) -> None:
    """Closes both files; safe to call after a failed write (a second failure is not raised)."""
    if self.enabled:
      for closable in (self._tb, self._jsonl):
        with contextlib.suppress(OSError):
          closable.close()
      self.enabled = False


class Progress:
  """A one-line progress bar on a terminal; plain log lines when output is not a terminal."""

  def __init__(self, total: int, start: int, enabled: bool = True, stream=None):
    self.total, self.enabled = total, enabled
    self.stream = stream or sys.stderr
    self._tty = hasattr(self.stream, "isatty") and self.stream.isatty()
    self._last_step, self._last_time = start, time.perf_counter()
    self.rate: Optional[float] = None

  def update(self, step: int, metrics: Mapping[str, float]) -> float:
    """Reports ``step``; returns steps/s since the previous report."""
    now = time.perf_counter()
    self.rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    if self.enabled:
      shown = " ".join(f"{k}={metrics[k]:.3f}" for k in ("d_loss", "g_loss", "d_real", "d_fake")
                       if k in metrics)
      eta = (self.total - step) / self.rate if self.rate else float("nan")
      if self._tty:
        width = 24
        done = int(width * step / max(self.total, 1))
        self.stream.write(f"\r[{'#' * done}{'.' * (width - done)}] {step}/{self.total} "
                          f"{self.rate:.1f} steps/s eta {eta:4.0f}s {shown}   ")
      else:
        self.stream.write(f"step {step}/{self.total} {self.rate:.2f} steps/s {shown}\n")
      self.stream.flush()
    return self.rate

  def close(self) -> None:
    if self.enabled and self._tty:
      self.stream.write("\n")
      self.stream.flush()
