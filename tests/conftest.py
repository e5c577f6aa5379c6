"""Test setup: eight CPU devices, so multi-device code is tested on a one-CPU machine.

XLA reads the flag when jax initialises its backend, so it is set here, before any test module
imports jax.
"""

import os

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                           " --xla_force_host_platform_device_count=8").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# Many tests compile the same step functions; a persistent cache makes the second compile a read.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".jax_cache"))
