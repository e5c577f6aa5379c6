"""Fields every config has, with their defaults. Each config file starts from `base_config()`.

Every field is documented here once; `gan.config.check_config` validates them at the door. A
model family's own settings live under ``config.model_args`` and are documented where the
family declares them (`gan.models.ModelFamily.args`; list them with
``gan.models.default_args(name)``); `set_model` picks a family with its settings.
"""

import ml_collections

from gan import models


def base_config() -> ml_collections.ConfigDict:
  """The defaults shared by all experiments (the seed's DCGAN on offline MNIST)."""
  c = ml_collections.ConfigDict()
  # Data.
  c.dataset = "mnist5k"        # a registered dataset: gan.data.names()
  c.data_dir = ""              # TFDS data dir; "" = $TFDS_DATA_DIR or ~/tensorflow_datasets
  c.conditional = False        # class-conditional G and projection D (needs a labelled dataset)
  # Model.
  set_model(c, "dcgan28")      # a registered model family (gan.models.names()) and its
                               # settings, config.model_args (e.g. model_args.d_dropout)
  c.latent_dim = 100
  c.latent_distribution = "normal"  # z's prior (gan.latent.DISTRIBUTIONS): 'normal' N(0, I) or
                               # 'uniform' U[-1, 1]^D; used wherever z is drawn or interpolated
  # Objective and optimisation.
  c.loss = "non_saturating"    # a registered loss: gan.losses.names()
  c.n_critic = 1               # D updates per G update (Goodfellow's k)
  c.r1_gamma = 0.0             # R1 (Mescheder et al. 2018): + r1_gamma / 2 * E||grad D(x)||^2
  c.gp_weight = 0.0            # WGAN-GP (Gulrajani et al. 2017): + gp_weight * E(||grad||-1)^2
  c.d_weight_clip = 0.0        # WGAN (Arjovsky et al. 2017): clip D's params to [-c, c]; 0 = off
  c.pack = 1                   # PacGAN (Lin et al. 2018): D judges m samples concatenated on the
                               # last axis (real with real, fake with fake); batch_size counts
                               # samples, so D sees batch_size / pack inputs; 1 = no packing
  c.diffaugment = ""           # DiffAugment (Zhao et al. 2020) on every image D sees, in D's and
                               # G's updates: '' = off, or e.g. 'translation,cutout'
  c.diffaugment_strength = 1.0  # scales the transforms: 1 = the paper's sizes, 0 = identity
  c.optimizer = "adam"         # one of gan.step.OPTIMIZERS: adam, rmsprop, sgd
  c.g_learning_rate = 2e-4
  c.d_learning_rate = 2e-4
  c.adam_b1 = 0.5              # Radford et al. 2015
  c.adam_b2 = 0.999
  c.ema_decay = 0.0            # 0 = off; samples come from the EMA params when on
  c.ema_warmup = False         # decay min(ema_decay, (1 + t) / (10 + t)) at iteration t
  c.sample_batch_stats = "running"  # G's BatchNorm when sampling: 'running' statistics, or
                               # 'standing' ones recomputed for the sampled (EMA) params
  c.batch_size = 32            # global batch per D update, over all devices and processes
  c.num_steps = 4000           # iterations (n_critic D updates + 1 G update each)
  c.seed = 0                   # with num_seeds = N: seeds seed .. seed + N - 1
  c.num_seeds = 1              # N > 1: N independent seeds trained together in one program (vmap)
  c.nan_policy = "stop"        # 'stop' | 'skip_step' on a non-finite loss, gradient or parameter
  # Scheduling (gan.step.Schedule, resolved by gan.config.resolve_schedule): how the step is
  # laid out on the machine, never what it computes (at most the order of float32 rounding).
  c.share_generator_forward = True  # one G forward serves the last D update and the G update
  c.concat_real_fake = False   # one D call on [real; fake]: exact; two calls cost less for
                               # dcgan28's conv D on CPU, one for an MLP D (the toys set it):
                               # benchmarks/results/dcgan28_variants_cpu.md, toy_cpu.md
  c.d_chunk_size = -1          # examples per D call (a D without BatchNorm only): -1 = the model
                               # family's CPU default on one CPU device, else whole batches;
                               # 0 = whole batches
  c.xla_cpu_options = "auto"   # XLA:CPU compiler options of the step: 'auto' = the model
                               # family's default; '' = XLA's defaults; 'name=value,...'

  # Outputs.
  c.log_every = 50
  c.checkpoint_every = 1000
  c.keep_checkpoints = 3
  c.sample_every = 500
  c.num_samples = 64           # the fixed-z sample grid (a square number fills it)
  c.eval_every = 0             # 0 = only `experiments.evaluate`; N = also log it every N steps
  c.eval_num_samples = 1000
  c.final_eval = False         # evaluate every seed at the end, into <workdir>/results.json
  return c


def set_model(c: ml_collections.ConfigDict, name: str, **args) -> ml_collections.ConfigDict:
  """Sets ``c.model = name`` and ``c.model_args`` to the family's settings at their defaults,
  with ``args`` set (a setting the family does not declare is refused); returns ``c``."""
  family = models.get(name)
  settings = family.default_args()
  unknown = sorted(set(args) - set(settings))
  if unknown:
    raise ValueError(f"model {name!r} has no setting(s) {unknown}; its settings are: "
                     f"{', '.join(settings)}.")
  c.model = name
  c.model_args = ml_collections.ConfigDict({**settings, **args})
  return c


def update(c: ml_collections.ConfigDict, **overrides) -> ml_collections.ConfigDict:
  """``c.update(overrides)`` for scripts and tests, where a model family's setting is named by
  itself: ``update(c, model="mlp", hidden=(64,))`` picks the family (`set_model`, its other
  settings at their defaults) and sets ``c.model_args.hidden``; returns ``c``."""
  model = overrides.pop("model", c.model)
  if model not in models.names():  # left for gan.config.check_config to refuse, in its words
    c.model = model
    c.update(overrides)
    return c
  settings = models.get(model).args
  args = {k: overrides.pop(k) for k in list(overrides) if k in settings}
  if model != c.model:
    set_model(c, model, **args)
  else:
    c.model_args.update(args)
  c.update(overrides)
  return c
