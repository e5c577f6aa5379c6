r"""Module and function sizes of gan/ at a git revision (default: the work tree).

  python tools/code_sizes.py [REV] [--top N]

Prints each module's lines and its longest functions (lines from ``def`` to the last line), for
comparing a redesign's before and after.
"""

from __future__ import annotations

import ast
import subprocess
import sys


def sources(rev: str | None) -> dict[str, str]:
  if rev is None:
    files = subprocess.run(["git", "ls-files", "gan"], capture_output=True, text=True,
                           check=True).stdout.split()
    files += subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "gan"],
                            capture_output=True, text=True, check=True).stdout.split()
    return {f: open(f, encoding="utf-8").read() for f in files if f.endswith(".py")}
  files = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "gan"], capture_output=True,
                         text=True, check=True).stdout.split()
  return {f: subprocess.run(["git", "show", f"{rev}:{f}"], capture_output=True, text=True,
                            check=True).stdout for f in files if f.endswith(".py")}


def functions(text: str) -> list[tuple[int, str]]:
  out = []
  for node in ast.walk(ast.parse(text)):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
      out.append((node.end_lineno - node.lineno + 1, node.name))
  return sorted(out, reverse=True)


def main(argv) -> None:
  rev = next((a for a in argv[1:] if not a.startswith("--")), None)
  top = int(next((a.split("=")[1] for a in argv[1:] if a.startswith("--top=")), "10"))
  texts = sources(rev)
  total = 0
  for path in sorted(texts):
    total += texts[path].count("\n")
  every = sorted(((n, f"{path}:{name}") for path, text in texts.items()
                  for n, name in functions(text)), reverse=True)
  print(f"{rev or 'work tree'}: {len(texts)} modules, {total} lines; longest functions:")
  for n, name in every[:top]:
    print(f"  {n:4d}  {name}")


if __name__ == "__main__":
  main(sys.argv)
