"""Where training reports go: TensorBoard event files, ``metrics.jsonl``, and the terminal.

TensorBoard files are written with tensorboardX (no TensorFlow needed). Only process 0 writes;
on other processes every method is a no-op.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Mapping, Optional

import numpy as np


class MetricWriter:
  """Scalars to TensorBoard and ``metrics.jsonl``; images to TensorBoard."""

  def __init__(self, workdir: str, enabled: bool = True):
    self.enabled = enabled
    self._tb = None
    self._jsonl = None
    if enabled:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
      self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a", encoding="utf-8")

  def scalars(self, step: int, values: Mapping[str, float]) -> None:
    if not self.enabled:
      return
    for name, value in values.items():
      self._tb.add_scalar(name, float(value), step)
    self._jsonl.write(json.dumps(dict(step=int(step), **{k: float(v) for k, v in values.items()}))
                      + "\n")
    self._jsonl.flush()

  def image(self, step: int, name: str, image: np.ndarray) -> None:
    """``image``: uint8 ``[H, W, C]``."""
    if self.enabled:
      self._tb.add_image(name, image, step, dataformats="HWC")

  def flush(self) -> None:
    if self.enabled:
      self._tb.flush()
      self._jsonl.flush()

  def close(self) -> None:
    if self.enabled:
      self._tb.close()
      self._jsonl.close()


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
