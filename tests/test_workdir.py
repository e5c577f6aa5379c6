"""Tests for gan/workdir.py: the claim (lock, layout, saved config) and the resume truncation."""

import json
import os
import re

import pytest

from experiments.configs import common
from gan import config as config_lib
from gan import workdir as workdir_lib
from gan.config import ConfigError


def config(**overrides):
  c = common.base_config()
  c.update(overrides)
  return c


def claim(c, workdir, **kwargs):
  """The claim as the loop makes it: refusing a saved config that `gan.config` finds different."""
  return workdir_lib.claim(c, workdir, **kwargs, differences=lambda saved: (
      config_lib.config_differences(saved, c.to_dict())))


def test_commit_writes_the_config_and_a_resume_may_change_only_the_budget(tmp_path):
  workdir = str(tmp_path / "run")
  with claim(config(), workdir) as held:
    assert not os.path.exists(os.path.join(workdir, "config.json"))  # not before the run starts
    held.commit()
  assert json.load(open(os.path.join(workdir, "config.json")))["loss"] == "non_saturating"
  with claim(config(num_steps=100), workdir):
    pass
  with pytest.raises(ConfigError, match=r"loss: 'non_saturating' -> 'hinge'; seed: 0 -> 1"):
    claim(config(loss="hinge", seed=1), workdir)


def test_an_uncommitted_claim_leaves_no_trace(tmp_path):
  workdir = str(tmp_path / "run")
  with pytest.raises(RuntimeError):
    with claim(config(), workdir):
      raise RuntimeError("the run failed before it could start")
  assert not os.path.exists(workdir)  # the corrected command starts afresh
  existing = tmp_path / "existing"
  existing.mkdir()
  with claim(config(), str(existing)):
    pass
  assert existing.is_dir() and not (existing / "config.json").exists()


def test_a_second_trainer_is_refused_until_the_first_ends(tmp_path):
  workdir = str(tmp_path / "run")
  first = claim(config(), workdir)
  first.commit()
  with pytest.raises(ConfigError, match=rf"in use by another run \(process {os.getpid()}\)"):
    claim(config(), workdir)
  first.release()
  with claim(config(), workdir):
    pass


def test_workdir_that_is_a_file_is_refused(tmp_path):
  path = tmp_path / "file"
  path.write_text("not a directory")
  with pytest.raises(ConfigError, match="is a file, not a directory"):
    claim(config(), str(path))
  assert path.read_text() == "not a directory"


@pytest.mark.parametrize("name,make,kind", [
    ("tensorboard", lambda p: p.write_text("x"), "not a directory"),
    ("samples", lambda p: p.write_text("x"), "not a directory"),
    ("damaged_checkpoints", lambda p: p.write_text("x"), "not a directory"),
    ("checkpoints", lambda p: os.symlink(str(p), str(p)), "a broken or looping symlink"),
    ("metrics.jsonl", lambda p: p.mkdir(), "a directory"),
    ("config.json", lambda p: p.mkdir(), "a directory"),
])
def test_an_entry_of_the_wrong_kind_is_named(tmp_path, name, make, kind):
  make(tmp_path / name)
  with pytest.raises(ConfigError, match=rf"{tmp_path / name} is {kind}, but a run keeps"):
    claim(config(), str(tmp_path))


@pytest.mark.parametrize("text,problem", [
    ('{"loss": "hinge"', r"is not valid JSON \(Expecting ',' delimiter at line 1, column 17\)"),
    ("[1, 2]", "holds a JSON list, not a saved config"),
    ("\udcff".encode("utf-8", "surrogateescape"), "is not text"),
])
def test_a_damaged_config_json_is_named_and_kept(tmp_path, text, problem):
  path = tmp_path / "config.json"
  path.write_bytes(text if isinstance(text, bytes) else text.encode())
  before = path.read_bytes()
  with pytest.raises(ConfigError, match=rf"{path} {problem}"):
    claim(config(), str(tmp_path))
  with pytest.raises(ConfigError, match=problem):
    workdir_lib.read_config(str(tmp_path))
  assert path.read_bytes() == before


