"""Latent-space studies of a trained MNIST GAN: interpolation, class morphs, arithmetic,
memorization.

Each study is a function of a sampler ``sample(z [N, D]) -> images [N, 28, 28, 1]`` (NumPy, in
[-1, 1]; `make_sampler` builds one from a `GAN` and its state), the MNIST classifier's
``classify(images) -> probabilities [N, 10]`` (`gan.classifier`) and arrays, and returns its
report (JSON-able numbers) and its figure (a PIL picture):

* `interpolation`: strips between random pairs of z, the lerp row above the slerp row (White
  2016); the latent norm at the midpoints and the classifier's confidence in-between.
* `class_morph`: the slerp strip between the concept vectors (mean z) of samples labelled 3 and 8
  with confidence, each image captioned with its label, then strips between single 3s and 8s.
* `arithmetic`: DCGAN's Fig. 7 layout (Radford et al. 2015) for concepts picked by measured
  attributes (`gan.digit_attributes`, see `ARITHMETIC`), over random exemplar triples, beside a
  control with random source digits; under each panel, a walk along the attribute direction.
* `memorization`: generated samples beside their nearest training digits (L2 in pixel space),
  and the nearest-neighbour distances to the training set of generated samples and of held-out
  test digits. Generated samples much closer to the training set than test digits would mean
  memorization.

`run_studies` runs all four on one set of latents; `summary` gives the headline lines. All latent
maths goes through `gan.latent`.
"""

from __future__ import annotations

import time
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from gan import digit_attributes
from gan import images as image_lib
from gan import latent
from gan import metrics

Sampler = Callable[[np.ndarray], np.ndarray]
Classify = Callable[[np.ndarray], np.ndarray]

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


class Arithmetic(NamedTuple):
  """One attribute arithmetic: "``high`` ``source`` - ``low`` ``source`` + ``low`` ``target``"."""
  name: str  # the report's key
  attribute: str  # a function of `gan.digit_attributes`
  source: int  # the digit the attribute direction is measured on
  target: int  # the digit it is added to
  high: str  # what a high attribute value looks like
  low: str
  unit: str  # captions: "<label> <unit> <value>"
  value_format: str


ARITHMETIC = (
    Arithmetic("thickness", "ink_mass", 3, 7, "thick", "thin", "ink", "{:.0f}"),
    Arithmetic("slant", "slant", 1, 7, "right-slanted", "left-slanted", "s", "{:+.2f}"),
)


def make_sampler(gan, state, use_ema: bool, batch_size: int = 500) -> Sampler:
  """``z [N, D] -> images [N, 28, 28, 1]`` (NumPy) of ``gan`` at ``state``, in jitted batches of
  one fixed size (`gan.batching.batched_apply`)."""
  from gan import batching, step as step_lib  # pylint: disable=g-import-not-at-top
  generate = jax.jit(lambda z: step_lib.generate(gan, state, z, None, use_ema=use_ema))

  def sample(z: Any) -> np.ndarray:
    return batching.batched_apply(generate, np.asarray(z, np.float32), batch_size)

  return sample


