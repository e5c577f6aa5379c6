"""Tests that the documentation names real config fields: every ``--config.<name>`` override in
README.md and in the docstrings, comments and strings of experiments/, experiments/configs/,
benchmarks/ and gan/ is a field (dotted names walk into nested ConfigDicts) of the config it
would override.

Which config that is: the config file named in the same command (``--config
experiments/configs/X.py`` on the same line, continuation lines and inline code spans included),
else `experiments.configs.common.base_config()`, else any config file of experiments/configs/
(the autoencoder configs have fields of their own).
"""

import functools
import glob
import io
import os
import re
import tokenize

import ml_collections
import pytest

from experiments import cli
from experiments.configs import common

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(ROOT, "experiments", "configs")

# Names that stand for "a field" in prose (``--config.field=value``, ``--config.x=``).
PLACEHOLDERS = frozenset({"field", "x"})
_OVERRIDE = re.compile(r"--config\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)")
_CONFIG_FILE = re.compile(r"--config[\s=]+(?:\S*/)?(experiments/configs/\w+\.py)\b")


def documented_files():
  patterns = ["README.md", "experiments/*.py", "experiments/configs/*.py", "benchmarks/*.py",
              "gan/**/*.py"]
  return sorted(os.path.relpath(p, ROOT) for pattern in patterns
                for p in glob.glob(os.path.join(ROOT, pattern), recursive=True))


def prose_of(path):
  """``[(first line number, text)]``: a Markdown file whole; a Python file's comments (a run of
  comment lines as one text) and string literals, docstrings included."""
  with open(os.path.join(ROOT, path), encoding="utf-8") as f:
    source = f.read()
  if not path.endswith(".py"):
    return [(1, source)]
  texts, comments = [], []
  for token in tokenize.generate_tokens(io.StringIO(source).readline):
    if token.type == tokenize.COMMENT:
      if comments and comments[-1][0] == token.start[0] - 1:
        comments[-1] = (token.start[0], comments[-1][1] + "\n" + token.string.lstrip("#"))
      else:
        comments.append((token.start[0], token.string.lstrip("#")))
    elif token.type == tokenize.STRING:
      texts.append((token.start[0], token.string))
  # A comment block's number is its last line; give back its first.
  texts += [(line - text.count("\n"), text) for line, text in comments]
  return texts


def commands_of(text):
  """``[(line offset, command)]``: ``text`` cut into logical lines: a line ending in a backslash
  goes on with the next, as does one inside an inline code span that the line leaves open, or
  one ending in ``--config`` (its file on the next line)."""
  commands, current, start = [], "", 0
  for offset, line in enumerate(text.split("\n")):
    if not current:
      start = offset
    current = f"{current} {line.strip()}" if current else line
    stripped = current.rstrip()
    open_span = len(re.findall(r"`+", re.sub(r"```.*", "", stripped))) % 2 == 1
    if stripped.endswith("\\") or stripped.endswith("--config") or open_span:
      current = stripped.rstrip("\\")
      continue
    commands.append((start, current))
    current = ""
  if current:
    commands.append((start, current))
  return commands


def mentions():
  """``[(where, name, config file or None)]`` for every ``--config.<name>`` in the docs."""
  found = []
  for path in documented_files():
    for first_line, text in prose_of(path):
      for offset, command in commands_of(text):
        named = _CONFIG_FILE.search(command)
        for match in _OVERRIDE.finditer(command):
          if match.group(1) not in PLACEHOLDERS:
            found.append((f"{path}:{first_line + offset}", match.group(1),
                          named.group(1) if named else None))
  return found


@functools.lru_cache(maxsize=None)
def config_of(path):
  return cli.load_config_module(os.path.join(ROOT, path)).get_config()


@functools.lru_cache(maxsize=None)
def all_configs():
  return tuple(config_of(os.path.relpath(p, ROOT))
               for p in sorted(glob.glob(os.path.join(CONFIGS, "*.py")))
               if hasattr(cli.load_config_module(p), "get_config"))


def has_field(config, name):
  node = config
  for part in name.split("."):
    if not hasattr(node, "keys") or part not in node.keys():
      return False
    node = node[part]
  return True


def test_the_docs_name_overrides_and_config_files():
  """The scan finds what it is for: dotted names, files named on a continuation line."""
  found = mentions()
  assert len(found) >= 20
  assert any(where.startswith("README.md:") for where, _, _ in found)
  assert ("experiments/configs/pacgan_ring.py", "pack") in {
      (config, name) for where, name, config in found if where.startswith("experiments/configs/")}
  text = ("python -m experiments.train --workdir W \\\n"
          "    --config experiments/configs/toy_ring.py --config.model_args.hidden='(8,)'\n"
          "`--config.a=1 --config\nexperiments/configs/toy_grid.py` then --config.x= and --config.b")
  assert [(offset, _OVERRIDE.findall(c), _CONFIG_FILE.findall(c))
          for offset, c in commands_of(text)] == [
              (0, ["model_args.hidden"], ["experiments/configs/toy_ring.py"]),
              (2, ["a", "x", "b"], ["experiments/configs/toy_grid.py"])]


def test_every_documented_override_is_a_config_field():
  base = common.base_config()
  wrong = []
  for where, name, config_file in mentions():
    if config_file and os.path.exists(os.path.join(ROOT, config_file)):
      known = has_field(config_of(config_file), name)
      against = config_file
    else:
      known = has_field(base, name) or any(has_field(c, name) for c in all_configs())
      against = "base_config() or any experiments/configs/ file"
    if not known:
      wrong.append(f"{where}: --config.{name} is not a field of {against}")
  assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("name, present", [("a", True), ("a.b", True), ("a.c", False),
                                           ("a.b.c", False), ("d", False)])
def test_has_field_walks_dotted_names(name, present):
  assert has_field(ml_collections.ConfigDict({"a": {"b": 1}}), name) is present
