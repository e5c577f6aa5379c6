"""The GAN train state and the pure step functions that update it.

One step function serves every way of running it: ``jax.jit`` on one device, ``jax.pmap`` /
``shard_map`` with an ``axis_name`` (through which gradients, metrics and BatchNorm statistics are
averaged), and ``jax.jit`` over a `NamedSharding` data mesh (see `gan.parallel`).

Random numbers never depend on the device count. Every random draw of an iteration (z, fake
labels, dropout masks, WGAN-GP mixing weights) comes from a per-example key
``fold_in(fold_in(rng, step), global_example_index)``, so a global batch split over eight devices
sees exactly the numbers one device would, and no two shards share a dropout mask. Because the
step number is folded in inside the step, a resumed run draws the same numbers as an
uninterrupted one.

One iteration (Goodfellow et al. 2014, Algorithm 1): ``n_critic`` discriminator updates, each on
its own slice of real data and its own z, then one generator update on the z of the last
discriminator update (as the PyTorch DCGAN example does: one generated batch serves both updates).
D update ``j`` draws from salts ``8 j + {0: z, 1: fake labels, 2: dropout on real, 3: dropout on
fake, 4: GP mixing weight, 5: DiffAugment of real, 6: DiffAugment of fake}``; the G update draws
D's dropout masks (and augmentations) as a critic step ``n_critic`` would (``8 n_critic + 2`` on
real, for losses that compare with real logits, ``+ 3`` on fake; ``+ 5`` and ``+ 6``).
The gradient penalty evaluates D at the mixes with the real examples' labels and dropout masks
(in a conditional GAN a mix of two classes is judged under the real example's class).

Packing (PacGAN, Lin et al. 2018; ``GAN.pack = m``): D judges m samples at once. The batch still
holds samples, one key each (z is drawn per sample); `pack_samples` turns each D update's N real
samples, and its N generated ones, into N / m packed inputs, samples ``i m .. i m + m - 1``
concatenated along the last (feature or channel) axis. Everything D-side is per packed input:
packed input i draws its dropout masks and its GP mixing weight from the key of its first sample,
``i m``, with the salts above; R1 and GP take gradients with respect to the packed input. With
m = 1 nothing changes.

What is computed is fixed by `GAN` (the objective: models, optimizers, loss, regularizers). How
it is scheduled on a machine is a separate `Schedule` (one D call or two, D in pieces, the XLA
compiler options), resolved once by `gan.config.resolve_schedule`; a schedule changes at most the
order of float32 rounding, never the function.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from gan import augment
from gan import fields
from gan import latent
from gan import losses
from gan.errors import ConfigError
from gan.registry import Registry

# Salts that separate the random draws of one example within one iteration.
_SALT_LATENT, _SALT_LABEL, _SALT_DROPOUT_REAL, _SALT_DROPOUT_FAKE, _SALT_MIX = range(5)
_SALT_AUGMENT_REAL, _SALT_AUGMENT_FAKE = 5, 6
_SALTS_PER_CRITIC_STEP = 8
_STANDING_STATS_SALT = 0x57A7  # the z of standing statistics: fold_in(key(salt), 0), shared by all
BATCH_STATS_MODES = ("running", "standing")
# Fields of the objective, checked by `GAN` itself and, through `gan.config.FIELDS`, at the door.
PACK = fields.integer(1, "must be a positive integer: 1 (no packing) or m, the samples D judges "
                      "at once (PacGAN2 = 2).")
SAMPLE_BATCH_STATS = fields.one_of(lambda: BATCH_STATS_MODES)


class GANState(struct.PyTreeNode):
  """Everything that changes during training, as one pytree of arrays (orbax saves it whole).

  Attributes:
    step: number of completed iterations (int32 scalar).
    g_params, d_params: generator and discriminator parameters.
    g_batch_stats, d_batch_stats: BatchNorm running statistics (``{}`` where a model has none).
    g_opt_state, d_opt_state: optax states.
    ema_g_params: exponential moving average of ``g_params`` (equal to them when EMA is off).
  """
  step: jax.Array
  g_params: Any
  d_params: Any
  g_batch_stats: Any
  d_batch_stats: Any
  g_opt_state: Any
  d_opt_state: Any
  ema_g_params: Any


@dataclasses.dataclass(frozen=True)
class GAN:
  """The static, non-array half of a GAN: the objective (modules, optimizers, loss, regularizers).

  Hashable, so it can be closed over or passed as a static argument to jitted functions. Build
  one from a config with `gan.config.build_gan`.

  Attributes:
    generator, discriminator: the modules (see the contract in `gan.models.registry`).
    g_optimizer, d_optimizer: optax transformations.
    data_shape: shape of one example.
    latent_dim: size of z.
    latent_distribution: z's prior, a name in `gan.latent.DISTRIBUTIONS` (``normal``: N(0, I);
      ``uniform``: U[-1, 1]^D), drawn per example like every random number of the step.
    loss: a registered loss (`gan.losses.names()`).
    n_critic: D updates per G update.
    num_classes: > 0 for a class-conditional GAN.
    ema_decay: decay of the EMA of G's params (0 = off).
    ema_warmup: the decay at iteration t is ``min(ema_decay, (1 + t) / (10 + t))`` (as TF's
      ExponentialMovingAverage with ``num_updates``), so the average forgets the random
      initialisation within the first few hundred steps instead of ~1 / (1 - decay).
    r1_gamma: weight gamma of R1; the loss adds ``gamma / 2 * E||grad D(x)||^2``.
    gp_weight: weight lambda of the WGAN-GP penalty.
    d_weight_clip: c > 0 clips every D parameter to [-c, c] after each D update (WGAN).
    pack: m >= 1 samples per D input (PacGAN, Lin et al. 2018; 1 = no packing). A D update's N
      samples become N / m packed inputs (`pack_samples`): m real samples concatenated along the
      last axis, or m generated ones, never a mix, as in the authors' code (fjxmlzn/PacGAN,
      synthetic_data_experiments/PacGAN/pacgan/bricks.py:63-67 concatenates m generated batches
      on axis 1 and datasets.py:73-80 stacks m real columns; stacked_MNIST_experiments/
      VEEGAN_experiment/model.py:110-113, 379-384 on the channel axis). D is initialised on the
      packed shape (`packed_shape`). A G with BatchNorm is run once per pack slot (samples
      ``j, j + m, ...``), each slot normalised over its own samples, as the authors call G m times
      (bricks.py:64-66); its running statistics take the mean of the m slots' updates, as their
      merged population updates do (2DRing_GAN&PacGAN/pacgan_task.py:129-149). Unconditional
      only: a packed input would hold samples of m classes but take one label.
    diffaugment: DiffAugment's policy (`gan.augment.AUGMENTATIONS` names, e.g. ``('translation',
      'cutout')``; empty = off): every image D sees, real or generated, in D's updates and in
      G's, goes through it first, per sample, before packing; G's gradient flows through it.
    diffaugment_strength: scales the transforms (1 = Zhao et al. 2020's sizes, 0 = identity).
    sample_batch_stats: how a G with BatchNorm normalises when sampling (`generate`):
      ``running``, with the running statistics the train step kept for the trained params; or
      ``standing``, with statistics recomputed for the params sampled from (the EMA's, when on)
      over `STANDING_STATS_SAMPLES` fixed z (`standing_batch_stats`; "standing statistics",
      Brock et al. 2019). Training is the same either way.
  """
  generator: nn.Module
  discriminator: nn.Module
  g_optimizer: optax.GradientTransformation
  d_optimizer: optax.GradientTransformation
  data_shape: tuple
  latent_dim: int = 100
  latent_distribution: str = "normal"
  loss: str = "non_saturating"
  n_critic: int = 1
  num_classes: int = 0
  ema_decay: float = 0.0
  ema_warmup: bool = False
  r1_gamma: float = 0.0
  gp_weight: float = 0.0
  d_weight_clip: float = 0.0
  pack: int = 1
  diffaugment: tuple = ()
  diffaugment_strength: float = 1.0
  sample_batch_stats: str = "running"

  def __post_init__(self):
    """The objective's own rules: each field by the `Field` the config's door uses too
    (`gan.config.FIELDS` holds these very objects), and the combinations only the objective
    sees. A `ConfigError` (a `ValueError`) names the field as a config sets it."""
    latent.check_distribution(self.latent_distribution)
    SAMPLE_BATCH_STATS.check("sample_batch_stats", self.sample_batch_stats)
    augment.check_policy(self.diffaugment)
    PACK.check("pack", self.pack)
    if self.diffaugment and len(self.data_shape) != 3:
      raise ConfigError(f"config.diffaugment={','.join(self.diffaugment)!r} transforms images "
                        f"[H, W, C], but the data holds points of shape "
                        f"{tuple(self.data_shape)}. Set diffaugment=''.")
    if self.pack > 1 and self.num_classes:
      raise ConfigError(f"config.pack={self.pack} with a class-conditional GAN: a packed input "
                        f"would hold {self.pack} samples of different classes, but D takes one "
                        "label per input; it needs an unconditional GAN. Use pack=1 or "
                        "conditional=False.")


@dataclasses.dataclass(frozen=True)
class Schedule:
  """How the step is laid out on a machine; none of it changes the function computed.

  Attributes:
    share_generator_forward: one forward pass of G serves the last D update and the G update
      (the gradient is pulled back through it), instead of running G twice.
    concat_real_fake: one D call on [real; fake] (only for a D without BatchNorm).
    d_chunk_size: > 0: D runs on at most this many examples at a time (a D without BatchNorm).
    xla_cpu_options: ``((name, value), ...)`` XLA compiler options to jit the step with; set only
      for a CPU backend (see `gan.config.resolve_schedule`).
  """
  share_generator_forward: bool = True
  concat_real_fake: bool = False
  d_chunk_size: int = 0
  xla_cpu_options: tuple = ()

  def compiler_options(self) -> Optional[dict]:
    """The options for ``jax.jit(..., compiler_options=...)``: a dict, or None for XLA's own."""
    return dict(self.xla_cpu_options) if self.xla_cpu_options else None


DEFAULT_SCHEDULE = Schedule()


# Optimizers by name: ``(learning_rate, b1, b2) -> GradientTransformation``.
OPTIMIZERS = Registry[Callable[[float, float, float], optax.GradientTransformation]]("optimizer")
# Adam with the DCGAN default b1 = 0.5 (Radford et al. 2015).
OPTIMIZERS.register("adam", lambda lr, b1, b2: optax.adam(lr, b1=b1, b2=b2))
# RMSProp, as in WGAN with weight clipping (Arjovsky et al. 2017).
OPTIMIZERS.register("rmsprop", lambda lr, b1, b2: optax.rmsprop(lr))
# SGD; b1 > 0 is its momentum.
OPTIMIZERS.register("sgd", lambda lr, b1, b2: optax.sgd(lr, momentum=b1 if b1 > 0 else None))


def make_optimizer(name: str, learning_rate: float, b1: float = 0.5, b2: float = 0.999
                   ) -> optax.GradientTransformation:
  """Adam (DCGAN default b1 = 0.5, Radford et al. 2015), RMSProp (WGAN) or SGD, by name.

  Raises:
    UnknownNameError: ``name`` is not in `OPTIMIZERS`.
  """
  return OPTIMIZERS.get(name)(learning_rate, b1, b2)


def packed_shape(data_shape, pack: int) -> tuple:
  """The shape of one D input: ``data_shape`` with its last axis ``pack`` times as long."""
  data_shape = tuple(data_shape)
  return data_shape[:-1] + (data_shape[-1] * pack,)


def pack_samples(x: jax.Array, pack: int) -> jax.Array:
  """``[N, ..., C]`` samples -> ``[N / m, ..., m C]`` D inputs (PacGAN packing, ``m = pack``).

  Packed input i holds samples ``i m, ..., i m + m - 1``; sample ``i m + j`` fills channels
  ``[j C, (j + 1) C)`` of the last axis (the features of flat data, the channels of NHWC images),
  as the authors concatenate (`GAN.pack`). ``pack = 1`` returns ``x`` itself.

  Raises:
    ValueError: ``N`` is not a multiple of ``pack``.
  """
  if pack == 1:
    return x
  n = x.shape[0]
  if n % pack:
    raise ValueError(f"{n} samples cannot be packed {pack} at a time; use a batch of a multiple "
                     f"of {pack} samples.")
  x = jnp.moveaxis(x.reshape((n // pack, pack) + x.shape[1:]), 1, -2)  # [N / m, ..., m, C]
  return x.reshape(x.shape[:-2] + (pack * x.shape[-1],))


def _packed_keys(gan: GAN, keys: jax.Array) -> jax.Array:
  """The key of each packed input: that of its first sample."""
  return keys if gan.pack == 1 else keys[::gan.pack]


def create_state(gan: GAN, key: jax.Array) -> GANState:
  """Initialises parameters, BatchNorm statistics and optimizer states from one key.

  D is initialised on packed inputs (`packed_shape`), so its first layer sees ``pack`` samples.
  """
  g_key, d_key = jax.random.split(key)
  z = jnp.zeros((2, gan.latent_dim), jnp.float32)
  labels = jnp.zeros((2,), jnp.int32) if gan.num_classes else None
  g_vars = gan.generator.init(g_key, z, labels, train=False)
  x = jnp.zeros((2,) + packed_shape(gan.data_shape, gan.pack), jnp.float32)
  d_vars = gan.discriminator.init(d_key, x, labels, train=False)
  g_params, d_params = g_vars["params"], d_vars["params"]
  return GANState(
      step=jnp.zeros((), jnp.int32),
      g_params=g_params,
      d_params=d_params,
      g_batch_stats=g_vars.get("batch_stats", {}),
      d_batch_stats=d_vars.get("batch_stats", {}),
      g_opt_state=gan.g_optimizer.init(g_params),
      d_opt_state=gan.d_optimizer.init(d_params),
      ema_g_params=jax.tree.map(jnp.copy, g_params),  # its own buffers, so donation works
  )


# ----------------------------------------------------------------------------------------------
# Per-example randomness.


def example_keys(rng: jax.Array, step: jax.Array, num_local: int,
                 axis_name: Optional[str] = None) -> jax.Array:
  """One key per example of this iteration: ``fold_in(fold_in(rng, step), global_index)``.

  Under an ``axis_name`` the shard on device d holds global examples
  ``[d * num_local, (d + 1) * num_local)``; without one the batch is the global batch.
  """
  offset = jax.lax.axis_index(axis_name) * num_local if axis_name else 0
  step_key = jax.random.fold_in(rng, step)
  return jax.vmap(lambda i: jax.random.fold_in(step_key, i))(offset + jnp.arange(num_local))


def _fold(keys: jax.Array, salt: int) -> jax.Array:
  return jax.vmap(lambda k: jax.random.fold_in(k, salt))(keys)


def _augment(gan: GAN, images: jax.Array, keys: jax.Array, salt: int) -> jax.Array:
  """``gan.diffaugment`` on a batch of samples, one key per sample (identity when off)."""
  if not gan.diffaugment:
    return images
  return augment.diff_augment(images, _fold(keys, salt), gan.diffaugment,
                              gan.diffaugment_strength)


def _latents(gan: GAN, keys: jax.Array, critic_step: int):
  base = critic_step * _SALTS_PER_CRITIC_STEP
  z = jax.vmap(lambda k: latent.sample(k, (gan.latent_dim,), gan.latent_distribution))(
      _fold(keys, base + _SALT_LATENT))
  labels = None
  if gan.num_classes:
    labels = jax.vmap(lambda k: jax.random.randint(k, (), 0, gan.num_classes))(
        _fold(keys, base + _SALT_LABEL))
  return z, labels


# ----------------------------------------------------------------------------------------------
# Applying the models.


def _pmean(tree, axis_name):
  return jax.lax.pmean(tree, axis_name) if axis_name else tree


def _run_generator(gan, params, batch_stats, z, labels, axis_name):
  """G in training mode; returns (samples, updated batch_stats).

  With packing and BatchNorm in G, G runs once per pack slot (rows ``j, j + m, ...``), each slot
  normalised over its own samples, and the running statistics take the mean of the slots'
  updates (`GAN.pack`). Without BatchNorm the slots would compute the same function as one call.
  """
  generator = gan.generator.clone(axis_name=axis_name)

  def apply(z, labels):
    return generator.apply({"params": params, "batch_stats": batch_stats}, z, labels,
                           train=True, mutable=["batch_stats"])

  if gan.pack > 1 and jax.tree.leaves(batch_stats):
    m = gan.pack
    slots = lambda a: None if a is None else jnp.swapaxes(a.reshape((-1, m) + a.shape[1:]), 0, 1)
    out, mutated = jax.vmap(apply)(slots(z), slots(labels))  # [m, N / m, ...]
    out = jnp.swapaxes(out, 0, 1).reshape((-1,) + out.shape[2:])
    return out, jax.tree.map(lambda x: jnp.mean(x, axis=0), mutated.get("batch_stats", {}))
  out, mutated = apply(z, labels)
  return out, mutated.get("batch_stats", {})


def _run_discriminator(gan, params, batch_stats, x, labels, dropout_keys, axis_name,
                       schedule=DEFAULT_SCHEDULE):
  """D in training mode; returns (logits, updated batch_stats).

  With ``schedule.d_chunk_size`` set (only for a D without BatchNorm, which treats every example on
  its own) a larger batch goes through D in pieces of that many examples, one after another: the
  same function, cheaper because XLA:CPU's convolutions cost more per example above batch 64
  (measured in benchmarks/results/convs_cpu.md).
  """
  discriminator = gan.discriminator.clone(axis_name=axis_name)

  def apply(x, labels, keys):
    return discriminator.apply({"params": params, "batch_stats": batch_stats}, x, labels,
                               train=True, dropout_keys=keys, mutable=["batch_stats"])

  chunk = schedule.d_chunk_size
  if chunk and x.shape[0] > chunk:
    piece = lambda a, i: None if a is None else a[i:i + chunk]
    logits = jnp.concatenate([
        apply(x[i:i + chunk], piece(labels, i), piece(dropout_keys, i))[0]
        for i in range(0, x.shape[0], chunk)])
    return logits, batch_stats
  logits, mutated = apply(x, labels, dropout_keys)
  return logits, mutated.get("batch_stats", {})


def _real_and_fake_logits(gan, d_params, d_batch_stats, real, real_labels, fake, fake_labels,
                          real_keys, fake_keys, axis_name, schedule):
  if schedule.concat_real_fake and not gan.discriminator.uses_batchnorm:
    # D treats examples independently, so one call on [real; fake] is the same function as two
    # calls, with one launch instead of two.
    n = real.shape[0]
    labels = None if real_labels is None else jnp.concatenate([real_labels, fake_labels])
    logits, d_batch_stats = _run_discriminator(
        gan, d_params, d_batch_stats, jnp.concatenate([real, fake]), labels,
        jnp.concatenate([real_keys, fake_keys]), axis_name, schedule)
    return logits[:n], logits[n:], d_batch_stats
  # With BatchNorm in D, real and fake batches are normalised separately (as in DCGAN).
  real_logits, d_batch_stats = _run_discriminator(gan, d_params, d_batch_stats, real, real_labels,
                                                  real_keys, axis_name, schedule)
  fake_logits, d_batch_stats = _run_discriminator(gan, d_params, d_batch_stats, fake, fake_labels,
                                                  fake_keys, axis_name, schedule)
  return real_logits, fake_logits, d_batch_stats


def _critic_fn(gan, d_params, d_batch_stats, labels, dropout_keys, axis_name, schedule):
  return lambda x: _run_discriminator(gan, d_params, d_batch_stats, x, labels, dropout_keys,
                                      axis_name, schedule)[0]


# ----------------------------------------------------------------------------------------------
# The steps.


def d_step(gan: GAN, state: GANState, real: jax.Array, real_labels: Optional[jax.Array],
           fake: jax.Array, fake_labels: Optional[jax.Array], keys: jax.Array, critic_step: int,
           axis_name: Optional[str] = None, schedule: Schedule = DEFAULT_SCHEDULE):
  """One discriminator update on a real batch and a (fixed) generated batch.

  ``real`` and ``fake`` are samples, ``keys`` one per sample; with ``gan.pack = m`` D judges them
  packed, m at a time (`pack_samples`). The loss is ``gan.loss``'s D half, plus
  ``r1_gamma / 2 * R1`` on the real batch and ``gp_weight * GP`` at per-example (per packed input)
  mixes of real and fake; with ``d_weight_clip = c`` the updated parameters are clipped to
  [-c, c].

  Returns:
    ``(new_state, metrics)``; metrics hold ``d_loss``, ``d_real`` = mean D(x) and ``d_fake`` =
    mean D(G(z)) as probabilities, ``d_grad_norm`` and any regulariser values.
  """
  base = critic_step * _SALTS_PER_CRITIC_STEP
  d_keys = _packed_keys(gan, keys)
  real_keys = _fold(d_keys, base + _SALT_DROPOUT_REAL)
  fake_keys = _fold(d_keys, base + _SALT_DROPOUT_FAKE)
  real = pack_samples(_augment(gan, real, keys, base + _SALT_AUGMENT_REAL), gan.pack)
  fake = pack_samples(_augment(gan, jax.lax.stop_gradient(fake), keys, base + _SALT_AUGMENT_FAKE),
                      gan.pack)

  def loss_fn(d_params):
    real_logits, fake_logits, new_stats = _real_and_fake_logits(
        gan, d_params, state.d_batch_stats, real, real_labels, fake, fake_labels, real_keys,
        fake_keys, axis_name, schedule)
    loss = losses.discriminator_loss(real_logits, fake_logits, gan.loss, axis_name)
    extra = {}
    if gan.r1_gamma:
      critic = _critic_fn(gan, d_params, state.d_batch_stats, real_labels, real_keys, axis_name,
                          schedule)
      extra["r1"] = losses.r1_penalty(critic, real)
      loss = loss + 0.5 * gan.r1_gamma * extra["r1"]
    if gan.gp_weight:
      alpha = jax.vmap(jax.random.uniform)(_fold(d_keys, base + _SALT_MIX))
      critic = _critic_fn(gan, d_params, state.d_batch_stats, real_labels, real_keys, axis_name,
                          schedule)
      extra["gp"] = losses.gradient_penalty(critic, real, fake, alpha)
      loss = loss + gan.gp_weight * extra["gp"]
    return loss, (real_logits, fake_logits, new_stats, extra)

  grads, (real_logits, fake_logits, new_stats, extra) = jax.grad(loss_fn, has_aux=True)(
      state.d_params)
  grads = _pmean(grads, axis_name)
  updates, d_opt_state = gan.d_optimizer.update(grads, state.d_opt_state, state.d_params)
  d_params = optax.apply_updates(state.d_params, updates)
  if gan.d_weight_clip:
    d_params = jax.tree.map(lambda p: jnp.clip(p, -gan.d_weight_clip, gan.d_weight_clip),
                            d_params)
  loss = losses.discriminator_loss(real_logits, fake_logits, gan.loss, axis_name)
  metrics = _pmean(dict(d_loss=loss, d_real=jnp.mean(jax.nn.sigmoid(real_logits)),
                        d_fake=jnp.mean(jax.nn.sigmoid(fake_logits)), **extra), axis_name)
  metrics["d_grad_norm"] = optax.tree.norm(grads)  # grads are already averaged over devices
  return state.replace(d_params=d_params, d_opt_state=d_opt_state, d_batch_stats=new_stats), metrics


def g_step(gan: GAN, state: GANState, z: jax.Array, labels: Optional[jax.Array], keys: jax.Array,
           axis_name: Optional[str] = None, generator_vjp=None, new_g_batch_stats=None,
           fake: Optional[jax.Array] = None, real: Optional[jax.Array] = None,
           real_labels: Optional[jax.Array] = None, schedule: Schedule = DEFAULT_SCHEDULE):
  """One generator update on latents ``z`` against the current discriminator.

  ``real`` (with ``real_labels``) is the real batch of the last D update; it is used only by a
  loss whose generator half compares with D's logits on real data (relativistic losses).

  ``generator_vjp``, ``new_g_batch_stats`` and ``fake`` may carry a forward pass of G on these very
  ``z`` made earlier in the iteration (by the last D update); the gradient is then pulled back
  through it instead of running G again. Both forms compute the same numbers.
  """
  base = gan.n_critic * _SALTS_PER_CRITIC_STEP
  d_keys = _packed_keys(gan, keys)
  dropout_keys = _fold(d_keys, base + _SALT_DROPOUT_FAKE)

  def d_logits(samples):
    samples = _augment(gan, samples, keys, base + _SALT_AUGMENT_FAKE)
    return _run_discriminator(gan, state.d_params, state.d_batch_stats,
                              pack_samples(samples, gan.pack), labels, dropout_keys, axis_name,
                              schedule)[0]

  real_logits = None
  if losses.get(gan.loss).generator_uses_real:
    if real is None:
      raise ValueError(f"The {gan.loss!r} generator loss needs the real batch: pass real=.")
    real = _augment(gan, real, keys, base + _SALT_AUGMENT_REAL)
    real_logits = jax.lax.stop_gradient(_run_discriminator(
        gan, state.d_params, state.d_batch_stats, pack_samples(real, gan.pack), real_labels,
        _fold(d_keys, base + _SALT_DROPOUT_REAL), axis_name, schedule)[0])
  g_loss = lambda logits: losses.generator_loss(logits, gan.loss, real_logits, axis_name)

  if generator_vjp is None:
    def loss_fn(g_params):
      samples, stats = _run_generator(gan, g_params, state.g_batch_stats, z, labels, axis_name)
      logits = d_logits(samples)
      return g_loss(logits), (stats, logits)

    grads, (new_g_batch_stats, logits) = jax.grad(loss_fn, has_aux=True)(state.g_params)
  else:
    sample_grads, logits = _loss_and_sample_grads(g_loss, d_logits, fake)
    (grads,) = generator_vjp(sample_grads)
  loss = g_loss(logits)
  grads = _pmean(grads, axis_name)
  updates, g_opt_state = gan.g_optimizer.update(grads, state.g_opt_state, state.g_params)
  g_params = optax.apply_updates(state.g_params, updates)
  ema = g_params
  if gan.ema_decay:
    decay = gan.ema_decay
    if gan.ema_warmup:
      t = state.step.astype(jnp.float32)
      decay = jnp.minimum(decay, (1.0 + t) / (10.0 + t))
    ema = jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p,
                       state.ema_g_params, g_params)
  metrics = dict(g_loss=_pmean(loss, axis_name), g_grad_norm=optax.tree.norm(grads))
  return state.replace(g_params=g_params, g_opt_state=g_opt_state,
                       g_batch_stats=new_g_batch_stats, ema_g_params=ema), metrics


def _loss_and_sample_grads(g_loss, d_logits, fake):
  def loss_fn(samples):
    logits = d_logits(samples)
    return g_loss(logits), logits

  grads, logits = jax.grad(loss_fn, has_aux=True)(fake)
  return grads, logits


def train_step(gan: GAN, state: GANState, batch: dict, rng: jax.Array,
               axis_name: Optional[str] = None, skip_nonfinite: bool = False,
               schedule: Schedule = DEFAULT_SCHEDULE):
  """One iteration: ``gan.n_critic`` D updates, then one G update.

  Args:
    gan: the static half (models, optimizers, settings).
    state: the current `GANState`.
    batch: ``{'image': [n_critic * B, *data_shape]}`` and ``'label'`` for conditional models.
      Row ``b * n_critic + j`` is the real example ``b`` of D update ``j``, so any contiguous
      split of the rows over devices keeps each D update's real data on its device. B counts
      samples: with ``gan.pack = m`` D sees B / m packed inputs per update (each device's share
      of B must be a multiple of m, so that its packed inputs are whole).
    rng: the run's base key, the same every step (the step number is folded in here).
    axis_name: the mapped axis to average gradients, metrics and BatchNorm statistics over.
    skip_nonfinite: if any loss, gradient or parameter is non-finite, return the old state
      (with only ``step`` advanced) instead of the poisoned one.
    schedule: how to lay the work out (`Schedule`); the same numbers up to float32 rounding.

  Returns:
    ``(new_state, metrics)``, metrics averaged over the global batch, with ``finite`` = 1.0 when
    every loss, gradient norm and the new parameters are finite.
  """
  images = batch["image"]
  n_rows = images.shape[0] // gan.n_critic
  images = images.reshape((n_rows, gan.n_critic) + images.shape[1:])
  real_labels_all = batch.get("label")
  if gan.num_classes:
    real_labels_all = real_labels_all.reshape(n_rows, gan.n_critic)
  keys = example_keys(rng, state.step, n_rows, axis_name)

  new_state = state
  metrics = {}
  vjp = new_g_stats = fake = None
  for j in range(gan.n_critic):
    z, fake_labels = _latents(gan, keys, j)
    last = j == gan.n_critic - 1
    if last and schedule.share_generator_forward:
      fake, vjp, new_g_stats = jax.vjp(
          lambda p: _run_generator(gan, p, new_state.g_batch_stats, z, fake_labels, axis_name),
          new_state.g_params, has_aux=True)
    else:
      fake, _ = _run_generator(gan, new_state.g_params, new_state.g_batch_stats, z, fake_labels,
                               axis_name)
    real_labels = real_labels_all[:, j] if gan.num_classes else None
    new_state, metrics = d_step(gan, new_state, images[:, j], real_labels, fake, fake_labels, keys,
                                j, axis_name, schedule)
  new_state, g_metrics = g_step(gan, new_state, z, fake_labels, keys, axis_name, vjp, new_g_stats,
                                fake, images[:, gan.n_critic - 1], real_labels, schedule)
  metrics.update(g_metrics)
  params_finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in
                                     jax.tree.leaves((new_state.g_params, new_state.d_params))]))
  checked = jnp.stack([metrics["d_loss"], metrics["g_loss"], metrics["d_grad_norm"],
                       metrics["g_grad_norm"]])
  finite = jnp.logical_and(jnp.all(jnp.isfinite(checked)), params_finite)
  metrics["finite"] = finite.astype(jnp.float32)
  metrics["params_finite"] = params_finite.astype(jnp.float32)
  metrics["g_param_norm"] = optax.tree.norm(new_state.g_params)
  metrics["d_param_norm"] = optax.tree.norm(new_state.d_params)
  if skip_nonfinite:
    new_state = jax.tree.map(lambda new, old: jnp.where(finite, new, old), new_state, state)
  return new_state.replace(step=state.step + 1), metrics


STANDING_STATS_SAMPLES = 2048


def standing_batch_stats(gan: GAN, params: Any, batch_stats: Any,
                         num: int = STANDING_STATS_SAMPLES) -> Any:
  """G's BatchNorm statistics for ``params``, measured over ``num`` fixed z in training mode.

  The running statistics of a trained G follow the params the optimizer produced; an EMA of
  those params normalises differently. These are the statistics the params themselves give: each
  BatchNorm's mean and (biased) variance over one batch of ``num`` z (uniform labels for a
  conditional G) drawn from a fixed key, every layer seeing the layers before it normalised by
  their own batch statistics, as in training. A pure function of ``params``; ``batch_stats`` only
  gives the tree's structure. Read off without knowing BatchNorm's momentum m: starting from
  statistics 0 the update gives (1 - m) b, starting from 1 it gives m + (1 - m) b.
  """
  key = jax.random.fold_in(jax.random.key(_STANDING_STATS_SALT), 0)
  z = latent.sample(key, (num, gan.latent_dim), gan.latent_distribution)
  labels = (jax.random.randint(jax.random.fold_in(key, 1), (num,), 0, gan.num_classes)
            if gan.num_classes else None)

  def updated(start):
    variables = {"params": params, "batch_stats": jax.tree.map(
        lambda x: jnp.full_like(x, start), batch_stats)}
    return gan.generator.apply(variables, z, labels, train=True,
                               mutable=["batch_stats"])[1]["batch_stats"]

  from_zero, from_one = updated(0.0), updated(1.0)
  return jax.tree.map(lambda a, b: a / (1.0 - (b - a)), from_zero, from_one)


def generate(gan: GAN, state: GANState, z: jax.Array, labels: Optional[jax.Array] = None,
             use_ema: bool = True, train: bool = False) -> jax.Array:
  """Samples G(z), from the EMA params if ``use_ema``.

  ``train=False`` (inference) normalises with BatchNorm statistics: the running ones, or the
  params' standing ones (`standing_batch_stats`), as ``gan.sample_batch_stats`` says.
  ``train=True`` normalises with the statistics of this batch of z, as the train step does (the
  updated statistics are dropped: the state is not changed).
  """
  params = state.ema_g_params if use_ema else state.g_params
  batch_stats = state.g_batch_stats
  if train:
    variables = {"params": params, "batch_stats": batch_stats}
    return gan.generator.apply(variables, z, labels, train=True, mutable=["batch_stats"])[0]
  if gan.sample_batch_stats == "standing" and jax.tree.leaves(batch_stats):
    batch_stats = standing_batch_stats(gan, params, batch_stats)
  return gan.generator.apply({"params": params, "batch_stats": batch_stats}, z, labels,
                             train=False)


def jit_train_step(gan: GAN, schedule: Schedule = DEFAULT_SCHEDULE, donate: bool = True,
                   skip_nonfinite: bool = False):
  """``train_step`` jitted for one device (or for a sharded global batch), state donated, with
  the schedule's compiler options."""
  return jax.jit(functools.partial(train_step, gan, skip_nonfinite=skip_nonfinite,
                                   schedule=schedule),
                 donate_argnums=(0,) if donate else (),
                 compiler_options=schedule.compiler_options())
