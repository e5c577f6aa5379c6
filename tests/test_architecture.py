"""The house rules of shared/ARCHITECTURE.md, held against gan/'s import graph as the code has it
(`tools/import_graph.py` reads every import, those inside functions included)."""

import ast
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    "import_graph", os.path.join(ROOT, "tools", "import_graph.py"))
import_graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(import_graph)
EDGES = import_graph.graph()


def reaches(module: str) -> set[str]:
  """Every module ``module`` imports, directly or through others."""
  seen, todo = set(), [module]
  while todo:
    for target in EDGES[todo.pop()]:
      if target not in seen:
        seen.add(target)
        todo.append(target)
  return seen


def test_there_is_no_import_circle_in_gan():
  assert import_graph.circles(EDGES) == []


@pytest.mark.parametrize("storage", ["gan.checkpointing", "gan.workdir"])
def test_storage_is_on_the_ground_floor(storage):
  """Storage knows files and pytrees, not what they mean: it imports the error types only."""
  assert EDGES[storage] <= {"gan.errors"}


@pytest.mark.parametrize("module,never", [
    ("gan.step", {"gan.loop", "gan.runs", "gan.config"}),
    ("gan.models", {"gan.step", "gan.losses", "gan.config", "gan.loop"}),
    ("gan.losses", {"gan.models", "gan.step"}),
    ("gan.latent", {"gan.models", "gan.step", "gan.loop"}),
    ("gan.metrics", {"gan.models", "gan.step", "gan.loop"}),
    ("gan.data", {"gan.models", "gan.metrics", "gan.evaluation"}),
    ("gan.evaluation", {"gan.loop", "gan.config", "gan.runs"}),
    ("gan.errors", {m for m in EDGES if m != "gan.errors"}),
    ("gan.registry", {m for m in EDGES if m not in ("gan.registry", "gan.errors")}),
])
def test_layers_never_reach_up(module, never):
  assert not reaches(module) & never, sorted(reaches(module) & never)


def test_the_library_never_imports_experiments():
  for module, path in import_graph.modules().items():
    with open(path, encoding="utf-8") as f:
      tree = ast.parse(f.read())
    for node in ast.walk(tree):
      names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
               [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
      assert not any(n.split(".")[0] == "experiments" for n in names), module
