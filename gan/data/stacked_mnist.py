"""`stacked_mnist`: three mnist5k digits stacked as the RGB channels, 1,000 modes, offline.

The mode-collapse benchmark of Metz et al. 2017, VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018): an image is three MNIST digits, one per channel, so the data has
10 x 10 x 10 = 1,000 equally likely modes. A GAN is scored by how many of them its samples hit and
by KL(generated modes || uniform), with an MNIST classifier reading each channel (the
``stacked_mnist`` protocol of `gan.evaluation`).

How it is built here (deterministic, from `mnist5k` only, so it works offline):

* Split ``s`` draws its examples from the same split of mnist5k: ``train`` from its 4,000
  training digits, ``test`` from its 1,000 test digits. The two splits share no digit image, and
  the test split is held out from the in-repo classifier, which is trained on mnist5k's train
  split.
* Example ``i`` of split ``s`` is ``(pool[j0], pool[j1], pool[j2])`` stacked on the channel axis
  (R = channel 0), where ``[j0, j1, j2] = digit_indices(s, len(pool))[i]``: indices into the
  mnist5k split's stored order, drawn uniformly with replacement and independently per channel
  by ``numpy.random.default_rng([SEED, SPLIT_STREAMS[s]]).integers(0, len(pool), (n, 3))``.
  Its label is its mode, ``100 d0 + 10 d1 + d2`` for the channels' digits (the order of
  `gan.metrics.stacked_mnist_modes`).
* `NUM_EXAMPLES`: 128,000 training images, the size of PacGAN's training set for this benchmark;
  26,000 test images, the number of generated samples PacGAN scores, so the real reference can be
  measured at the same sample size. Only the ``[n, 3]`` indices and the mnist5k digits are held in
  memory; an image is stacked when it is read.

Differences from PacGAN's code (``stacked_MNIST_experiments/VEEGAN_experiment/model.py``,
``load_mnist``): it draws every channel uniformly with replacement from all 70,000 MNIST
digits, train and test together, with the global ``np.random`` state; here the pools are mnist5k's
two disjoint splits and the draw is seeded.

``num_classes`` is 0: the benchmark asks whether an *unconditional* generator finds all 1,000
modes (a generator told the mode would make the question moot), so the dataset offers no
conditional training. The mode is still returned as ``label`` (as the toys return their mixture
component), for tests and analysis.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from gan.data import registry
from gan.data import source as source_lib

SEED = 0
SPLIT_STREAMS = {"train": 0, "test": 1}
# PacGAN: stacked_MNIST_experiments/VEEGAN_experiment/config.py, "num_training_sample": 128000
# and "num_test_sample": 26000 (generated samples scored per evaluation).
NUM_EXAMPLES = {"train": 128_000, "test": 26_000}
NUM_CHANNELS = 3
NUM_MODES = 10 ** NUM_CHANNELS
_DIGITS = "mnist5k"


def digit_indices(split: str, pool_size: int) -> np.ndarray:
  """The mnist5k digits behind each example of ``split``: int64 ``[NUM_EXAMPLES[split], 3]``.

  Column ``c`` indexes channel ``c``'s digit in the stored order of the same mnist5k split.

  Args:
    split: ``'train'`` or ``'test'``.
    pool_size: the number of digits in that mnist5k split (4,000 or 1,000).

  References:
    Lin et al. 2018, "PacGAN: The Power of Two Samples in Generative Adversarial Networks"
    (Stacked MNIST; code: github.com/fjxmlzn/PacGAN); Srivastava et al. 2017, "VEEGAN".
  """
  if split not in SPLIT_STREAMS:
    raise ValueError(f"stacked_mnist has splits {', '.join(SPLIT_STREAMS)}; got {split!r}.")
  rng = np.random.default_rng([SEED, SPLIT_STREAMS[split]])
  return rng.integers(0, pool_size, size=(NUM_EXAMPLES[split], NUM_CHANNELS))


def stack(images: np.ndarray, labels: np.ndarray, indices: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
  """Stacks digits into images: ``(uint8 [n, 28, 28, 3], int32 modes [n])``.

  Args:
    images: uint8 ``[P, 28, 28, 1]`` single digits.
    labels: int ``[P]`` their digits.
    indices: int ``[n, 3]`` rows of ``images`` for channels 0, 1, 2.
  """
  stacked = np.concatenate([images[indices[:, c]] for c in range(NUM_CHANNELS)], axis=-1)
  modes = labels[indices] @ (10 ** np.arange(NUM_CHANNELS - 1, -1, -1))
  return stacked, modes.astype(np.int32)


def _open(spec: registry.DatasetSpec, split: str, data_dir: Optional[str] = None,
          download: bool = True) -> source_lib.FiniteSource:
  digits_spec = registry.get(_DIGITS)
  digits = digits_spec.open(digits_spec, split, data_dir, download).all_examples()
  # Back to the stored uint8 (exact: to_unit_range is v / 127.5 - 1 in float32), so a stacked
  # channel, after the source's own to_unit_range, is bit for bit the mnist5k digit.
  pool = np.rint((digits["image"] + 1.0) * 127.5).astype(np.uint8)
  pool_labels = digits["label"].astype(np.int64)
  indices = digit_indices(split, len(pool))
  return source_lib.FiniteSource(spec, split, len(indices),
                                 lambda rows: stack(pool, pool_labels, indices[rows]))


registry.register(registry.DatasetSpec(
    name="stacked_mnist", data_shape=(28, 28, NUM_CHANNELS), num_classes=0,
    splits=tuple(SPLIT_STREAMS), open=_open, offline=True, evaluation="stacked_mnist"))
