r"""Mutation testing of the library: does the suite notice a realistic one-line bug?

  python tools/mutate.py [--modules step,losses,models,metrics] [--per_module 60] [--seed 0] \
      [--jobs 1] [--out tools/mutation_results.json]

Each mutant is one small change to one library file (an arithmetic or comparison operator
swapped, a constant changed, a boolean flipped, an `and`/`or` swapped, a statement deleted, a
keyword argument dropped), applied in a scratch copy of the repository, never in the checkout.
The test modules that mirror the mutated module run against it (`-x`, fast tests only); the
mutant is *killed* when they fail or time out, and *survives* when they pass. The score is
killed / (killed + survived). Mutants that do not import (syntax) are discarded.

Mutants are sampled: all candidate sites of a module are enumerated in a fixed order and
``--per_module`` of them are drawn with ``--seed``, so a run is reproducible and a rerun with the
same arguments tests the same mutants. Not part of CI: a full run takes tens of minutes.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import dataclasses
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Library module (glob relative to the root) -> the test modules that must catch its bugs.
TARGETS = {
    "step": (["gan/step.py"], ["tests/test_step.py", "tests/test_parallel.py"]),
    "losses": (["gan/losses.py"], ["tests/test_losses.py"]),
    "models": (["gan/models/layers.py", "gan/models/mlp.py", "gan/models/dcgan.py",
                "gan/models/registry.py", "gan/models/__init__.py"],
               ["tests/test_models.py", "tests/test_step.py"]),
    "metrics": (["gan/metrics.py"], ["tests/test_metrics.py"]),
}

_BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
           ast.FloorDiv: ast.Div, ast.Pow: ast.Mult, ast.Mod: ast.FloorDiv,
           ast.BitXor: ast.BitOr, ast.RShift: ast.LShift, ast.LShift: ast.RShift}
_CMPOPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
           ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
           ast.Is: ast.IsNot, ast.IsNot: ast.Is}


@dataclasses.dataclass
class Mutant:
  path: str
  line: int
  kind: str
  before: str
  after: str
  start: int  # character offsets into the file
  end: int
  status: str = ""
  seconds: float = 0.0


def _offsets(source: str) -> list[int]:
  starts, total = [], 0
  for line in source.splitlines(keepends=True):
    starts.append(total)
    total += len(line)
  return starts


def _span(node, starts):
  return (starts[node.lineno - 1] + node.col_offset,
          starts[node.end_lineno - 1] + node.end_col_offset)


def _is_docstring(node, parents) -> bool:
  parent = parents.get(node)
  return (isinstance(parent, ast.Expr) and isinstance(parents.get(parent), (
      ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)))


def candidates(path: str, root: str = ROOT) -> list[Mutant]:
  """Every mutation site of one file, in source order."""
  with open(os.path.join(root, path), encoding="utf-8") as f:
    source = f.read()
  tree = ast.parse(source)
  starts = _offsets(source)
  parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
  found = []

  def add(node, kind, replacement):
    start, end = _span(node, starts)
    found.append(Mutant(path, node.lineno, kind, source[start:end], replacement, start, end))

  def in_function(node):
    while node in parents:
      node = parents[node]
      if isinstance(node, (ast.FunctionDef, ast.Lambda)):
        return True
    return False

  for node in ast.walk(tree):
    if not in_function(node):
      continue  # module-level constants, imports and registrations are configuration
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
      mutated = ast.BinOp(node.left, _BINOPS[type(node.op)](), node.right)
      add(node, "binop", "(" + ast.unparse(mutated) + ")")
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMPOPS:
      mutated = ast.Compare(node.left, [_CMPOPS[type(node.ops[0])]()], node.comparators)
      add(node, "compare", "(" + ast.unparse(mutated) + ")")
    elif isinstance(node, ast.BoolOp):
      mutated = ast.BoolOp(ast.Or() if isinstance(node.op, ast.And) else ast.And(), node.values)
      add(node, "boolop", "(" + ast.unparse(mutated) + ")")
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.Not)):
      add(node, "unary", "(" + ast.unparse(node.operand) + ")")
    elif isinstance(node, ast.Constant) and not _is_docstring(node, parents):
      value = node.value
      if isinstance(value, bool):
        add(node, "constant", repr(not value))
      elif isinstance(value, int):
        add(node, "constant", repr(value + 1))
      elif isinstance(value, float):
        add(node, "constant", repr(0.0 if value == 1.0 else (1.0 if value == 0.0 else value * 2)))
    elif isinstance(node, ast.keyword) and node.arg not in (None, "name") and \
        isinstance(parents.get(node), ast.Call):
      call = parents[node]
      mutated = ast.Call(call.func, call.args, [k for k in call.keywords if k is not node])
      add(call, "drop_keyword", ast.unparse(mutated))
    elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Expr, ast.Return)) and \
        not _is_docstring(getattr(node, "value", None), parents) and \
        isinstance(parents.get(node), (ast.FunctionDef, ast.For, ast.If, ast.With)):
      if isinstance(node, ast.Return):
        continue  # a deleted return is rarely realistic; `return None` is
      if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
          isinstance(node.targets[0], ast.Name):
        # Realistic form of a forgotten update: the name keeps its earlier value (or is unbound).
        add(node, "delete_statement", "pass")
      elif isinstance(node, (ast.AugAssign, ast.Expr)):
        add(node, "delete_statement", "pass")
  found.sort(key=lambda m: (m.start, m.kind))
  return found


def _scratch_copy(root: str = ROOT) -> str:
  scratch = tempfile.mkdtemp(prefix="jaxgan_mutant_")
  for name in ("gan", "tests", "experiments", "setup.cfg"):
    source = os.path.join(root, name)
    target = os.path.join(scratch, name)
    if os.path.isdir(source):
      shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    else:
      shutil.copy(source, target)
  return scratch


def run_mutant(mutant: Mutant, tests: list[str], timeout: float, root: str = ROOT) -> Mutant:
  scratch = _scratch_copy(root)
  try:
    path = os.path.join(scratch, mutant.path)
    with open(path, encoding="utf-8") as f:
      source = f.read()
    mutated = source[:mutant.start] + mutant.after + source[mutant.end:]
    try:
      ast.parse(mutated)
    except SyntaxError:
      mutant.status = "invalid"
      return mutant
    with open(path, "w", encoding="utf-8") as f:
      f.write(mutated)
    env = dict(os.environ, PYTHONPATH=scratch, PYTHONDONTWRITEBYTECODE="1",
               JAX_COMPILATION_CACHE_DIR=os.path.join(ROOT, ".jax_cache"))
    start = time.perf_counter()
    try:
      result = subprocess.run(
          [sys.executable, "-m", "pytest", "-x", "-q", "-m", "not slow", "-p", "no:cacheprovider",
           "-n", "0", *tests], cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout)
      if result.returncode == 0:
        mutant.status = "survived"
      elif "ModuleNotFoundError" in result.stdout or "ImportError while" in result.stdout:
        mutant.status = "invalid"
      else:
        mutant.status = "killed"
    except subprocess.TimeoutExpired:
      mutant.status = "killed (timeout)"
    mutant.seconds = time.perf_counter() - start
    return mutant
  finally:
    shutil.rmtree(scratch, ignore_errors=True)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--modules", default=",".join(TARGETS))
  parser.add_argument("--per_module", type=int, default=60)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--jobs", type=int, default=1)
  parser.add_argument("--timeout", type=float, default=600.0)
  parser.add_argument("--out", default=os.path.join(ROOT, "tools", "mutation_results.json"))
  parser.add_argument("--list", action="store_true", help="print the sampled mutants and stop")
  parser.add_argument("--rerun", default=None,
                      help="a results file: run again only its survivors, against today's tests")
  parser.add_argument("--base", default="HEAD",
                      help="with --rerun: the commit the results file's mutants were made from")
  args = parser.parse_args()
  if args.rerun:
    rerun(args.rerun, args.jobs, args.timeout, args.base)
    return
  # One snapshot of the tree for the whole run: edits in the checkout meanwhile change nothing.
  snapshot = _scratch_copy()
  plan = []
  for module in args.modules.split(","):
    files, tests = TARGETS[module]
    sites = [m for path in files for m in candidates(path, snapshot)]
    rng = random.Random(f"{args.seed}:{module}")
    chosen = rng.sample(sites, min(args.per_module, len(sites)))
    chosen.sort(key=lambda m: (m.path, m.start))
    plan += [(module, m, tests) for m in chosen]
    print(f"{module}: {len(sites)} sites, {len(chosen)} sampled", flush=True)
  if args.list:
    shutil.rmtree(snapshot, ignore_errors=True)
    for module, m, _ in plan:
      print(f"{module} {m.path}:{m.line} {m.kind}: {m.before!r} -> {m.after!r}")
    return
  results = []
  with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
    futures = [pool.submit(run_mutant, m, tests, args.timeout, snapshot) for _, m, tests in plan]
    for (module, _, _), future in zip(plan, futures):
      m = future.result()
      results.append(dict(module=module, **dataclasses.asdict(m)))
      print(f"{m.status:16s} {m.seconds:5.0f}s {m.path}:{m.line} {m.kind}: "
            f"{m.before[:60]!r} -> {m.after[:60]!r}", flush=True)
      with open(args.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
  for module in args.modules.split(","):
    rows = [r for r in results if r["module"] == module]
    killed = sum(r["status"].startswith("killed") for r in rows)
    survived = sum(r["status"] == "survived" for r in rows)
    print(f"{module}: {killed} killed, {survived} survived, "
          f"score {killed / max(1, killed + survived):.1%}")
  shutil.rmtree(snapshot, ignore_errors=True)
  killed = sum(r["status"].startswith("killed") for r in results)
  survived = sum(r["status"] == "survived" for r in results)
  print(f"all: {killed} killed, {survived} survived, score {killed / max(1, killed + survived):.1%}")


def _relocate(record: dict, old_source: str, new_source: str) -> Optional[dict]:
  """The mutant's offsets in today's file: its text with 60 characters of context either side
  must occur once in the new source (None otherwise)."""
  start, end = record["start"], record["end"]
  for margin in (60, 120, 240):
    context = old_source[max(0, start - margin):end + margin]
    at = new_source.find(context)
    if at >= 0 and new_source.find(context, at + 1) < 0:
      offset = at - max(0, start - margin)
      return dict(record, start=start + offset, end=end + offset,
                  line=new_source.count("\n", 0, start + offset) + 1)
  return None


def rerun(path: str, jobs: int, timeout: float, base: str) -> None:
  """Runs the survivors of an earlier results file again (the same mutants, today's tests and
  code; each mutant is moved to where its text stands today), and records their new status."""
  with open(path, encoding="utf-8") as f:
    results = json.load(f)
  snapshot = _scratch_copy()
  survivors = []
  for r in results:
    if r["status"] != "survived":
      continue
    old = subprocess.run(["git", "show", f"{base}:{r['path']}"], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    with open(os.path.join(snapshot, r["path"]), encoding="utf-8") as f:
      moved = _relocate(r, old, f.read())
    if moved is None:
      r["status"] = "unplaced"
      print(f"unplaced         {r['path']}:{r['line']}: {r['before'][:60]!r}", flush=True)
      continue
    r.update(start=moved["start"], end=moved["end"], line=moved["line"])
    survivors.append(r)
  fields = {f.name for f in dataclasses.fields(Mutant)}
  with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
    futures = [pool.submit(run_mutant, Mutant(**{k: v for k, v in r.items() if k in fields}),
                           TARGETS[r["module"]][1], timeout, snapshot) for r in survivors]
    for record, future in zip(survivors, futures):
      m = future.result()
      record["status"], record["seconds"] = m.status, m.seconds
      print(f"{m.status:16s} {m.path}:{m.line} {m.kind}: {m.before[:60]!r} -> "
            f"{m.after[:60]!r}", flush=True)
  shutil.rmtree(snapshot, ignore_errors=True)
  with open(path, "w", encoding="utf-8") as f:
    json.dump(results, f, indent=1)


if __name__ == "__main__":
  main()