def test_a_run_without_its_config_is_not_resumed_under_another(tmp_path):
  (tmp_path / "checkpoints" / "2").mkdir(parents=True)
  (tmp_path / "metrics.jsonl").write_text('{"step": 2}\n')
  with pytest.raises(ConfigError, match=r"holds a run's files \(checkpoints/, metrics.jsonl\) "
                     r"but no config.json"):
    claim(config(), str(tmp_path))
  assert not (tmp_path / "config.json").exists()
  # An empty checkpoints directory (a run that failed before its first checkpoint) is no run.
  empty = tmp_path / "empty"
  (empty / "checkpoints").mkdir(parents=True)
  with claim(config(), str(empty)) as held:
    held.commit()


def test_read_config_names_what_is_missing(tmp_path):
  with pytest.raises(ConfigError, match="holds no training run"):
    workdir_lib.read_config(str(tmp_path))
  with pytest.raises(ConfigError, match="holds no training run \\(there is no such directory"):
    workdir_lib.read_config(str(tmp_path / "absent"))
  (tmp_path / "file").write_text("x")
  with pytest.raises(ConfigError, match="is a file, not a directory"):
    workdir_lib.read_config(str(tmp_path / "file"))


def test_truncate_jsonl_drops_replayed_steps_and_a_cut_line(tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text('{"step": 2, "a": 1}\n{"step": 4, "a": 2}\n{"step": 6, "a": 3}\n{"step": 8, "a"')
  workdir_lib.truncate_jsonl(str(path), 4)
  assert path.read_text() == '{"step": 2, "a": 1}\n{"step": 4, "a": 2}\n'
  workdir_lib.truncate_jsonl(str(path), 4)  # nothing past step 4: unchanged
  assert path.read_text() == '{"step": 2, "a": 1}\n{"step": 4, "a": 2}\n'
  workdir_lib.truncate_jsonl(str(tmp_path / "absent.jsonl"), 0)  # no file: nothing to do


# ---------------------------------------------------------------------------------------------
# Issue 23: record files read by one reader each, every error naming the file; readers of a run
# change nothing, and read a run being trained at its newest complete checkpoint.


def test_a_cut_last_line_of_eval_jsonl_is_skipped_and_a_damaged_one_is_named(tmp_path):
  workdir = str(tmp_path)
  path = os.path.join(workdir, workdir_lib.EVAL_FILE)
  workdir_lib.append_eval(workdir, 2, [{"fid": 3.0}], 1.0)
  workdir_lib.append_eval(workdir, 4, [{"fid": 2.0}], 2.0)
  whole = open(path, encoding="utf-8").read()
  for cut in range(len(whole) - 40, len(whole) - 1):  # a kill mid-line: the rows before stand
    with open(path, "w", encoding="utf-8") as f:
      f.write(whole[:cut])
    assert list(workdir_lib.read_eval_history(workdir)) == [2], whole[:cut]
  for damaged, line in ((whole.replace('"step": 2', '"step": "2"'), 1),
                        ("garbage\n" + whole, 1),
                        (whole.replace("\n", "\n{\"step\": 3}\n", 1), 2)):
    with open(path, "w", encoding="utf-8") as f:
      f.write(damaged)
    with pytest.raises(workdir_lib.BadFileError, match=re.escape(f"{path}, line {line}")):
      workdir_lib.read_eval_history(workdir)


@pytest.mark.parametrize("results,message", [
    ({"step": "2"}, "step is '2', not an integer"),
    ({"step": 2, "eval_per_seed": {"fid": 1}}, "not a list of one metrics dict per seed"),
    ({"step": 2, "train_per_seed": [1.0]}, "not a list of one metrics dict per seed")])
def test_results_json_of_the_wrong_shape_is_named(tmp_path, results, message):
  workdir_lib.write_results(str(tmp_path), results)
  with pytest.raises(workdir_lib.BadFileError, match=re.escape(
      os.path.join(str(tmp_path), "results.json")) + ".*" + re.escape(message)):
    workdir_lib.read_results(str(tmp_path))


def test_a_dangling_workdir_symlink_is_called_one(tmp_path):
  link = tmp_path / "run"
  link.symlink_to(tmp_path / "gone")
  for call in (lambda: claim(config(), str(link)), lambda: workdir_lib.read_config(str(link))):
    with pytest.raises(ConfigError, match="is a broken symlink"):
      call()


def test_trainer_holding_names_the_trainer_and_reads_only(tmp_path):
  workdir = str(tmp_path / "run")
  assert workdir_lib.trainer_holding(workdir) is None
  with claim(config(), workdir) as held:
    held.commit()
    assert workdir_lib.trainer_holding(workdir) == str(os.getpid())
  assert workdir_lib.trainer_holding(workdir) is None
