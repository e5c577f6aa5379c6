"""Test setup: eight CPU devices, so multi-device code is tested on a one-CPU machine.

XLA reads the flag when jax initialises its backend, so it is set here, before any test module
imports jax.
"""

import contextlib
import os
import subprocess
import uuid

import pytest

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# Many tests compile the same step functions; a persistent cache makes the second compile a read.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".jax_cache"))


@pytest.fixture
def small_filesystem(tmp_path):
  """``small_filesystem(size, read_only=False)``: a real tmpfs of ``size`` (e.g. "1m") mounted
  under ``tmp_path``, as a context manager yielding its path; ``.read_only()`` on the fixture
  remounts the newest one read-only. Skips unless this process may mount (root)."""
  mounts = []

  @contextlib.contextmanager
  def mount(size):
    if os.geteuid() != 0:
      pytest.skip("mounting a small tmpfs needs root; these tests run as root (CI does)")
    path = tmp_path / f"small_{uuid.uuid4().hex[:6]}"
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode:
      pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    mounts.append(path)
    try:
      yield path
    finally:
      subprocess.run(["umount", "-l", str(path)], check=False)

  def read_only():
    subprocess.run(["mount", "-o", "remount,ro", str(mounts[-1])], check=True)

  mount.read_only = read_only
  return mount


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
  """One TFDS data directory for the session's tests (mnist5k is built there once)."""
  return str(tmp_path_factory.mktemp("tfds"))
