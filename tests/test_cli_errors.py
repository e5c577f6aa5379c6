"""Bad invocations of the command lines: one clear line, a non-zero exit, nothing of earlier runs
changed, no traceback. Table-driven; each row runs the real command in a subprocess."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from experiments import cli
from experiments.configs import dcgan_mnist
from gan import inception

pytestmark = pytest.mark.slow  # every case runs a command in a subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
  """An earlier run (trained for real, 2 steps) and the odds and ends the bad calls point at."""
  base = tmp_path_factory.mktemp("cli")
  data_dir = str(base / "tfds")
  run = str(base / "earlier_run")
  tiny = ["--config.model=mlp", "--config.batch_size=8", "--config.num_steps=2",
          "--config.sample_every=0", "--config.checkpoint_every=2", f"--config.data_dir={data_dir}"]
  subprocess.run([sys.executable, "-m", "experiments.train", f"--workdir={run}"] + tiny, cwd=ROOT,
                 env=_env(), check=True, capture_output=True)
  a_file = base / "a_file"
  a_file.write_text("not a directory")
  cifar_run = base / "cifar_run"
  cifar_run.mkdir()
  config = dcgan_mnist.get_config()
  config.dataset, config.model = "cifar10", "dcgan32"
  (cifar_run / "config.json").write_text(config.to_json())
  # A step directory (not a checkpoint): evaluate gets past "no checkpoint yet", and the missing
  # Inception weights must be reported before anything is restored.
  (cifar_run / "checkpoints" / "1").mkdir(parents=True)
  untrained = base / "untrained"
  untrained.mkdir()
  (untrained / "config.json").write_text(dcgan_mnist.get_config().to_json())
  bad_weights = base / "bad_inception.npz"
  state_dict = inception.random_inception_state_dict(0)
  name = next(iter(state_dict))
  state_dict[name] = np.zeros((3, 3), np.float32)
  inception.save_npz(str(bad_weights), state_dict)
  return dict(base=str(base), run=run, tiny=tiny, data_dir=data_dir, file=str(a_file),
              cifar_run=str(cifar_run), bad_weights=str(bad_weights), empty=str(base / "empty"),
              untrained=str(untrained))


def _env():
  return dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=ROOT, TFDS_DATA_DIR="/nonexistent",
              XLA_FLAGS="--xla_force_host_platform_device_count=8")


def _snapshot(directory):
  digest = {}
  for folder, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(folder, name)
      digest[os.path.relpath(path, directory)] = (
          "-> " + os.readlink(path) if os.path.islink(path) else
          hashlib.sha256(open(path, "rb").read()).hexdigest())
  return digest


TRAIN, EVALUATE, SWEEP = "experiments.train", "experiments.evaluate", "experiments.sweep"
SAMPLE, AGGREGATE = "experiments.sample", "experiments.aggregate"
# (module, arguments with {placeholders}, what the error line must say)
CASES = [
    (TRAIN, ["--workdir={base}/t1", "--config.loss=minimax"], "choose one of: saturating"),
    (TRAIN, ["--workdir={base}/t2", "--config.model=resnet"], "choose one of: mlp, dcgan28"),
    (TRAIN, ["--workdir={base}/t3", "--config.dataset=imagenet"], "choose one of: mnist5k"),
    (TRAIN, ["--workdir={base}/t4", "--config.optimizer=adagrad"], "choose one of: adam"),
    (TRAIN, ["--workdir={base}/t5", "--config.g_learning_rate=0.0"], "must be a positive number"),
    (TRAIN, ["--workdir={base}/t6", "--config.d_learning_rate=-0.1"], "must be a positive number"),
    (TRAIN, ["--workdir={base}/t7", "--config.batch_size=0"], "must be a positive integer"),
    (TRAIN, ["--workdir={base}/t8", "--config.batch_size=-8"], "must be a positive integer"),
    (TRAIN, ["--workdir={base}/t9", "--config.num_steps=0"], "must be a positive integer"),
    (TRAIN, ["--workdir={base}/t10", "--config.batch_size=12"], "over 8 devices"),
    (TRAIN, ["--workdir={base}/t11", "--config.dataset=cifar10"], "makes 28x28x1 images"),
    (TRAIN, ["--workdir={base}/t12", "--config.model=mlp", "--config.dataset=cifar10",
             "--config.data_dir={empty}"], "not available offline"),
    (TRAIN, ["--workdir={file}"], "is a file, not a directory"),
    (TRAIN, ["--workdir={file}/sub"], "cannot be created"),
    (TRAIN, ["--workdir={run}", "--config.loss=hinge", "--config.model=mlp",
             "--config.batch_size=8", "--config.sample_every=0", "--config.checkpoint_every=2",
             "--config.data_dir={data_dir}"], "loss: 'non_saturating' -> 'hinge'"),
    (TRAIN, ["--workdir={base}/t16", "--config.batch_size=abc"], "batch_size"),
    (TRAIN, ["--workdir={base}/t17", "--config.no_such_field=1"], "no_such_field"),
    (TRAIN, ["--workdir={base}/t18", "--config={base}/missing_config.py"], "missing_config.py"),
    (TRAIN, ["--workdir={base}/t19", "--config.nan_policy=ignore"], "choose one of: stop"),
    (TRAIN, ["--workdir={base}/t20", "--config.ema_decay=1.5"], "must be in [0, 1)"),
    (TRAIN, ["--workdir={base}/t21", "stray_argument"], "unexpected arguments"),
    (TRAIN, [], "workdir"),
    (TRAIN, ["--workdir={base}/t22", "--config.loss=wasserstein"], "needs a Lipschitz constraint"),
    (TRAIN, ["--workdir={base}/t23", "--config.xla_cpu_options=fast"], "name=value"),
    (TRAIN, ["--workdir={base}/t24", "--config.dataset=fashion_mnist", "--config.eval_every=5"],
     "cannot be evaluated here"),
    (EVALUATE, ["--workdir={empty}"], "holds no training run"),
    (EVALUATE, ["--workdir={run}", "--step=999"], "--step 999 has no checkpoint"),
    # Refused before the evaluation classifier is trained (a minute on first use).
    (EVALUATE, ["--workdir={untrained}"], "has no checkpoint yet; train first"),
    (EVALUATE, ["--workdir={cifar_run}"], "pt_inception-2015-12-05"),
    (EVALUATE, ["--workdir={cifar_run}", "--inception_weights={base}/nowhere.pth"], "nowhere.pth"),
    (EVALUATE, ["--workdir={cifar_run}", "--inception_weights={bad_weights}"], "shape"),
    (SAMPLE, ["--workdir={empty}", "--output={base}/x.npz"], "holds no training run"),
    (SAMPLE, ["--workdir={run}", "--output={base}/x.txt"], "must end in .npz"),
    (SAMPLE, ["--workdir={run}", "--output={base}/x.npz", "--labels=3"], "not class conditional"),
    (SAMPLE, ["--workdir={run}", "--output={base}/x.npz", "--step=7"], "--step 7 has no checkpoint"),
    (SAMPLE, ["--workdir={run}", "--output={base}/x.npz", "--num_samples=0"], "must be positive"),
    (SWEEP, ["--root={base}/s1", "--grid=loss"], "not of the form field=value1,value2"),
    (SWEEP, ["--root={base}/s2", "--grid=los=hinge"], "config has no field 'los'"),
    (SWEEP, ["--root={base}/s3", "--seeds=a,b"], "comma-separated integers"),
    (SWEEP, ["--root={base}/s4", "--grid=loss=hinge,minimax"], "config.loss='minimax'"),
    (SWEEP, ["--root={base}/s5", "--grid=batch_size=8,x"], "'x' is not a valid int"),
    (SWEEP, ["--root={base}/s6", "--grid=conditional=ture"], "'ture' is not a valid bool"),
    (SWEEP, ["--root={file}"], "is a file, not a directory"),
    (AGGREGATE, ["--root={empty}"], "does not exist; pass the --root given to experiments.sweep"),
]


@pytest.mark.parametrize("module,args,expected", CASES,
                         ids=[f"{m.split('.')[-1]}-{i}" for i, (m, _, _) in enumerate(CASES)])
def test_bad_invocation(world, module, args, expected):
  before = _snapshot(world["run"])
  args = [a.format(**world) for a in args]
  result = subprocess.run([sys.executable, "-m", module] + args, cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)
  assert result.returncode != 0, result.stdout + result.stderr
  assert "Traceback" not in result.stderr, result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith(("error:", "FATAL"))]
  assert len(errors) == 1, result.stderr
  assert expected in errors[0], errors[0]
  assert _snapshot(world["run"]) == before  # no file of the earlier run changed


# ---------------------------------------------------------------------------------------------
# Issue 14: values checked at the door (gan.config.FIELDS). Most classes of bad value are tested
# by calling check_config directly (tests/test_config.py, tests/test_sweeps.py); these few check
# that the command lines turn them into one line, exit status 2 and no traceback.

# (module, arguments with {placeholders}, what the error line must say)
DOOR_CASES = [
    (TRAIN, ["--workdir={tmp}/d1", "--config={tmp}/syntax_error.py"],
     "the config file cannot be loaded: {tmp}/syntax_error.py, line 2:"),
    (TRAIN, ["--workdir={tmp}/d2", "--config.adam_b2=1.0"], "config.adam_b2=1.0 must be in [0, 1)"),
    (TRAIN, ["--workdir={tmp}/d3", "--config.data_dir={tmp}/a_file"],
     "config.data_dir='{tmp}/a_file' must be '' ($TFDS_DATA_DIR"),
    (SWEEP, ["--root={tmp}/d4", "--config=experiments/configs/toy_ring.py",
             "--grid=model_args.hidden=64,128"],
     "config.model_args.hidden takes tuples; write each value in parentheses"),
    (SWEEP, ["--root={tmp}/d5", "--grid=seed=5", "--seeds=0,1"], "--seeds and a seed in --grid"),
]


@pytest.mark.parametrize("module,args,expected", DOOR_CASES,
                         ids=[f"{m.split('.')[-1]}-door-{i}" for i, (m, _, _) in
                              enumerate(DOOR_CASES)])
def test_bad_value_at_the_door(tmp_path, module, args, expected):
  (tmp_path / "a_file").write_text("not a directory")
  (tmp_path / "syntax_error.py").write_text("def get_config():\n  return (\n")
  args = [a.format(tmp=tmp_path) for a in args]
  result = subprocess.run([sys.executable, "-m", module] + args, cwd=ROOT, env=_env(),
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 2, result.stdout + result.stderr
  assert "Traceback" not in result.stderr, result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1, result.stderr
  assert expected.format(tmp=tmp_path) in errors[0], errors[0]
  assert not os.path.exists(tmp_path / "d1") and not os.path.exists(tmp_path / "d4")


def test_load_config_module_names_the_line_of_a_broken_config(tmp_path):
  from experiments import cli  # pylint: disable=g-import-not-at-top
  from gan import config as config_lib  # pylint: disable=g-import-not-at-top
  for text, says in [("def get_config(:\n", "line 1: invalid syntax"),
                     ("x = 1\ny = undefined_name\n", "line 2: NameError: name 'undefined_name'")]:
    path = tmp_path / "broken.py"
    path.write_text(text)
    with pytest.raises(config_lib.ConfigError, match=f"{path}, {says}"):
      cli.load_config_module(str(path))


# Issue 14: evaluating a run on a read-only filesystem (a real read-only tmpfs; needs root).


def test_evaluate_on_a_read_only_workdir_refuses_before_computing(world, small_filesystem):
  with small_filesystem("64m") as disk:
    subprocess.run(["cp", "-a", world["run"], str(disk / "run")], check=True)
    small_filesystem.read_only()
    before = _snapshot(str(disk / "run"))
    refused = subprocess.run([sys.executable, "-m", EVALUATE, f"--workdir={disk}/run"], cwd=ROOT,
                             env=_env(), capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert refused.stderr.strip() == (
        f"error: cannot write the evaluation to {disk}/run/eval (Read-only file system); pass "
        "--output_dir=DIR, a directory you can write to.")
    assert "classifier" not in refused.stdout  # refused before the feature network was made
    assert _snapshot(str(disk / "run")) == before


# Issue 22: only the project's own error types are a person's mistake; anything else is a bug.


def test_a_project_error_is_one_line_and_any_other_exception_keeps_its_traceback(capsys):
  from gan import errors  # pylint: disable=g-import-not-at-top

  def mistake():
    raise errors.ConfigError("config.batch_size=0 must be a positive integer.")

  assert cli.run_reporting_errors(mistake, debug=False) == cli.EXIT_USER_ERROR
  err = capsys.readouterr().err
  assert err == "error: config.batch_size=0 must be a positive integer.\n"

  def bug():  # a shape bug deep in jnp: a ValueError/TypeError that is no user's mistake
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    return jnp.ones((2, 3)) @ jnp.ones((2, 3))

  assert cli.run_reporting_errors(bug, debug=False) == cli.EXIT_BUG
  err = capsys.readouterr().err
  assert err.startswith("Traceback (most recent call last):")
  assert "in bug" in err and "TypeError" in err and "error:" not in err
  assert err.rstrip().endswith(cli.REPORT_A_BUG)
  # A plain ValueError, an OSError without an errno, or a RuntimeError is a bug too.
  for exception in (ValueError("bad shape"), FileNotFoundError("/no/such"), RuntimeError("x")):
    def raise_it(e=exception):
      raise e
    assert cli.run_reporting_errors(raise_it, debug=False) == cli.EXIT_BUG
    assert "Traceback" in capsys.readouterr().err
  # The machine's errors (an errno and a file) are one line naming the file.
  import errno  # pylint: disable=g-import-not-at-top
  for exception in (OSError(errno.ENOSPC, "No space left on device", "/full/x.json"),
                    PermissionError(errno.EACCES, "Permission denied", "/ro/x")):
    def raise_it(e=exception):
      raise e
    assert cli.run_reporting_errors(raise_it, debug=False) == cli.EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: cannot use /") and err.count("\n") == 1, err
    assert exception.strerror in err
  # --debug shows the traceback of a project error too.
  with pytest.raises(errors.ConfigError):
    cli.run_reporting_errors(mistake, debug=True)


def test_orbax_write_tasks_reported_by_asyncio_stay_out_of_stderr():
  """After a failed checkpoint write, asyncio logs orbax's unretrieved write tasks with their
  tracebacks; the one error line already says what failed. Other asyncio records pass."""
  import logging  # pylint: disable=g-import-not-at-top
  keep = cli._NotFromOrbax()  # pylint: disable=protected-access
  orbax_task = logging.LogRecord(
      "asyncio", logging.ERROR, "/usr/lib/python3.11/asyncio/base_events.py", 1771,
      "Task exception was never retrieved\nfuture: <Task coro=<async_serialize_from_host() "
      "defined at /venv/site-packages/orbax/checkpoint/_src/serialization/serialization.py:126>",
      None, None)
  other = logging.LogRecord("asyncio", logging.ERROR, "/usr/lib/python3.11/asyncio/x.py", 1,
                            "Task exception was never retrieved: mine", None, None)
  from_orbax = logging.LogRecord("orbax", logging.ERROR,
                                 "/venv/site-packages/orbax/checkpoint/x.py", 1, "m", None, None)
  assert not keep.filter(orbax_task) and not keep.filter(from_orbax) and keep.filter(other)


# ---------------------------------------------------------------------------------------------
# Issue 23: the commands around train (sweep, aggregate, sample, latent_walk) on bad inputs and
# damaged records: one line naming what and where, exit 2, no traceback, nothing changed.

LATENT_WALK = "experiments.latent_walk"
_TOY = "from experiments.configs.toy_ring import get_config\n"


def _write(path, text):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8") as f:
    f.write(text)


def _sweep_root(root, config, runs):
  """A sweep root as `experiments.sweep` leaves it: ``runs`` is ``{name: {file: text}}``."""
  _write(os.path.join(root, "sweep.json"), json.dumps(dict(
      config=config, flag_overrides=[], runs=[dict(name=n, overrides={}) for n in runs])))
  for name, files in runs.items():
    for file, text in files.items():
      _write(os.path.join(root, name, file), text)


@pytest.fixture(scope="module")
def odd(tmp_path_factory):
  """Config files and sweep roots that are wrong in one way each."""
  base = str(tmp_path_factory.mktemp("odd"))
  os.symlink(os.path.join(base, "gone"), os.path.join(base, "dangling"))
  files = {
      "list_config.py": "def get_config():\n  return [1, 2]\n",
      "sweep_dict.py": _TOY + "def sweep():\n  return {'loss': 'hinge'}\n",
      "sweep_strings.py": _TOY + "def sweep():\n  return ['loss=hinge']\n",
      "sweep_raises.py": _TOY + "def sweep():\n  raise KeyError('points')\n",
      "bad_paper.py": _TOY + "def paper_results():\n  return {'fid': 1.0}\n",
  }
  for name, text in files.items():
    _write(os.path.join(base, name), text)
  toy = os.path.join(ROOT, "experiments", "configs", "toy_ring.py")
  good = json.dumps(dict(step=2, eval_per_seed=[{"fid": 1.0}]))
  row = json.dumps(dict(step=2, eval_per_seed=[{"fid": 1.0}], wall_seconds=1.0)) + "\n"
  _write(os.path.join(base, "cut_sweep", "sweep.json"), '{"config": "x.py", "runs": [{"na')
  _sweep_root(os.path.join(base, "shape_results"), toy, {"a": {"results.json": '{"step": "2"}'}})
  _sweep_root(os.path.join(base, "paper_root"), os.path.join(base, "bad_paper.py"),
              {"a": {"results.json": good}})
  _sweep_root(os.path.join(base, "eval_damaged"), toy,
              {"a": {"eval.jsonl": '{"step": 1, "eval_per' + "\n" + row}})
  return base


_LONG = "(" + ",".join(["1"] * 130) + ")"
ODD_CASES = [
    (TRAIN, ["--workdir={odd}/dangling"], "is a broken symlink (to {odd}/gone, which does not"),
    (TRAIN, ["--workdir={odd}/t1", "--config={odd}/list_config.py"],
     "{odd}/list_config.py: get_config() returned a list, not a ConfigDict"),
    (SWEEP, ["--root={odd}/s1", "--config={odd}/sweep_dict.py"],
     "{odd}/sweep_dict.py: sweep() must return a non-empty list of override dicts"),
    (SWEEP, ["--root={odd}/s2", "--config={odd}/sweep_strings.py"],
     "{odd}/sweep_strings.py: sweep() must return a non-empty list of override dicts"),
    (SWEEP, ["--root={odd}/s3", "--config={odd}/sweep_raises.py"],
     "{odd}/sweep_raises.py: sweep() raised KeyError: 'points'"),
    (SWEEP, ["--root={odd}/s4", "--parallel=0"], "--parallel=0 must be at least 1"),
    (SWEEP, ["--root={odd}/s5", "--parallel=2", "--config=experiments/configs/toy_ring.py",
             "--config.batch_size=16", f"--grid=model_args.hidden={_LONG}"], "(File name too long)"),
    (AGGREGATE, ["--root={odd}/cut_sweep"], "{odd}/cut_sweep/sweep.json is not valid JSON"),
    (AGGREGATE, ["--root={odd}/shape_results"],
     "{odd}/shape_results/a/results.json: step is '2', not an integer"),
    (AGGREGATE, ["--root={odd}/paper_root"],
     "{odd}/bad_paper.py: paper_results() must return a list of (overrides, values) pairs"),
    (AGGREGATE, ["--root={odd}/eval_damaged", "--trend"],
     "{odd}/eval_damaged/a/eval.jsonl, line 1, is not a row of {{'step', 'eval_per_seed'}}"),
    (SAMPLE, ["--workdir={run}", "--output={file}/x.npz"], "{file} is a file, not a directory"),
    (SAMPLE, ["--workdir={run}", "--output={odd}/big.npz", "--num_samples=1000000000000"],
     "--num_samples=1000000000000 needs about"),
    (LATENT_WALK, ["--workdir={run}", "--out={file}"], "--out {file} is a file; pass a directory"),
]


@pytest.mark.parametrize("module,args,expected", ODD_CASES,
                         ids=[f"{m.split('.')[-1]}-odd-{i}" for i, (m, _, _) in
                              enumerate(ODD_CASES)])
def test_odd_input_around_train(world, odd, module, args, expected):
  before = _snapshot(odd), _snapshot(world["run"])
  places = dict(world, odd=odd)
  result = subprocess.run([sys.executable, "-m", module] + [a.format(**places) for a in args],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
  assert result.returncode == 2, result.stdout + result.stderr
  assert "Traceback" not in result.stderr, result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1, result.stderr
  assert expected.format(**places) in errors[0], errors[0]
  assert (_snapshot(odd), _snapshot(world["run"])) == before or module == SWEEP


def test_a_platform_this_machine_lacks_is_one_line(world, tmp_path):
  for module, args in ((TRAIN, [f"--workdir={tmp_path}/run"]),
                       (SAMPLE, [f"--workdir={world['run']}", f"--output={tmp_path}/x.npz"])):
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT,
                            env=dict(_env(), JAX_PLATFORMS="gpu"), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("error: JAX cannot start the platform asked for "
                                    "(JAX_PLATFORMS=gpu): "), result.stderr
    assert not os.path.exists(tmp_path / "run")


def test_an_interrupted_last_eval_line_does_not_block_the_trend(odd):
  root = os.path.join(odd, "eval_cut")
  toy = os.path.join(ROOT, "experiments", "configs", "toy_ring.py")
  rows = "".join(json.dumps(dict(step=s, eval_per_seed=[{"fid": float(s)}])) + "\n"
                 for s in (2, 4))
  _sweep_root(root, toy, {"a": {"eval.jsonl": rows + '{"step": 6, "eval_'}})
  result = subprocess.run([sys.executable, "-m", AGGREGATE, f"--root={root}", "--trend"],
                          cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr
  assert "| base | 2 | 1 | 2.000 |" in result.stdout and "| base | 4 | 1 | 4.000 |" in result.stdout


def _run_quietly(module, *args):
  return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=_env(),
                        capture_output=True, text=True, timeout=300)


def _one_line(result, *says):
  assert result.returncode == 2, result.stdout + result.stderr
  assert "Traceback" not in result.stderr, result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith("error:")]
  assert len(errors) == 1, result.stderr
  for said in says:
    assert said in errors[0], errors[0]


def test_read_only_and_full_disks_around_train(world, small_filesystem):
  """Real filesystems: a read-only one, and one that is full."""
  toy = ["--config=experiments/configs/toy_ring.py", "--config.batch_size=16"]
  with small_filesystem("8m") as disk:
    _sweep_root(str(disk / "done"), os.path.join(ROOT, "experiments/configs/toy_ring.py"),
                {"a": {"results.json": json.dumps(dict(step=2, eval_per_seed=[{"fid": 1.0}]))}})
    (disk / "empty_root").mkdir()
    small_filesystem.read_only()
    _one_line(_run_quietly(AGGREGATE, f"--root={disk}/done"),
              f"{disk}/done/summary.md", "(Read-only file system)")
    _one_line(_run_quietly(SWEEP, f"--root={disk}/empty_root", *toy), "Read-only file system")
    _one_line(_run_quietly(SWEEP, f"--root={disk}/new_root", *toy),
              "cannot be created (Read-only file system)")
    _one_line(_run_quietly(SAMPLE, f"--workdir={world['run']}", f"--output={disk}/x.npz"),
              f"{disk} is not writable")
    _one_line(_run_quietly(TRAIN, f"--workdir={disk}/run", *toy), "cannot be created")
  with small_filesystem("64k") as disk:
    (disk / "root").mkdir()
    from tests.test_writers import fill  # pylint: disable=g-import-not-at-top
    fill(str(disk))
    _one_line(_run_quietly(SWEEP, f"--root={disk}/root", *toy), "No space left on device")
    _one_line(_run_quietly(TRAIN, f"--workdir={disk}/run", *toy, "--config.num_steps=2"),
              "No space left on device")
    _one_line(_run_quietly(SAMPLE, f"--workdir={world['run']}", f"--output={disk}/x.npz"),
              "needs about", "GB free")


def test_sample_of_a_damaged_run_changes_nothing(tmp_path):
  """The newest checkpoint damaged: sample (evaluate reads the same way) reads the one before,
  says so, and leaves the run as it was (training sets the damaged step aside when it
  resumes)."""
  run = str(tmp_path / "run")
  subprocess.run([sys.executable, "-m", TRAIN, f"--workdir={run}", "--config.model=mlp",
                  "--config.batch_size=8",
                  "--config.num_steps=4", "--config.checkpoint_every=2", "--config.sample_every=0",
                  f"--config.data_dir={tmp_path}/tfds"], cwd=ROOT, env=_env(), check=True,
                 capture_output=True)
  _write(os.path.join(run, "checkpoints", "4", "meta", "metadata"), "damaged")
  before = _snapshot(run)
  done = _run_quietly(SAMPLE, f"--workdir={run}", "--num_samples=3",
                      f"--output={tmp_path}/x.npz")
  assert done.returncode == 0, done.stderr
  assert "read checkpoint step 2, the newest good one; the newer step(s) 4 are damaged" in (
      done.stdout) and "(step 2," in done.stdout
  assert _snapshot(run) == before and not os.path.exists(os.path.join(run, "damaged_checkpoints"))
