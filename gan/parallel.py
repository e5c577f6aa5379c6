"""Running `gan.step.train_step` data-parallel: ``jax.pmap``, or ``jax.jit`` over a data mesh.

Both forms run the very same step function and give the state one device gives on the same global
batch (random numbers are drawn per global example, BatchNorm statistics are global-batch ones):

* ``pmap_train_step``: the state is replicated with a leading device axis, the batch is split into
  ``[num_devices, per_device, ...]``, and the step runs with ``axis_name`` so gradients, metrics and
  BatchNorm statistics are averaged with ``lax.pmean``.
* ``sharded_train_step``: the state is replicated and the batch sharded along a 1-D ``data`` mesh
  with `NamedSharding`; the step runs *without* an ``axis_name`` on the global array and XLA inserts
  the collectives. This is the form that also spans several processes (hosts): each process passes
  its own rows to `global_batch`.
"""

from __future__ import annotations

import functools
from typing import Any, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from gan import step as step_lib

DATA_AXIS = "data"


def data_mesh(devices: Optional[Sequence[jax.Device]] = None) -> Mesh:
  """A 1-D mesh over all (global) devices, its one axis named ``'data'``."""
  devices = jax.devices() if devices is None else list(devices)
  return Mesh(np.asarray(devices), (DATA_AXIS,))


def replicate(tree: Any, mesh: Mesh) -> Any:
  """Places a pytree on every device of ``mesh`` (fully replicated)."""
  return jax.device_put(tree, NamedSharding(mesh, P()))


def global_batch(local_batch: dict, mesh: Mesh, seed_axis: bool = False) -> dict:
  """Assembles each process's rows into one global batch sharded along ``'data'``.

  On one process this is a sharded ``device_put``; on several, process p passes rows
  ``[p * B / P, (p + 1) * B / P)`` of the global batch and gets the global array back. With
  ``seed_axis`` the arrays are ``[num_seeds, B, ...]`` and the rows are their second axis.
  """
  sharding = NamedSharding(mesh, P(None, DATA_AXIS) if seed_axis else P(DATA_AXIS))
  if jax.process_count() == 1:
    return jax.device_put(local_batch, sharding)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), local_batch)


def sharded_train_step(gan: step_lib.GAN, mesh: Mesh,
                       schedule: step_lib.Schedule = step_lib.DEFAULT_SCHEDULE,
                       skip_nonfinite: bool = False, donate=True, num_seeds: int = 0):
  """`gan.step.train_step` jitted for a replicated state and a ``'data'``-sharded global batch.

  The schedule is used as given (`gan.config.resolve_schedule` picks whole batches for D on a
  mesh of several devices, where pieces of the global batch would straddle devices).

  With ``num_seeds > 0`` the step is ``vmap``-ed over a leading seed axis of the state, the batch
  (``[num_seeds, B, ...]``, rows sharded) and the rng: independent runs in one program.
  """
  replicated = NamedSharding(mesh, P())
  step = functools.partial(step_lib.train_step, gan, skip_nonfinite=skip_nonfinite,
                           schedule=schedule)
  if num_seeds:
    step = jax.vmap(step)
  rows = NamedSharding(mesh, P(None, DATA_AXIS) if num_seeds else P(DATA_AXIS))
  return jax.jit(step, in_shardings=(replicated, rows, replicated),
                 out_shardings=(replicated, replicated), donate_argnums=(0,) if donate else (),
                 compiler_options=schedule.compiler_options())


def pmap_train_step(gan: step_lib.GAN, axis_name: str = "batch", skip_nonfinite: bool = False,
                    donate=True, schedule: step_lib.Schedule = step_lib.DEFAULT_SCHEDULE):
  """`gan.step.train_step` under ``jax.pmap``; state and batch carry a leading device axis.

  ``jax.pmap`` takes no compiler options, so this step compiles with XLA's defaults, not
  ``schedule.xla_cpu_options`` (the same numbers up to float32 rounding; on a CPU maybe slower).
  Each device runs the step on its own shard, so ``schedule.d_chunk_size`` applies per device.
  """
  step = functools.partial(step_lib.train_step, gan, axis_name=axis_name,
                           skip_nonfinite=skip_nonfinite, schedule=schedule)
  return jax.pmap(step, axis_name=axis_name, in_axes=(0, 0, None),
                  donate_argnums=(0,) if donate else ())


def replicate_for_pmap(tree: Any, num_devices: Optional[int] = None) -> Any:
  """Stacks ``num_devices`` copies of every leaf along a new leading axis (for pmap)."""
  n = jax.local_device_count() if num_devices is None else num_devices
  return jax.tree.map(lambda x: jnp.broadcast_to(x, (n,) + jnp.shape(x)), tree)


def split_for_pmap(batch: dict, num_devices: Optional[int] = None) -> dict:
  """``[B, ...] -> [num_devices, B / num_devices, ...]``: device d gets rows [d*B/n, (d+1)*B/n)."""
  n = jax.local_device_count() if num_devices is None else num_devices

  def split(x):
    if x.shape[0] % n:
      raise ValueError(f"The batch has {x.shape[0]} rows, which {n} devices cannot share evenly; "
                       f"use a batch size divisible by {n}.")
    return x.reshape((n, x.shape[0] // n) + x.shape[1:])

  return jax.tree.map(split, batch)


def unreplicate(tree: Any) -> Any:
  """The first device's copy of a pmap-replicated pytree."""
  return jax.tree.map(lambda x: x[0], tree)
