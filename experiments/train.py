r"""Trains a GAN: a thin command line over `gan.loop.train_and_evaluate`.

  python -m experiments.train --workdir workdirs/dcgan_mnist \
      [--config experiments/configs/dcgan_mnist.py] [--config.num_steps=2000 ...]

Running it again with the same --workdir resumes from the newest good checkpoint. Several
processes (hosts): start one per host with --coordinator_address=HOST:PORT --num_processes=N
--process_id=I (see the README).
"""

import os

from absl import app
from absl import flags

from experiments import cli

_DEFAULT_CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs",
                               "dcgan_mnist.py")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, logs and samples.")
_CONFIG = cli.define_config_flag(_DEFAULT_CONFIG)
_DEBUG = flags.DEFINE_bool("debug", False, "Show Python tracebacks for errors.")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None,
                                   "host:port of process 0, for a multi-process run.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in a multi-process run.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (0 writes files).")
flags.mark_flags_as_required(["workdir"])


def main(argv):
  cli.behave_as_child()
  cli.reject_unexpected_arguments(argv)
  cli.quiet_library_logs(_DEBUG.value)  # orbax logs every file it renames at INFO
  cli.maybe_initialize_distributed(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)

  def run():
    from gan import loop  # pylint: disable=g-import-not-at-top
    metrics = loop.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    if metrics:
      print("final: " + " ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())))
    many = _CONFIG.value.get("num_seeds", 1) > 1
    suffix = "_seed*" if many else ""
    print(f"Samples: {os.path.join(_WORKDIR.value, f'samples{suffix}.png')}; progress: "
          f"{os.path.join(_WORKDIR.value, f'progress{suffix}.png')}; results: "
          f"{os.path.join(_WORKDIR.value, 'results.json')}")

  return cli.run_reporting_errors(run, _DEBUG.value)


if __name__ == "__main__":
  app.run(main, flags_parser=cli.parse_flags)
