"""The project's error types: the ground floor every module may import (it imports nothing).

Each is a mistake or a condition a person can act on, and its message says what is wrong and what
to do. A command line (`experiments.cli.run_reporting_errors`) prints exactly these as one
``error:`` line; any other exception is a bug and keeps its traceback.
"""


class Error(Exception):
  """A jaxgan error a person can act on; its message says what is wrong and what would be right."""


class ConfigError(Error, ValueError):
  """The config (or the workdir, sweep root or input it is run with) cannot work."""


class UnknownNameError(ConfigError):
  """A name that is not registered (a dataset, model family, loss, ...); the message lists the
  registered ones and the closest match."""


class CheckpointError(Error, RuntimeError):
  """No usable checkpoint where one was asked for, or one could not be written."""


class NonFiniteError(Error, RuntimeError):
  """Training produced a non-finite loss, gradient or parameter under ``nan_policy='stop'``."""


class WriteError(Error, RuntimeError):
  """A log, sample or results file could not be written (a full disk, a read-only directory)."""


class DatasetNotAvailableError(Error, RuntimeError):
  """A dataset cannot be had here (offline, not prepared, or not installed)."""


class MissingFileError(Error, FileNotFoundError):
  """A file or directory the work needs is not there (weights, a dataset file, a saved tree)."""


class BadFileError(Error, ValueError):
  """A file given as input is not what it should be: corrupt, of another format, or holding
  arrays of the wrong names or shapes."""
