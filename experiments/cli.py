"""What every command line of `experiments` shares: multi-process start-up and error reporting.

A mistake a person can fix (a bad config value, a missing dataset or checkpoint, a diverged run:
an error of the project's own types, `gan.errors.Error`) ends the program with one line on
stderr saying what is wrong and what would be right, and exit status 2 -- no traceback unless
--debug. Any other exception is a bug: it keeps its traceback, followed by a line saying how to
report it.
"""

import logging
import os
import sys
from typing import Callable, Optional

EXIT_USER_ERROR = 2


EXIT_BUG = 1
REPORT_A_BUG = ("This is a bug in jaxgan, not a mistake in your input: please report it with the "
                "command you ran and the traceback above (add --debug for library logs).")


class _NotFromOrbax(logging.Filter):
  """Drops orbax's log records: on a failed checkpoint write it logs ~140 lines of tracebacks
  from its threads before raising the error that we report in one line."""

  def filter(self, record: logging.LogRecord) -> bool:
    orbax = f"{os.sep}orbax{os.sep}"
    if orbax in (record.pathname or ""):
      return False
    # After a failed write, asyncio reports orbax's pending writes as "Task exception was never
    # retrieved" (the orbax coroutine named in the message) or "Future exception was never
    # retrieved" (tensorstore's error naming the checkpoint's temporary directory): the same
    # failure our one line reports.
    if record.name != "asyncio":
      return True
    message = record.getMessage()
    return not (orbax in message or ".orbax-checkpoint-tmp" in message)


def quiet_library_logs(debug: bool) -> None:
  """Without ``--debug``: only warnings, and nothing from orbax (its errors reach the user as our
  one ``error:`` line), nor its callbacks' noise at exit."""
  if debug:
    return
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  absl_logging.set_verbosity(absl_logging.WARNING)
  # submitit warns at each poll where Slurm keeps no accounting (sacct fails); the job states it
  # needs come from its own files then.
  logging.getLogger("submitit").setLevel(logging.ERROR)
  for handler in [absl_logging.get_absl_handler(), *logging.getLogger().handlers]:
    if not any(isinstance(f, _NotFromOrbax) for f in handler.filters):
      handler.addFilter(_NotFromOrbax())
  sys.unraisablehook = _without_closed_event_loops(sys.__unraisablehook__)


def _without_closed_event_loops(hook):
  """After a failed checkpoint write, tensorstore's pending writes call back into the event loop
  orbax has already closed, and Python prints each such "Event loop is closed" at exit (tens of
  tracebacks, at random). They say nothing the error line does not; everything else goes on to
  ``hook``."""
  def unraisable(args):
    if isinstance(args.exc_value, RuntimeError) and str(args.exc_value) == "Event loop is closed":
      return
    hook(args)
  return unraisable


def run_reporting_errors(fn: Callable[[], None], debug: bool) -> int:
  """Runs ``fn``; an error of the project's types (`gan.errors.Error`) becomes one ``error: ...``
  line and exit status 2, as does an error of the machine (an ``OSError`` with an errno: a full
  disk, a read-only directory, a name too long; a ``JAX_PLATFORMS`` it cannot start); any other
  exception is printed with its traceback and a line saying how to report it, exit status 1."""
  from gan import errors  # pylint: disable=g-import-not-at-top
  quiet_library_logs(debug)
  try:
    fn()
  except KeyboardInterrupt:
    print("\nerror: interrupted; run the same command again to resume from the last checkpoint.",
          file=sys.stderr)
    return 130
  except errors.Error as e:
    if debug:
      raise
    message = " ".join(str(e).split())
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USER_ERROR
  except OSError as e:
    # The machine's, not a bug: a full disk, a read-only or missing directory, a name too long.
    if debug:
      raise
    if e.errno is None:
      return _report_bug()
    where = " ".join(str(p) for p in (e.filename, e.filename2) if p is not None)
    print(f"error: {'cannot use ' + where if where else 'a file operation failed'} "
          f"({e.strerror or e}); free disk space, fix the permissions, or pass another path.",
          file=sys.stderr)
    return EXIT_USER_ERROR
  except RuntimeError as e:
    # JAX_PLATFORMS naming an accelerator this machine lacks (or whose jax plugin is missing).
    if debug:
      raise
    if "Unable to initialize backend" not in str(e):
      return _report_bug()
    first = " ".join(str(e).split(". ")[0].split())
    asked = os.environ.get("JAX_PLATFORMS")
    print(f"error: JAX cannot start the platform asked for"
          f"{f' (JAX_PLATFORMS={asked})' if asked else ''}: {first}. Unset JAX_PLATFORMS (or set "
          f"it to cpu), or install jax for that accelerator.", file=sys.stderr)
    return EXIT_USER_ERROR
  except Exception:  # pylint: disable=broad-except
    return _report_bug()
  return 0