def check_settings(num_samples: int, repetitions: int, batch_size: int) -> None:
  """Raises a `ValueError` saying which setting is out of range (before any work is done)."""
  for name, value, least in (("num_samples", num_samples, 2 * MIN_POOL),
                             ("repetitions", repetitions, 1), ("batch_size", batch_size, 1)):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
      raise ValueError(f"latent_walk needs {name} to be an int >= {least}; got {value!r}.")


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
  (at least ``minimum`` each), as ``(high, low)``, most extreme first."""
  count = max(minimum, int(round(fraction * pool.size)))
  order = pool[np.argsort(values[pool], kind="stable")]
  return order[::-1][:count], order[:count]


def quantiles(values: np.ndarray) -> dict[str, float]:
  """``min``, ``p05``, ``p25``, ``median``, ``p75`` and ``mean`` of ``values`` (NumPy's linear
  interpolation between order statistics)."""
  values = np.asarray(values, np.float64)
  return {"min": float(values.min()), "p05": float(np.quantile(values, 0.05)),
          "p25": float(np.quantile(values, 0.25)), "median": float(np.median(values)),
          "p75": float(np.quantile(values, 0.75)), "mean": float(values.mean())}


def label_counts(labels: np.ndarray) -> dict[str, int]:
  """How many of ``labels`` are each digit, keyed ``'0'`` .. ``'9'`` (JSON keys)."""
  return {str(d): int(np.sum(labels == d)) for d in range(10)}


def morph_strip_stats(labels: np.ndarray, first: int, last: int) -> dict[str, Any]:
  """How a strip of classifier labels goes from ``first`` to ``last``.

  ``start_is_first`` / ``end_is_last``: its ends; ``fraction_first_in_first_half`` and
  ``fraction_last_in_second_half`` (an odd middle image counts to the second half);
  ``fraction_other_digits``: images labelled neither.
  """
  half = labels.shape[-1] // 2
  return {
      "start_is_first": bool(labels[0] == first), "end_is_last": bool(labels[-1] == last),
      "fraction_first_in_first_half": float(np.mean(labels[:half] == first)),
      "fraction_last_in_second_half": float(np.mean(labels[half:] == last)),
      "fraction_other_digits": float(np.mean((labels != first) & (labels != last))),
  }


def _attribute(name: str) -> Callable[[np.ndarray], np.ndarray]:
  fn = getattr(digit_attributes, name)
  return lambda images: np.asarray(fn(images), np.float64)


def _digits(images, captions=None, columns=0):
  return image_lib.digit_row(images, captions, columns=columns, scale=SCALE)


def _labels(sample_probabilities: np.ndarray) -> np.ndarray:
  return np.argmax(sample_probabilities, axis=-1)


# ----------------------------------------------------------------------------------------------
# The four studies.


def interpolation(sample: Sampler, classify: Classify, z: np.ndarray, rng: np.random.Generator
                  ) -> tuple[dict[str, Any], Image.Image]:
  """Lerp and slerp strips between `NUM_PAIRS` random pairs of ``z``: ``(report, figure)``.

  The report gives, per method, the latent norm at the midpoint and along the path over the
  endpoints' mean norm, and the classifier's confidence in the images strictly in-between.

  References:
    White 2016, "Sampling Generative Networks".
  """
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
    block = [image_lib.labelled(f"pair {pair + 1} {method}",
                                _digits(images[method][pair * NUM_STEPS:(pair + 1) * NUM_STEPS]))
             for method in ("lerp", "slerp")]
    rows.append(image_lib.stack(block, gap=0))
  title = image_lib.text_picture(
      f"{NUM_PAIRS} random pairs of z, {NUM_STEPS} steps: lerp row above slerp row", height=20)
  report.update(num_pairs=NUM_PAIRS, num_steps=NUM_STEPS)
  return report, image_lib.stack([title] + rows, gap=8)


def class_morph(sample: Sampler, classify: Classify, z: np.ndarray, probabilities: np.ndarray,
                rng: np.random.Generator, first: int = 3, last: int = 8, method: str = "slerp"
                ) -> tuple[dict[str, Any], Image.Image]:
  """The strip between the concept vectors of ``first``s and ``last``s, and strips between
  `NUM_MORPH_PAIRS` single pairs: ``(report, figure)``. ``method``: the latent prior's
  interpolation (`gan.latent.DISTRIBUTIONS`; slerp for a Gaussian z).

  Args:
    sample: the sampler.
    classify: images -> class probabilities.
    z: the latents, ``[N, D]``.
    probabilities: ``classify(sample(z))``, ``[N, 10]``.
    rng: draws the single pairs.
    first: the digit the strips start at.
    last: the digit they end at.
  """
  pools = {d: class_pool(probabilities, d) for d in (first, last)}
  concepts = {d: latent.concept_vector(jnp.asarray(z[pool])) for d, (pool, _) in pools.items()}
  strip = np.asarray(latent.interpolate(concepts[first], concepts[last], NUM_STEPS, method))
  strip_images = sample(strip)
  labels = _labels(classify(strip_images))
  report = {
      "digits": [first, last],
      "pool_sizes": {str(d): int(pool.size) for d, (pool, _) in pools.items()},
      "pools_confident": {str(d): confident for d, (_, confident) in pools.items()},
      "concept_norms": {str(d): float(jnp.linalg.norm(c)) for d, c in concepts.items()},
      "sample_norm_median": float(np.median(np.linalg.norm(z, axis=-1))),
      "strip_labels": [int(l) for l in labels],
      **morph_strip_stats(labels, first, last),
  }
  # Strips between single confident samples: how often the way passes through other digits.
  starts = z[rng.choice(pools[first][0], NUM_MORPH_PAIRS)]
  ends = z[rng.choice(pools[last][0], NUM_MORPH_PAIRS)]
  pair_strips = np.asarray(latent.interpolate(jnp.asarray(starts), jnp.asarray(ends), NUM_STEPS,
                                              method)).transpose(1, 0, 2)  # [pairs, steps, D]
  pair_images = sample(pair_strips.reshape(-1, z.shape[1]))
  pair_labels = _labels(classify(pair_images)).reshape(NUM_MORPH_PAIRS, NUM_STEPS)
  per_pair = [morph_strip_stats(l, first, last) for l in pair_labels]
  report["single_pairs"] = {
      "num_pairs": NUM_MORPH_PAIRS,
      **{key: float(np.mean([p[key] for p in per_pair])) for key in per_pair[0]},
  }
  rows = [image_lib.labelled(f"mean {first} -> mean {last}",
                             _digits(strip_images, [str(l) for l in labels]))]
  for i in range(4):
    rows.append(image_lib.labelled(f"one {first} -> one {last}",
                                   _digits(pair_images[i * NUM_STEPS:(i + 1) * NUM_STEPS],
                                           [str(l) for l in pair_labels[i]])))
  title = image_lib.text_picture(
      f"slerp between concept vectors (mean z of {report['pool_sizes'][str(first)]} "
      f"{first}s and {report['pool_sizes'][str(last)]} {last}s), then between single "
      f"samples; captions: classifier label", height=20)
  return report, image_lib.stack([title] + rows, gap=6)


def arithmetic(sample: Sampler, classify: Classify, z: np.ndarray, probabilities: np.ndarray,
               attributes: dict[str, np.ndarray], rng: np.random.Generator, key: jax.Array,
               repetitions: int) -> tuple[dict[str, Any], Image.Image]:
  """Every `ARITHMETIC`, over ``repetitions`` random exemplar triples: ``(report, figure)``.

  Args:
    sample: the sampler.
    classify: images -> class probabilities.
    z: the latents, ``[N, D]``.
    probabilities: ``classify(sample(z))``, ``[N, 10]``.
    attributes: each `ARITHMETIC` attribute of ``sample(z)``, ``[N]``, by attribute name.
    rng: draws the exemplars.
    key: the uniform noise of the result's variants in the figure.
    repetitions: exemplar triples per arithmetic.

  Returns:
    The report, keyed by arithmetic name, and the figure: one panel per arithmetic in DCGAN's
    layout (the first triple; three exemplars per concept in columns, the image of their mean
    beneath, then the result with three noisy variants above it) and a walk beneath.

  References:
    Radford et al. 2015, "Unsupervised Representation Learning with Deep Convolutional
    Generative Adversarial Networks", Sec. 6.3 and Fig. 7.
  """
  report, panels = {}, []
  for spec in ARITHMETIC:
    key, noise_key = jax.random.split(key)
    source, target = spec.source, spec.target
    measure = _attribute(spec.attribute)
    values = attributes[spec.attribute]
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
    labels = _labels(classify(generated))
    measured = measure(generated)
    r = repetitions
    result_labels, control_labels = labels[:r], labels[r:2 * r]
    result_values, control_values, c_mean_values = (measured[:r], measured[r:2 * r],
                                                     measured[2 * r:3 * r])
    walk_values = measured[3 * r:].reshape(len(WALK_ALPHAS), r)
    walk_labels = labels[3 * r:].reshape(len(WALK_ALPHAS), r)
    exemplar_values = np.array([values[c].mean() for _, _, c in triples])
    gap = values[target_high].mean() - values[target_low].mean()
    equation = f"{spec.high} {source} - {spec.low} {source} + {spec.low} {target}"
    report[spec.name] = stats = {
        "equation": equation,
        "intended": f"{spec.high} {target}",
        "attribute": spec.attribute,
        "digits": {"source": source, "target": target},
        "pool_sizes": {"source": int(source_pool.size), "target": int(target_pool.size),
                       "extreme": int(source_high.size)},
        "pools_confident": bool(source_confident and target_confident),
        "repetitions": repetitions,
        "result_is_target_fraction": float(np.mean(result_labels == target)),
        "result_label_counts": label_counts(result_labels),
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
            "equation": f"random {source} - random {source} + {spec.low} {target}",
            "result_is_target_fraction": float(np.mean(control_labels == target)),
            "gap_covered_from_concept_image": float((control_values - c_mean_values).mean() / gap)
                                              if gap else 0.0,
        },
        "walk": {
            "start": f"concept image of the {spec.low} {target} exemplars",
            "direction": f"mean z of {spec.high} {source}s - mean z of {spec.low} {source}s "
                         f"({source_high.size} each)",
            "direction_norm": float(jnp.linalg.norm(direction)),
            "alphas": list(WALK_ALPHAS),
            "attribute_mean": [float(v) for v in walk_values.mean(axis=1)],
            "target_fraction": [float(v) for v in np.mean(walk_labels == target, axis=1)],
        },
    }
    walk_images = generated[3 * r:].reshape(len(WALK_ALPHAS), r, *generated.shape[1:])[:, 0]
    panels.append(_arithmetic_panel(sample, classify, measure, spec, stats, z, triples[0],
                                    result_z[0], noise_key, walk_images, walk_values[:, 0]))
  return report, image_lib.stack(panels, gap=24)


def _arithmetic_panel(sample, classify, measure, spec, stats, z, triple, result, noise_key,
                      walk_images, walk_values):
  """One arithmetic in DCGAN's layout, titled with its measured numbers, its walk beneath."""
  noise = np.asarray(jax.random.uniform(noise_key, (EXEMPLARS, z.shape[1]),
                                        minval=-RESULT_NOISE, maxval=RESULT_NOISE))
  concept_z = [np.concatenate([z[group], np.asarray(latent.concept_vector(
      jnp.asarray(z[group])))[None]]) for group in triple]
  result_column = np.concatenate([result[None] + noise, result[None]])
  pictures = sample(np.concatenate(concept_z + [result_column]))
  picture_values = measure(pictures)
  picture_labels = _labels(classify(pictures))
  fmt = spec.value_format
  columns = []
  headings = [f"{spec.high} {spec.source}", f"{spec.low} {spec.source}",
              f"{spec.low} {spec.target}", "result"]
  for i, heading in enumerate(headings):
    block = slice(i * (EXEMPLARS + 1), (i + 1) * (EXEMPLARS + 1))
    block_images, block_labels = pictures[block], picture_labels[block]
    block_values = picture_values[block]
    cells = [_digits(block_images[j:j + 1],
                     [f"{block_labels[j]} {spec.unit} {fmt.format(block_values[j])}"])
             for j in range(EXEMPLARS + 1)]
    columns.append(image_lib.stack(
        [image_lib.text_picture(heading, height=16)] + cells[:EXEMPLARS] +
        [image_lib.text_picture("mean z" if i < 3 else "exact", height=12), cells[EXEMPLARS]],
        gap=2))
  signs = [image_lib.text_picture(s, height=40, size=20) for s in ("-", "+", "=")]
  row = image_lib.stack([columns[0], signs[0], columns[1], signs[1], columns[2], signs[2],
                         columns[3]], gap=8, horizontal=True)
  walk_row = image_lib.labelled(
      "walk: alpha " + " ".join(f"{a:g}" for a in WALK_ALPHAS),
      _digits(walk_images, [fmt.format(v) for v in walk_values]), width=200)
  title = image_lib.text_picture(
      f"{stats['equation']} = ? (intended: {spec.high} {spec.target});  over "
      f"{stats['repetitions']} draws: result is a {spec.target} in "
      f"{stats['result_is_target_fraction']:.0%}, gap covered "
      f"{stats['gap_covered_from_concept_image']:+.2f} "
      f"(control {stats['control']['gap_covered_from_concept_image']:+.2f})", height=20)
  return image_lib.stack([title, row, walk_row], gap=6)


