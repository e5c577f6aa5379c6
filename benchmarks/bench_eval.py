r"""How long generating and evaluating 10,000 samples takes (issue: seconds, not minutes).

  python -m benchmarks.bench_eval [--workdir workdirs/dcgan_mnist] [--num 10000]

Times, after one warm-up pass: generating ``--num`` dcgan28 samples (jitted, batches of 1,000),
classifier features/probabilities of them, and FID, KID, score, precision/recall and
density/coverage against ``--num`` reference features. Uses a trained run's checkpoint if
``--workdir`` has one, else a freshly initialised generator (the timing is the same).
"""

import os
import platform
import sys
import time

from absl import app
from absl import flags

_WORKDIR = flags.DEFINE_string("workdir", "workdirs/dcgan_mnist", "A trained dcgan_mnist run.")
_NUM = flags.DEFINE_integer("num", 10000, "Samples to generate and evaluate.")


def _timed(fn):
  start = time.perf_counter()
  out = fn()
  return out, time.perf_counter() - start


def main(argv):
  del argv
  import jax  # pylint: disable=g-import-not-at-top
  from experiments.configs import dcgan_mnist  # pylint: disable=g-import-not-at-top
  from gan import classifier, evaluation, metrics, runs, sampling  # pylint: disable=g-import-not-at-top
  from gan import config as config_lib  # pylint: disable=g-import-not-at-top
  from gan import step as step_lib  # pylint: disable=g-import-not-at-top
  config = dcgan_mnist.get_config()
  gan = config_lib.build_gan(config)
  state = step_lib.create_state(gan, jax.random.key(0))
  source = "fresh init"
  if os.path.isdir(os.path.join(_WORKDIR.value, "checkpoints")):
    gan, step, state = runs.restore_run(_WORKDIR.value, config)
    source = f"{_WORKDIR.value} step {step}"
  net = classifier.evaluation_classifier()
  n = _NUM.value
  rows = []
  for attempt in ("warm-up", "timed"):
    samples, t_gen = _timed(lambda: sampling.generate_samples(gan, state, n, seed=1))
    out, t_feat = _timed(lambda: net.outputs(samples))
    reference = net.outputs(sampling.generate_samples(gan, state, n, seed=2))
    feats, ref = out["features"], reference["features"]
    _, t_fid = _timed(lambda: metrics.fid_from_features(ref, feats))
    _, t_kid = _timed(lambda: metrics.kernel_inception_distance(ref, feats))
    _, t_is = _timed(lambda: metrics.inception_score(out["probabilities"]))
    _, t_pr = _timed(lambda: metrics.precision_recall(ref, feats))
    _, t_dc = _timed(lambda: metrics.density_coverage(ref, feats))
    rows = [("generate", t_gen), ("classifier features + probabilities", t_feat),
            ("FID", t_fid), ("KID (100 subsets of 1,000)", t_kid), ("score", t_is),
            ("precision/recall (k=3)", t_pr), ("density/coverage (k=5)", t_dc)]
  total = sum(t for _, t in rows)
  print(f"{n} samples, generator from {source}; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, jax {jax.__version__} on {jax.default_backend()}\n")
  print("| stage | seconds |\n|---|---|")
  for name, t in rows:
    print(f"| {name} | {t:.2f} |")
  print(f"| **total** | **{total:.2f}** |")
  return 0


if __name__ == "__main__":
  sys.exit(app.run(main))