def _report_bug() -> int:
  """The exception being handled, with its traceback and how to report it; `EXIT_BUG`."""
  import traceback  # pylint: disable=g-import-not-at-top
  traceback.print_exc()
  print(REPORT_A_BUG, file=sys.stderr)
  return EXIT_BUG


# Set by whatever starts a trainer on a sweep's behalf (the local pool, a Ray task, a Slurm job):
# that process's id. The trainer then stops on SIGINT/SIGTERM and dies with it.
PARENT_PID_VARIABLE = "JAXGAN_PARENT_PID"


def child_environment() -> dict:
  """The environment for a trainer this process starts and watches (`behave_as_child`)."""
  return dict(os.environ, **{PARENT_PID_VARIABLE: str(os.getpid())})


def behave_as_child() -> None:
  """In a trainer started by a sweep (`PARENT_PID_VARIABLE` set): the default SIGINT (a
  KeyboardInterrupt, whatever was inherited) and SIGTERM, so the sweep can stop it, and death
  with its parent (Linux ``PR_SET_PDEATHSIG``), so that a killed sweep, Ray worker or Slurm step
  leaves no trainer holding a workdir. Done by the trainer itself: no code runs between fork and
  exec in the parent, which has JAX's threads."""
  parent = os.environ.get(PARENT_PID_VARIABLE)
  if not parent:
    return
  import signal  # pylint: disable=g-import-not-at-top
  signal.signal(signal.SIGINT, signal.default_int_handler)
  signal.signal(signal.SIGTERM, signal.SIG_DFL)
  if sys.platform.startswith("linux"):
    import ctypes  # pylint: disable=g-import-not-at-top
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
  if str(os.getppid()) != parent:  # the parent died before the line above
    sys.exit(EXIT_BUG)


def maybe_initialize_distributed(coordinator: Optional[str], num_processes: Optional[int],
                                 process_id: Optional[int]) -> None:
  """``jax.distributed.initialize`` when a multi-process run is asked for (CPU: gloo)."""
  if not coordinator:
    return
  import jax  # pylint: disable=g-import-not-at-top
  if jax.config.jax_platforms in (None, "", "cpu") or jax.default_backend() == "cpu":
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator, num_processes=num_processes, process_id=process_id)