def memorization(features: Callable[[np.ndarray], np.ndarray], generated: np.ndarray,
                 train_images: np.ndarray, test_images: np.ndarray
                 ) -> tuple[dict[str, Any], Image.Image]:
  """Nearest training digits of generated samples and of held-out test digits.

  Args:
    features: images -> the classifier's penultimate features (a second, perceptual distance).
    generated: generated images; the first `MAX_COMPARED` (at most as many as test digits) count.
    train_images: the training set, ``[M, 28, 28, 1]``.
    test_images: held-out digits.

  Returns:
    ``(report, figure)``: the report gives the quantiles of both nearest-neighbour distances,
    their median ratio and the fraction of generated samples nearer to a training digit than
    all but 1% of test digits are; the figure shows the 12 closest and 12 random generated
    samples beside their nearest training digits, and the histograms of both distances.
  """
  count = min(MAX_COMPARED, generated.shape[0], test_images.shape[0])
  generated, test_images = generated[:count], test_images[:count]
  generated_distances, generated_nearest = metrics.nearest_neighbours(generated, train_images)
  test_distances, _ = metrics.nearest_neighbours(test_images, train_images)
  train_features = features(train_images)
  feature_generated, _ = metrics.nearest_neighbours(features(generated), train_features)
  feature_test, _ = metrics.nearest_neighbours(features(test_images), train_features)
  report = {
      "space": "L2 between images in [-1, 1] (28x28 pixels); feature_space: L2 between the "
               "classifier's 128-d penultimate features",
      "num_train": int(train_images.shape[0]), "num_generated": int(count),
      "num_test": int(count),
      "generated_nn_distance": quantiles(generated_distances),
      "test_nn_distance": quantiles(test_distances),
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
    rows = [image_lib.stack(cells[k:k + 4], gap=10, horizontal=True)
            for k in range(0, len(cells), 4)]
    return image_lib.stack([image_lib.text_picture(heading, height=18)] + rows, gap=4)

  histogram = Image.fromarray(image_lib.scatter_plot(generated_distances[:, None],
                                                     test_distances[:, None], size=256))
  legend = image_lib.stack([
      image_lib.text_picture("nearest-training-digit L2 distance", height=16),
      image_lib.text_picture("black: held-out test digits, green: generated", height=16),
      histogram,
      image_lib.text_picture(
          f"range {min(generated_distances.min(), test_distances.min()):.1f} .. "
          f"{max(generated_distances.max(), test_distances.max()):.1f}; medians: generated "
          f"{np.median(generated_distances):.2f}, test {np.median(test_distances):.2f}",
          height=16)], gap=2)
  left = image_lib.stack([pairs(closest, "generated | nearest training digit: the 12 closest"),
                          pairs(randoms, "12 random generated samples")], gap=10)
  return report, image_lib.stack([left, legend], gap=20, horizontal=True, align_middle=False)


# ----------------------------------------------------------------------------------------------
# All four.


def run_studies(sample: Sampler, classifier, latent_dim: int, train_images: np.ndarray,
                test_images: np.ndarray, *, seed: int = 0, num_samples: int = 4000,
                repetitions: int = 20, log: Callable[[str], None] = print,
                latent_distribution: str = "normal"
                ) -> tuple[dict[str, Any], dict[str, Image.Image]]:
  """Samples ``num_samples`` latents, labels their images and runs the four studies on them.

  Args:
    sample: ``z [N, latent_dim] -> images [N, 28, 28, 1]`` (see `make_sampler`).
    classifier: a `gan.classifier.Classifier` (``outputs``, ``probabilities``, ``features``,
      ``accuracy``).
    latent_dim: the generator's latent dimension.
    train_images: the run's training digits (memorization is measured against them).
    test_images: held-out digits (at least the first `MAX_COMPARED` are used).
    seed: seeds the latents and every random choice.
    num_samples: latents sampled and classified to find the digit concepts.
    repetitions: random exemplar triples per arithmetic.
    log: called with a progress line.
    latent_distribution: the generator's latent prior (`gan.latent.DISTRIBUTIONS`): the latents
      are drawn from it and the class morph follows its interpolation.

  Returns:
    ``(report, figures)``: the numbers of every study (JSON-able), and the figures keyed by the
    file names of `FIGURES`.

  Raises:
    ValueError: ``num_samples`` or ``repetitions`` out of range.
  """
  check_settings(num_samples, repetitions, 1)
  start_time = time.time()
  z_key, noise_key = jax.random.split(jax.random.key(seed))
  rng = np.random.default_rng(seed)
  z = np.asarray(latent.sample(z_key, (num_samples, latent_dim), latent_distribution))
  generated = sample(z)
  probabilities = classifier.outputs(generated)["probabilities"]
  attributes = {spec.attribute: _attribute(spec.attribute)(generated) for spec in ARITHMETIC}
  log(f"{num_samples} samples classified in {time.time() - start_time:.0f} s.")
  report: dict[str, Any] = {
      "seed": seed, "num_samples": num_samples, "latent_dim": latent_dim,
      "classifier_held_out_accuracy": float(classifier.accuracy),
      "confidence_threshold": CONFIDENCE,
      "sample_label_counts": label_counts(_labels(probabilities)),
      "confident_fraction": float(np.mean(probabilities.max(axis=-1) >= CONFIDENCE)),
  }
  classify = classifier.probabilities
  figures = {}
  report["interpolation"], figures["interpolation.png"] = interpolation(sample, classify, z, rng)
  report["class_morph"], figures["class_morph.png"] = class_morph(
      sample, classify, z, probabilities, rng,
      method=latent.check_distribution(latent_distribution).interpolation)
  report["arithmetic"], figures["arithmetic.png"] = arithmetic(
      sample, classify, z, probabilities, attributes, rng, noise_key, repetitions)
  report["memorization"], figures["memorization.png"] = memorization(
      classifier.features, generated, train_images, test_images)
  return report, figures


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
