"""Test setup: eight CPU devices, so multi-device code is tested on a one-CPU machine, and a
persistent compilation cache, so a second run reads the programs the first one compiled.

XLA reads the flags when jax initialises its backend, and jax reads its ``JAX_*`` settings when
it is imported, so both are set here, before any test module imports jax; as environment
variables, they reach the commands that tests run as subprocesses too.
"""

import contextlib
import os
import subprocess
import uuid

import pytest

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# Most of a test's time on a CPU is XLA compiling: the step functions, and every primitive that
# eager code (the references written outside jit) dispatches. Every program is cached, however
# quick its compile (jax's defaults keep only those over a second), outside the checkout, so
# that all checkouts and worktrees of the project share it. JAX_COMPILATION_CACHE_DIR (or an
# empty value: no cache) overrides the place.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(os.path.expanduser("~"), ".cache", "jaxgan", "xla-tests"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")


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