def parse_flags(argv):
  """absl's flag parsing, with a malformed flag reported as one line and exit status 2.

  Pass as ``app.run(main, flags_parser=cli.parse_flags)``. Covers unknown flags, values of the
  wrong type (``--config.batch_size=abc``), unknown config fields and missing config files.
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  try:
    remaining = flags.FLAGS(argv)
    if "config" in flags.FLAGS:
      config = flags.FLAGS["config"].value  # config files load lazily: load it here
      if not hasattr(config, "keys"):
        print(f"error: the config file {flags.FLAGS['config'].config_filename}: get_config() "
              f"returned a {type(config).__name__}, not a ConfigDict; fix it (see "
              "experiments/configs/).", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)
      _follow_the_model(config, argv)
    return remaining
  except Exception as e:  # pylint: disable=broad-except
    failure = config_file_failure(e)
    if failure:
      print(f"error: the config file cannot be loaded: {failure}. Fix it: a config file defines "
            "get_config() returning a ConfigDict (see experiments/configs/).", file=sys.stderr)
      sys.exit(EXIT_USER_ERROR)
    if not isinstance(e, (flags.Error, KeyError, AttributeError, ValueError, TypeError, OSError)):
      raise
    message = " ".join(str(e).split()) or type(e).__name__
    print(f"error: {message} (see --helpfull for the flags; config fields are listed in "
          f"experiments/configs/common.py)", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def _follow_the_model(config, argv) -> None:
  """``--config.model=X`` on the command line, for a config file of another family, takes X's
  settings (``config.model_args``) at their defaults, as a sweep's ``model`` override does
  (`gan.config.switch_model`); settings named on the command line keep their values. Another
  family's settings are otherwise set through a config file of that family, e.g.
  ``--config experiments/configs/mlp_gan_mnist.py``."""
  from gan import config as config_lib, models  # pylint: disable=g-import-not-at-top
  given = any(a.split("=")[0] == "--config.model" for a in argv[1:])
  if not (given and "model_args" in config and config.model in models.names()):
    return
  if set(config.model_args) != set(models.default_args(config.model)):
    prefix = "--config.model_args."
    named = {a[len(prefix):].split("=")[0] for a in argv[1:] if a.startswith(prefix)}
    config_lib.switch_model(config, config.model, keep=sorted(named))


def config_file_failure(error: BaseException) -> Optional[str]:
  """``'path, line N: Type: message'`` when ``error`` (or one it was raised from) is a syntax
  error or was raised by a config file's own code while it loaded; else None.

  ml_collections re-raises a config's TypeError / ValueError with the traceback in the message,
  and absl wraps that again: the original, and the line it came from, are found down the chain.
  """
  import traceback  # pylint: disable=g-import-not-at-top
  seen = []
  while error is not None and error not in seen:
    seen.append(error)
    if isinstance(error, SyntaxError):
      return f"{error.filename}, line {error.lineno}: {error.msg}"
    frames = traceback.extract_tb(error.__traceback__)
    loader = [i for i, f in enumerate(frames) if f.filename.endswith(_CONFIG_LOADERS)]
    own = [f for f in frames[loader[-1] + 1:] if not _is_library(f.filename)] if loader else []
    if own:
      message = " ".join(str(error).split())
      return f"{own[-1].filename}, line {own[-1].lineno}: {type(error).__name__}: {message}"
    error = error.__cause__ or error.__context__
  return None


# Where a config file's code is called from: ml_collections' flag parser, `load_config_module`.
_CONFIG_LOADERS = ("config_flags.py", "cli.py")


def _is_library(filename: str) -> bool:
  return (filename.startswith("<") or "site-packages" in filename or
          filename.endswith(_CONFIG_LOADERS))


def define_config_flag(default_path: str, help_text: str = "Config file (experiments/configs/*.py)."):
  """``config_flags.DEFINE_config_file('config', ...)``, with its import-time errors made readable.

  ml_collections reads ``--config.field=value`` overrides from ``sys.argv`` when the flag is
  defined, so an unknown field fails at import, before absl's parser could report it.
  """
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top
  try:
    return config_flags.DEFINE_config_file("config", default_path, help_text, lock_config=True)
  except (KeyError, AttributeError, ValueError, TypeError, OSError) as e:
    field = " ".join(str(e).split()).strip("'\"")
    print(f"error: the config has no field {field}; the fields are listed (and documented) in "
          f"experiments/configs/common.py.", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def reject_unexpected_arguments(argv) -> None:
  """Exits with one line when positional arguments were given (all inputs are --flags)."""
  if len(argv) > 1:
    print(f"error: unexpected arguments {' '.join(argv[1:])!r}; every input is a --flag "
          f"(see --helpfull).", file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def load_config_module(path: str):
  """The config file at ``path`` as a module (for its optional ``sweep()`` / ``paper_results()``)."""
  import importlib.util  # pylint: disable=g-import-not-at-top
  from gan.config import ConfigError  # pylint: disable=g-import-not-at-top
  spec = importlib.util.spec_from_file_location("jaxgan_config_" + str(abs(hash(path))), path)
  if spec is None:
    raise ConfigError(f"the config file {path} is not a Python file; pass a config file "
                      "(experiments/configs/*.py).")
  module = importlib.util.module_from_spec(spec)
  try:
    spec.loader.exec_module(module)
  except Exception as e:  # pylint: disable=broad-except
    failure = config_file_failure(e)
    if not failure:
      raise
    raise ConfigError(f"the config file cannot be loaded: {failure}. Fix it: a config file "
                      "defines get_config() returning a ConfigDict.") from e
  return module
