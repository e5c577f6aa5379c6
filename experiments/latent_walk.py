r"""Walks in a trained MNIST GAN's latent space: interpolation, class morphs, arithmetic, memorization.

  python -m experiments.latent_walk --workdir workdirs/dcgan_mnist [--out DIR] [--seed 0]

Restores the run's newest good checkpoint (as `experiments.evaluate` does), samples
``--num_samples`` latents, labels their images with the MNIST classifier of `gan.classifier`, and
writes to ``--out`` (default ``<workdir>/latent``):

* ``interpolation.png``: strips between random pairs of z, the lerp row above the slerp row
  (White 2016); the report compares the latent norm at the midpoints and the classifier's
  confidence in the in-between images.
* ``class_morph.png``: the slerp strip between the concept vectors (mean z) of samples labelled 3
  and 8 with confidence, each image captioned with its label, then strips between single 3s and 8s.
* ``arithmetic.png``: DCGAN's Fig. 7 layout (Radford et al. 2015; three exemplars per concept in
  columns, the image of their mean beneath, then the result with three noisy variants above it),
  for concepts picked by measured attributes (`gan.digit_attributes`): "thick 3 - thin 3 + thin
  7" (ink mass) and "right-slanted 1 - left-slanted 1 + left-slanted 7" (slant from image
  moments); under each panel, a walk from the thin (left-slanted) 7 along the attribute direction.
  Over ``--repetitions`` random exemplar triples the report gives how often the result is the
  intended digit and how far the attribute moved, beside a control with random 3s (1s).
* ``memorization.png``: generated samples beside their nearest training digits (L2 in pixel
  space), closest first, then random ones, and the histograms of nearest-neighbour distances to
  the training set of generated samples and of held-out test digits. Generated samples much
  closer to the training set than test digits are would mean memorization.
* ``latent_report.json``: every number.

All latent maths goes through `gan.latent`. About 30 s on two CPU cores (plus 1-2 minutes the
first time, if the MNIST classifier has to be trained).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable, Optional, Sequence

from absl import app
from absl import flags
from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from experiments import cli
from gan import digit_attributes
from gan import images as image_lib
from gan import latent
from gan import metrics

_WORKDIR = flags.DEFINE_string("workdir", None, "The training run's workdir (an MNIST run).")
_OUT = flags.DEFINE_string("out", None, "Output directory (default: <workdir>/latent).")
_SEED = flags.DEFINE_integer("seed", 0, "Seeds the latents and the exemplar draws.")
_NUM_SAMPLES = flags.DEFINE_integer("num_samples", 4000,
                                    "Latents sampled and classified to find the concepts.")
_REPETITIONS = flags.DEFINE_integer("repetitions", 20, "Random exemplar triples per arithmetic.")
_DEBUG = flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
flags.mark_flags_as_required(["workdir"])

MNIST_DATASETS = ("mnist5k", "mnist")
REPORT_NAME = "latent_report.json"
FIGURES = ("interpolation.png", "class_morph.png", "arithmetic.png", "memorization.png")

CONFIDENCE = 0.9  # A sample "is" digit d when the classifier says d with at least this probability.
MIN_POOL = 30  # Fewer confident samples than this: the most probable ones are used instead.
DECILE = 0.1  # Thick/thin (right/left-slanted) exemplars: this top/bottom fraction of a class.
EXEMPLARS = 3  # Per concept, as in DCGAN.
RESULT_NOISE = 0.25  # DCGAN's uniform noise around the arithmetic result, for its variants.
WALK_ALPHAS = (-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0)
NUM_PAIRS = 6  # Interpolation strips.
NUM_STEPS = 10  # Images per strip.
NUM_MORPH_PAIRS = 20  # Single-3-to-single-8 strips measured (4 drawn).
MAX_COMPARED = 1000  # Generated and test digits whose nearest training digits are found.
SCALE = 2  # Figures draw each 28x28 digit at this many screen pixels per pixel.

# (name, attribute function, source digit, target digit, high label, low label)
ARITHMETIC = (
    ("thickness", "ink_mass", 3, 7, "thick", "thin"),
    ("slant", "slant", 1, 7, "right-slanted", "left-slanted"),
)


# ----------------------------------------------------------------------------------------------
# Loading the run.


def load_run(workdir: str, log: Callable[[str], None] = print):
  """The run's config, `GAN` and newest good state: ``(config, gan, step, state)``.

  Raises:
    config_lib.ConfigError: ``workdir`` holds no run, or not an unconditional MNIST run.
    checkpointing.CheckpointError: the run has no usable checkpoint.
  """
  from gan import checkpointing, config as config_lib  # pylint: disable=g-import-not-at-top
  config = config_lib.load_run_config(workdir)
  if config.dataset not in MNIST_DATASETS:
    raise config_lib.ConfigError(
        f"--workdir {workdir} trained on {config.dataset!r}; latent_walk needs an MNIST run "
        f"(dataset {' or '.join(MNIST_DATASETS)}): its classifier and attributes are digits'.")
  if config.get("conditional", False):
    raise config_lib.ConfigError(
        f"--workdir {workdir} is a class-conditional run; latent_walk finds digit classes in z "
        f"and needs an unconditional generator.")
  gan, step, state = checkpointing.restore_run(workdir, config, log=log)
  return config, gan, step, state


def make_sampler(gan, state, use_ema: bool, batch_size: int = 500
                 ) -> Callable[[np.ndarray], np.ndarray]:
  """``z [N, D] -> images [N, 28, 28, 1]`` (NumPy), in jitted batches of one fixed size."""
  from gan import batching, step as step_lib  # pylint: disable=g-import-not-at-top
  generate = jax.jit(lambda z: step_lib.generate(gan, state, z, None, use_ema=use_ema))

  def sample(z: Any) -> np.ndarray:
    return batching.batched_apply(generate, np.asarray(z, np.float32), batch_size)

  return sample


# ----------------------------------------------------------------------------------------------
# Pure helpers.


def class_pool(probabilities: np.ndarray, digit: int, threshold: float = CONFIDENCE,
               minimum: int = MIN_POOL) -> tuple[np.ndarray, bool]:
  """Indices of the samples of ``digit``: ``(indices, confident)``.

  The samples the classifier labels ``digit`` with probability ``>= threshold``; when fewer than
  ``minimum`` are, the ``minimum`` most probable ones instead (``confident`` is then False), so
  an untrained model still gets a pool, and the report says it is not a confident one.
  """
  predicted = np.argmax(probabilities, axis=-1)
  confident = np.flatnonzero((predicted == digit) & (probabilities[:, digit] >= threshold))
  if confident.size >= minimum:
    return confident, True
  return np.argsort(-probabilities[:, digit], kind="stable")[:minimum], False


def extremes(values: np.ndarray, pool: np.ndarray, fraction: float = DECILE,
             minimum: int = EXEMPLARS) -> tuple[np.ndarray, np.ndarray]:
  """The ``pool`` indices with the highest and the lowest ``values``: top and bottom ``fraction``
  (at least ``minimum`` each), as ``(high, low)``."""
  count = max(minimum, int(round(fraction * pool.size)))
  order = pool[np.argsort(values[pool], kind="stable")]
  return order[::-1][:count], order[:count]


def _quantiles(values: np.ndarray) -> dict[str, float]:
  values = np.asarray(values, np.float64)
  return {"min": float(values.min()), "p05": float(np.quantile(values, 0.05)),
          "p25": float(np.quantile(values, 0.25)), "median": float(np.median(values)),
          "p75": float(np.quantile(values, 0.75)), "mean": float(values.mean())}


def _label_counts(labels: np.ndarray) -> dict[str, int]:
  return {str(d): int(np.sum(labels == d)) for d in range(10)}


def _attribute(name: str) -> Callable[[np.ndarray], np.ndarray]:
  fn = getattr(digit_attributes, name)
  return lambda images: np.asarray(fn(images), np.float64)


# ----------------------------------------------------------------------------------------------
# Drawing.


def _font(size: int = 11):
  try:
    return ImageFont.load_default(size=size)
  except TypeError:  # Pillow < 10.1: the fixed bitmap font.
    return ImageFont.load_default()


def _digits(images: np.ndarray, captions: Optional[Sequence[str]] = None, columns: int = 0,
            pad: int = 2) -> Image.Image:
  """A grid of digits (``SCALE`` times enlarged), each optionally captioned underneath."""
  grid = image_lib.image_grid(np.asarray(images), columns=columns or len(images), pad=pad)
  grid = np.repeat(np.repeat(grid, SCALE, axis=0), SCALE, axis=1)
  picture = Image.fromarray(grid[..., 0]).convert("RGB")
  if captions is None:
    return picture
  size = images.shape[1] * SCALE
  step = size + pad * SCALE
  captioned = Image.new("RGB", (picture.width, picture.height + 13), "white")
  captioned.paste(picture, (0, 0))
  draw = ImageDraw.Draw(captioned)
  font = _font(10)
  columns = columns or len(images)
  for i, caption in enumerate(captions):
    row, col = divmod(i, columns)
    if row:
      raise ValueError("captions are drawn under a single row of digits only")
    x = pad * SCALE + col * step + size / 2
    draw.text((x, picture.height), caption, fill=(0, 0, 0), font=font, anchor="ma")
  return captioned


def _stack(parts: Sequence[Image.Image], gap: int = 6, horizontal: bool = False,
           align_middle: bool = True) -> Image.Image:
  if horizontal:
    width = sum(p.width for p in parts) + gap * (len(parts) - 1)
    height = max(p.height for p in parts)
  else:
    width = max(p.width for p in parts)
    height = sum(p.height for p in parts) + gap * (len(parts) - 1)
  canvas = Image.new("RGB", (width, height), "white")
  offset = 0
  for part in parts:
    if horizontal:
      canvas.paste(part, (offset, (height - part.height) // 2 if align_middle else 0))
      offset += part.width + gap
    else:
      canvas.paste(part, (0, offset))
      offset += part.height + gap
  return canvas


def _text(text: str, width: int = 0, height: int = 16, size: int = 12) -> Image.Image:
  font = _font(size)
  probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
  width = max(width, int(probe.textlength(text, font=font)) + 4)
  picture = Image.new("RGB", (width, height), "white")
  ImageDraw.Draw(picture).text((2, height // 2), text, fill=(0, 0, 0), font=font, anchor="lm")
  return picture


def _labelled(label: str, part: Image.Image, width: int = 110) -> Image.Image:
  return _stack([_text(label, width=width, height=part.height), part], gap=0, horizontal=True)


def _save(picture: Image.Image, path: str) -> None:
  image_lib.save_png(np.asarray(picture), path)


# ----------------------------------------------------------------------------------------------
# The four studies.


def _interpolation(sample, classify, z: np.ndarray, rng: np.random.Generator, out_dir: str):
  """Lerp and slerp strips between random pairs; the midpoint norms and in-between confidence."""
  picks = rng.choice(z.shape[0], size=(NUM_PAIRS, 2), replace=False)
  starts, ends = jnp.asarray(z[picks[:, 0]]), jnp.asarray(z[picks[:, 1]])
  paths = {method: np.asarray(latent.interpolate(starts, ends, NUM_STEPS, method))
           for method in latent.INTERPOLATION_METHODS}  # [steps, pairs, D] each
  report, rows = {}, []
  interior = slice(1, NUM_STEPS - 1)
  images = {m: sample(p.transpose(1, 0, 2).reshape(-1, z.shape[1])) for m, p in paths.items()}
  for method, path in paths.items():
    norms = np.linalg.norm(path, axis=-1)  # [steps, pairs]
    endpoint_norm = (norms[0] + norms[-1]) / 2
    probabilities = classify(images[method]).reshape(NUM_PAIRS, NUM_STEPS, 10)
    confidence = probabilities.max(axis=-1)[:, interior]
    report[method] = {
        "midpoint_norm_over_endpoint_norm": float(np.mean(
            np.linalg.norm(np.asarray(latent.interpolate(starts, ends, 3, method)[1]), axis=-1)
            / endpoint_norm)),
        "min_norm_over_endpoint_norm": float(np.mean(norms.min(axis=0) / endpoint_norm)),
        "interior_mean_confidence": float(confidence.mean()),
        "interior_confident_fraction": float(np.mean(confidence >= CONFIDENCE)),
    }
  for pair in range(NUM_PAIRS):
    block = [_labelled(f"pair {pair + 1} {method}",
                       _digits(images[method][pair * NUM_STEPS:(pair + 1) * NUM_STEPS]))
             for method in ("lerp", "slerp")]
    rows.append(_stack(block, gap=0))
  title = _text(f"{NUM_PAIRS} random pairs of z, {NUM_STEPS} steps: lerp row above slerp row",
                height=20)
  _save(_stack([title] + rows, gap=8), os.path.join(out_dir, "interpolation.png"))
  report.update(num_pairs=NUM_PAIRS, num_steps=NUM_STEPS)
  return report


def _morph_strip_stats(labels: np.ndarray, first: int, last: int) -> dict[str, Any]:
  half = labels.shape[-1] // 2
  return {
      "start_is_first": bool(labels[0] == first), "end_is_last": bool(labels[-1] == last),
      "fraction_first_in_first_half": float(np.mean(labels[:half] == first)),
      "fraction_last_in_second_half": float(np.mean(labels[half:] == last)),
      "fraction_other_digits": float(np.mean((labels != first) & (labels != last))),
  }


def _class_morph(sample, classify, z, probabilities, rng, out_dir, first=3, last=8):
  """The slerp strip between the concept vectors of confident 3s and 8s, and single pairs."""
  pools = {d: class_pool(probabilities, d) for d in (first, last)}
  concepts = {d: latent.concept_vector(jnp.asarray(z[pool])) for d, (pool, _) in pools.items()}
  strip = np.asarray(latent.interpolate(concepts[first], concepts[last], NUM_STEPS, "slerp"))
  strip_images = sample(strip)
  labels = np.argmax(classify(strip_images), axis=-1)
  report = {
      "digits": [first, last],
      "pool_sizes": {str(d): int(pool.size) for d, (pool, _) in pools.items()},
      "pools_confident": {str(d): confident for d, (_, confident) in pools.items()},
      "concept_norms": {str(d): float(jnp.linalg.norm(c)) for d, c in concepts.items()},
      "sample_norm_median": float(np.median(np.linalg.norm(z, axis=-1))),
      "strip_labels": [int(l) for l in labels],
      **_morph_strip_stats(labels, first, last),
  }
  # Strips between single confident samples: how often the way passes through other digits.
  starts = z[rng.choice(pools[first][0], NUM_MORPH_PAIRS)]
  ends = z[rng.choice(pools[last][0], NUM_MORPH_PAIRS)]
  pair_strips = np.asarray(latent.interpolate(jnp.asarray(starts), jnp.asarray(ends), NUM_STEPS,
                                              "slerp")).transpose(1, 0, 2)  # [pairs, steps, D]
  pair_images = sample(pair_strips.reshape(-1, z.shape[1]))
  pair_labels = np.argmax(classify(pair_images), axis=-1).reshape(NUM_MORPH_PAIRS, NUM_STEPS)
  per_pair = [_morph_strip_stats(l, first, last) for l in pair_labels]
  report["single_pairs"] = {
      "num_pairs": NUM_MORPH_PAIRS,
      **{key: float(np.mean([p[key] for p in per_pair])) for key in per_pair[0]},
  }
  rows = [_labelled(f"mean {first} -> mean {last}",
                    _digits(strip_images, [str(l) for l in labels]))]
  for i in range(4):
    rows.append(_labelled(f"one {first} -> one {last}",
                          _digits(pair_images[i * NUM_STEPS:(i + 1) * NUM_STEPS],
                                  [str(l) for l in pair_labels[i]])))
  title = _text(f"slerp between concept vectors (mean z of {report['pool_sizes'][str(first)]} "
                f"{first}s and {report['pool_sizes'][str(last)]} {last}s), then between single "
                f"samples; captions: classifier label", height=20)
  _save(_stack([title] + rows, gap=6), os.path.join(out_dir, "class_morph.png"))
  return report


def _arithmetic(sample, classify, z, probabilities, attributes, rng, key, repetitions):
  """Both attribute arithmetics: (report, figure panels)."""
  report, panels = {}, []
  for name, attribute_name, source, target, high_name, low_name in ARITHMETIC:
    key, noise_key = jax.random.split(key)
    measure = _attribute(attribute_name)
    values = attributes[attribute_name]
    source_pool, source_confident = class_pool(probabilities, source)
    target_pool, target_confident = class_pool(probabilities, target)
    source_high, source_low = extremes(values, source_pool)
    target_high, target_low = extremes(values, target_pool)

    def draw(pool):
      return rng.choice(pool, EXEMPLARS, replace=pool.size < EXEMPLARS)

    triples = [(draw(source_high), draw(source_low), draw(target_low))
               for _ in range(repetitions)]
    # Control: the same arithmetic with the attribute left out (a and b random source digits).
    controls = [(draw(source_pool), draw(source_pool), c) for _, _, c in triples]

    def results(groups):
      return np.stack([np.asarray(latent.arithmetic(jnp.asarray(z[a]), jnp.asarray(z[b]),
                                                    jnp.asarray(z[c]))) for a, b, c in groups])

    result_z, control_z = results(triples), results(controls)
    c_means = np.stack([np.asarray(latent.concept_vector(jnp.asarray(z[c])))
                        for _, _, c in triples])
    direction = latent.attribute_direction(jnp.asarray(z[source_high]),
                                           jnp.asarray(z[source_low]))
    walks = np.asarray(latent.walk(jnp.asarray(c_means), direction,
                                   jnp.asarray(WALK_ALPHAS)))  # [K, R, D]
    batch = np.concatenate([result_z, control_z, c_means, walks.reshape(-1, z.shape[1])])
    generated = sample(batch)
    labels = np.argmax(classify(generated), axis=-1)
    measured = measure(generated)
    r = repetitions
    result_labels, control_labels = labels[:r], labels[r:2 * r]
    result_values, control_values, c_mean_values = (measured[:r], measured[r:2 * r],
                                                     measured[2 * r:3 * r])
    walk_values = measured[3 * r:].reshape(len(WALK_ALPHAS), r)
    walk_labels = labels[3 * r:].reshape(len(WALK_ALPHAS), r)
    exemplar_values = np.array([values[c].mean() for _, _, c in triples])
    gap = values[target_high].mean() - values[target_low].mean()
    equation = (f"{high_name} {source} - {low_name} {source} + {low_name} {target}")
    report[name] = {
        "equation": equation,
        "intended": f"{high_name} {target}",
        "attribute": attribute_name,
        "digits": {"source": source, "target": target},
        "pool_sizes": {"source": int(source_pool.size), "target": int(target_pool.size),
                       "extreme": int(source_high.size)},
        "pools_confident": bool(source_confident and target_confident),
        "repetitions": repetitions,
        "result_is_target_fraction": float(np.mean(result_labels == target)),
        "result_label_counts": _label_counts(result_labels),
        # Keys name the roles in the equation a - b + c: c = the low target exemplars.
        "attribute_values": {
            "low_target_exemplars_mean": float(exemplar_values.mean()),
            "low_target_concept_image_mean": float(c_mean_values.mean()),
            "result_mean": float(result_values.mean()),
            "high_target_samples_mean": float(values[target_high].mean()),
            "all_target_samples_mean": float(values[target_pool].mean()),
            "high_source_samples_mean": float(values[source_high].mean()),
            "low_source_samples_mean": float(values[source_low].mean()),
            "control_result_mean": float(control_values.mean()),
        },
        # 0: the result is as thin as the thin exemplars; 1: as thick as the thick target pool.
        "gap_covered_from_exemplars": float((result_values - exemplar_values).mean() / gap)
                                      if gap else 0.0,
        "gap_covered_from_concept_image": float((result_values - c_mean_values).mean() / gap)
                                          if gap else 0.0,
        "result_above_concept_image_fraction": float(np.mean(result_values > c_mean_values)),
        "control": {
            "equation": f"random {source} - random {source} + {low_name} {target}",
            "result_is_target_fraction": float(np.mean(control_labels == target)),
            "gap_covered_from_concept_image": float((control_values - c_mean_values).mean() / gap)
                                              if gap else 0.0,
        },
        "walk": {
            "start": f"concept image of the {low_name} {target} exemplars",
            "direction": f"mean z of {high_name} {source}s - mean z of {low_name} {source}s "
                         f"({source_high.size} each)",
            "direction_norm": float(jnp.linalg.norm(direction)),
            "alphas": list(WALK_ALPHAS),
            "attribute_mean": [float(v) for v in walk_values.mean(axis=1)],
            "target_fraction": [float(v) for v in np.mean(walk_labels == target, axis=1)],
        },
    }
    # The figure: the first repetition, DCGAN layout.
    a, b, c = triples[0]
    noise = np.asarray(jax.random.uniform(noise_key, (EXEMPLARS, z.shape[1]),
                                          minval=-RESULT_NOISE, maxval=RESULT_NOISE))
    concept_z = [np.concatenate([z[group], np.asarray(latent.concept_vector(
        jnp.asarray(z[group])))[None]]) for group in (a, b, c)]
    result_column = np.concatenate([result_z[:1] + noise, result_z[:1]])
    pictures = sample(np.concatenate(concept_z + [result_column]))
    picture_values = measure(pictures)
    picture_labels = np.argmax(classify(pictures), axis=-1)
    unit = "ink" if attribute_name == "ink_mass" else "s"
    fmt = "{:.0f}" if attribute_name == "ink_mass" else "{:+.2f}"
    columns = []
    for i, heading in enumerate([f"{high_name} {source}", f"{low_name} {source}",
                                 f"{low_name} {target}", "result"]):
      block = pictures[i * (EXEMPLARS + 1):(i + 1) * (EXEMPLARS + 1)]
      block_labels = picture_labels[i * (EXEMPLARS + 1):(i + 1) * (EXEMPLARS + 1)]
      block_values = picture_values[i * (EXEMPLARS + 1):(i + 1) * (EXEMPLARS + 1)]
      cells = [_digits(block[j:j + 1], [f"{block_labels[j]} {unit} {fmt.format(block_values[j])}"])
               for j in range(EXEMPLARS + 1)]
      column = _stack([_text(heading, height=16)] + cells[:EXEMPLARS] +
                      [_text("mean z" if i < 3 else "exact", height=12), cells[EXEMPLARS]], gap=2)
      columns.append(column)
    signs = [_text(s, height=40, size=20) for s in ("-", "+", "=")]
    row = _stack([columns[0], signs[0], columns[1], signs[1], columns[2], signs[2], columns[3]],
                 gap=8, horizontal=True)
    walk_row = _labelled(
        "walk: alpha " + " ".join(f"{a:g}" for a in WALK_ALPHAS),
        _digits(generated[3 * r:].reshape(len(WALK_ALPHAS), r, *generated.shape[1:])[:, 0],
                [fmt.format(v) for v in measured[3 * r:].reshape(len(WALK_ALPHAS), r)[:, 0]]),
        width=200)
    stats = report[name]
    title = _text(f"{equation} = ? (intended: {high_name} {target});  over {repetitions} draws: "
                  f"result is a {target} in {stats['result_is_target_fraction']:.0%}, "
                  f"gap covered {stats['gap_covered_from_concept_image']:+.2f} "
                  f"(control {stats['control']['gap_covered_from_concept_image']:+.2f})",
                  height=20)
    panels.append(_stack([title, row, walk_row], gap=6))
  return report, panels


def _memorization(classify_features, generated, train_images, test_images, out_dir):
  """Nearest training digits of generated samples and of held-out test digits."""
  count = min(MAX_COMPARED, generated.shape[0], test_images.shape[0])
  generated, test_images = generated[:count], test_images[:count]
  generated_distances, generated_nearest = metrics.nearest_neighbours(generated, train_images)
  test_distances, _ = metrics.nearest_neighbours(test_images, train_images)
  train_features = classify_features(train_images)
  feature_generated, _ = metrics.nearest_neighbours(classify_features(generated), train_features)
  feature_test, _ = metrics.nearest_neighbours(classify_features(test_images), train_features)
  report = {
      "space": "L2 between images in [-1, 1] (28x28 pixels); feature_space: L2 between the "
               "classifier's 128-d penultimate features",
      "num_train": int(train_images.shape[0]), "num_generated": int(count),
      "num_test": int(count),
      "generated_nn_distance": _quantiles(generated_distances),
      "test_nn_distance": _quantiles(test_distances),
      "median_ratio_generated_over_test": float(np.median(generated_distances) /
                                                np.median(test_distances)),
      # Generated samples nearer to a training digit than all but 1% of test digits are.
      "generated_below_test_p01_fraction": float(np.mean(
          generated_distances < np.quantile(test_distances, 0.01))),
      "feature_space": {
          "generated_median": float(np.median(feature_generated)),
          "test_median": float(np.median(feature_test)),
          "median_ratio_generated_over_test": float(np.median(feature_generated) /
                                                    np.median(feature_test)),
      },
  }
  closest = np.argsort(generated_distances, kind="stable")[:12]
  rest = np.setdiff1d(np.arange(count), closest)
  randoms = np.random.default_rng(0).choice(rest, min(12, rest.size), replace=False)

  def pairs(indices, heading):
    cells = []
    for i in indices:
      pair = np.stack([generated[i], train_images[generated_nearest[i]]])
      cells.append(_digits(pair, [f"d={generated_distances[i]:.1f}", ""]))
    rows = [_stack(cells[k:k + 4], gap=10, horizontal=True) for k in range(0, len(cells), 4)]
    return _stack([_text(heading, height=18)] + rows, gap=4)

  histogram = Image.fromarray(image_lib.scatter_plot(generated_distances[:, None],
                                                     test_distances[:, None], size=256))
  legend = _stack([
      _text("nearest-training-digit L2 distance", height=16),
      _text("black: held-out test digits, green: generated", height=16),
      histogram,
      _text(f"range {min(generated_distances.min(), test_distances.min()):.1f} .. "
            f"{max(generated_distances.max(), test_distances.max()):.1f}; medians: generated "
            f"{np.median(generated_distances):.2f}, test {np.median(test_distances):.2f}",
            height=16)], gap=2)
  left = _stack([pairs(closest, "generated | nearest training digit: the 12 closest"),
                 pairs(randoms, "12 random generated samples")], gap=10)
  _save(_stack([left, legend], gap=20, horizontal=True, align_middle=False),
        os.path.join(out_dir, "memorization.png"))
  return report


# ----------------------------------------------------------------------------------------------
# The experiment.


def latent_walk(workdir: str, out_dir: Optional[str] = None, seed: int = 0, *,
                classifier=None, num_samples: int = 4000, repetitions: int = 20,
                batch_size: int = 500, log: Callable[[str], None] = print) -> dict[str, Any]:
  """Runs the four latent-space studies on ``workdir``'s newest good checkpoint.

  Args:
    workdir: a training run's workdir (unconditional, on ``mnist5k`` or ``mnist``).
    out_dir: where the figures and `REPORT_NAME` go; default ``<workdir>/latent``.
    seed: seeds the latents and every random choice.
    classifier: a `gan.classifier.Classifier`; None loads (or trains) the cached one.
    num_samples: latents sampled and classified to find the digit concepts.
    repetitions: random exemplar triples per arithmetic.
    batch_size: latents per generator call.
    log: called with progress and summary lines.

  Returns:
    The report (also written to ``<out_dir>/latent_report.json``).

  Raises:
    config_lib.ConfigError: ``workdir`` holds no run, or not an unconditional MNIST run.
    checkpointing.CheckpointError: the run has no usable checkpoint.
  """
  from gan import data  # pylint: disable=g-import-not-at-top
  start_time = time.time()
  for name, value, least in (("num_samples", num_samples, 2 * MIN_POOL),
                             ("repetitions", repetitions, 1), ("batch_size", batch_size, 1)):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
      raise ValueError(f"latent_walk needs {name} to be an int >= {least}; got {value!r}.")
  config, gan, step, state = load_run(workdir, log)
  out_dir = out_dir or os.path.join(workdir, "latent")
  os.makedirs(out_dir, exist_ok=True)
  data_dir = config.data_dir or None
  if classifier is None:
    from gan import classifier as classifier_lib  # pylint: disable=g-import-not-at-top
    classifier = classifier_lib.load_or_train_classifier(data_dir=data_dir, log=log)
  classify = classifier.probabilities
  sample = make_sampler(gan, state, use_ema=config.ema_decay > 0, batch_size=batch_size)

  key = jax.random.key(seed)
  z_key, noise_key = jax.random.split(key)
  rng = np.random.default_rng(seed)
  z = np.asarray(jax.random.normal(z_key, (num_samples, gan.latent_dim), jnp.float32))
  generated = sample(z)
  outputs = classifier.outputs(generated)
  probabilities = outputs["probabilities"]
  predicted = np.argmax(probabilities, axis=-1)
  attributes = {name: _attribute(name)(generated) for name in ("ink_mass", "slant")}
  log(f"Step {step}: {num_samples} samples classified in {time.time() - start_time:.0f} s.")

  report: dict[str, Any] = {
      "workdir": os.path.abspath(workdir), "step": step, "seed": seed,
      "num_samples": num_samples, "latent_dim": gan.latent_dim,
      "classifier_held_out_accuracy": float(classifier.accuracy),
      "confidence_threshold": CONFIDENCE,
      "sample_label_counts": _label_counts(predicted),
      "confident_fraction": float(np.mean(probabilities.max(axis=-1) >= CONFIDENCE)),
  }
  report["interpolation"] = _interpolation(sample, classify, z, rng, out_dir)
  report["class_morph"] = _class_morph(sample, classify, z, probabilities, rng, out_dir)
  report["arithmetic"], panels = _arithmetic(sample, classify, z, probabilities, attributes, rng,
                                             noise_key, repetitions)
  _save(_stack(panels, gap=24), os.path.join(out_dir, "arithmetic.png"))
  train_images = data.make_source(config.dataset, "train",
                                            data_dir=data_dir).all_examples()["image"]
  test_images = data.make_source(config.dataset, "test", data_dir=data_dir
                                           ).all_examples(limit=MAX_COMPARED)["image"]
  report["memorization"] = _memorization(classifier.features, generated, train_images,
                                         test_images, out_dir)
  report["seconds"] = round(time.time() - start_time, 1)
  with open(os.path.join(out_dir, REPORT_NAME), "w", encoding="utf-8") as f:
    json.dump(report, f, indent=2)
  for line in summary(report):
    log(line)
  log(f"Wrote {', '.join(FIGURES)} and {REPORT_NAME} to {out_dir}.")
  return report


def summary(report: dict[str, Any]) -> list[str]:
  """A few lines for people: the headline number of each study."""
  interp, morph, memo = report["interpolation"], report["class_morph"], report["memorization"]
  lines = [
      f"Interpolation: midpoint |z| / endpoint |z| lerp "
      f"{interp['lerp']['midpoint_norm_over_endpoint_norm']:.2f}, slerp "
      f"{interp['slerp']['midpoint_norm_over_endpoint_norm']:.2f}; in-between images classified "
      f"with confidence >= {CONFIDENCE}: lerp {interp['lerp']['interior_confident_fraction']:.0%}, "
      f"slerp {interp['slerp']['interior_confident_fraction']:.0%}.",
      f"Class morph 3 -> 8 (concept vectors): labels {morph['strip_labels']}; 3 in the first "
      f"half {morph['fraction_first_in_first_half']:.0%}, 8 in the second half "
      f"{morph['fraction_last_in_second_half']:.0%}; single pairs pass through other digits in "
      f"{morph['single_pairs']['fraction_other_digits']:.0%} of their images.",
  ]
  for name, stats in report["arithmetic"].items():
    values = stats["attribute_values"]
    lines.append(
        f"Arithmetic ({name}) {stats['equation']}: result is a {stats['digits']['target']} in "
        f"{stats['result_is_target_fraction']:.0%} of {stats['repetitions']} draws; "
        f"{stats['attribute']} result {values['result_mean']:.3g} vs concept image "
        f"{values['low_target_concept_image_mean']:.3g} and {stats['intended']} samples "
        f"{values['high_target_samples_mean']:.3g}: gap covered "
        f"{stats['gap_covered_from_concept_image']:+.2f} (control "
        f"{stats['control']['gap_covered_from_concept_image']:+.2f}).")
  lines.append(
      f"Memorization: median pixel L2 to the nearest training digit: generated "
      f"{memo['generated_nn_distance']['median']:.2f}, held-out test "
      f"{memo['test_nn_distance']['median']:.2f} (ratio "
      f"{memo['median_ratio_generated_over_test']:.2f}; feature space "
      f"{memo['feature_space']['median_ratio_generated_over_test']:.2f}).")
  return lines


def main(argv):
  cli.reject_unexpected_arguments(argv)
  if not _DEBUG.value:
    logging.set_verbosity(logging.WARNING)
  return cli.run_reporting_errors(
      lambda: latent_walk(_WORKDIR.value, _OUT.value, _SEED.value,
                          num_samples=_NUM_SAMPLES.value, repetitions=_REPETITIONS.value),
      _DEBUG.value)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
