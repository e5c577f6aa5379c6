r"""The import graph of gan/, read from the source (every `gan.*` import: module level, inside
functions, under ``if TYPE_CHECKING``), with its circles and each module's floor.

  python tools/import_graph.py          # floors, bottom first, and any circle

A module's floor is 1 + the highest floor it imports from (a package's ``__init__`` counts as the
modules it re-exports). `tests/test_architecture.py` holds the rules of shared/ARCHITECTURE.md
against this graph.
"""

from __future__ import annotations

import ast
import collections
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def modules(package: str = "gan") -> dict[str, str]:
  """``{module name: path}`` of every module of ``package``."""
  found = {}
  for directory, _, files in os.walk(os.path.join(ROOT, package)):
    for name in files:
      if name.endswith(".py"):
        path = os.path.join(directory, name)
        module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
        found[module[:-len(".__init__")] if module.endswith(".__init__") else module] = path
  return found


def graph(package: str = "gan") -> dict[str, set[str]]:
  """``{module: the modules of package it imports}``."""
  mods = modules(package)
  edges = collections.defaultdict(set)
  for name, path in mods.items():
    with open(path, encoding="utf-8") as f:
      tree = ast.parse(f.read())
    here = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    for node in ast.walk(tree):
      if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
      elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
          parts = here.split(".")[:len(here.split(".")) - node.level + 1]
          base = ".".join(parts + ([base] if base else []))
        targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
      else:
        continue
      for target in targets:
        while target and target not in mods:
          target = target.rpartition(".")[0]
        if target and target != name:
          edges[name].add(target)
  return {name: edges[name] for name in mods}


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
  """The strongly connected components of more than one module (Tarjan)."""
  index, low, stack, on_stack, found = {}, {}, [], set(), []

  def visit(v):
    index[v] = low[v] = len(index)
    stack.append(v)
    on_stack.add(v)
    for w in edges.get(v, ()):
      if w not in index:
        visit(w)
        low[v] = min(low[v], low[w])
      elif w in on_stack:
        low[v] = min(low[v], index[w])
    if low[v] == index[v]:
      component = []
      while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == v:
          break
      if len(component) > 1:
        found.append(sorted(component))

  sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
  for v in edges:
    if v not in index:
      visit(v)
  return found


def floors(edges: dict[str, set[str]]) -> dict[str, int]:
  """Each module's floor (the graph must have no circle)."""
  memo = {}

  def floor(v):
    if v not in memo:
      memo[v] = 1 + max((floor(w) for w in edges[v]), default=0)
    return memo[v]

  return {v: floor(v) for v in edges}


def main() -> int:
  edges = graph()
  found = circles(edges)
  if found:
    print("circles:", "; ".join(" <-> ".join(c) for c in found))
    return 1
  for module, level in sorted(floors(edges).items(), key=lambda kv: (kv[1], kv[0])):
    print(f"floor {level:2d}  {module}: {', '.join(sorted(edges[module])) or '-'}")
  print("no circle")
  return 0


if __name__ == "__main__":
  sys.exit(main())
