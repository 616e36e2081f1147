"""The shape of the swarmcheck package in figures: modules, lines per package, the longest
functions, import circles, and where the option ``--swarm-engine-image`` is spelled.

Reads the source only (nothing is imported or run), so it measures any checkout:

    python -m benchmarks.structure                      # this checkout's swarmcheck/
    python -m benchmarks.structure --package OTHER/swarmcheck --top 10
"""

from __future__ import annotations

import argparse
import ast
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tests.layers import import_circles

ROOT = Path(__file__).resolve().parent.parent
LONG = 50
"""A function of more lines than this is counted as long."""
FLAG = "engine-image"
"""The option whose spellings are counted: ``--swarm-engine-image`` (and set-up's twin)."""


@dataclass(frozen=True)
class Function:
    lines: int
    where: str
    name: str


def functions(package: Path) -> list[Function]:
    """Every function and method, longest first (lines from ``def`` to its last line)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                where = f"{path.relative_to(package.parent)}:{node.lineno}"
                found.append(Function(node.end_lineno - node.lineno + 1, where, node.name))
    return sorted(found, key=lambda f: (-f.lines, f.where))


def lines_per_package(package: Path) -> dict[str, int]:
    """Lines of each subpackage (``cluster``) and of the top-level modules together."""
    lines: Counter[str] = Counter()
    for path in package.rglob("*.py"):
        parts = path.relative_to(package).parts
        lines[parts[0] if len(parts) > 1 else "(top-level modules)"] += len(
            path.read_text().splitlines()
        )
    return dict(sorted(lines.items(), key=lambda kv: -kv[1]))


def spellings(package: Path, flag: str = FLAG) -> dict[str, int]:
    """Files whose string literals (docstrings aside) spell ``flag``, and how many each."""
    found: Counter[str] = Counter()
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
        for node in ast.walk(tree):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and flag in text and id(node) not in docs:
                found[str(path.relative_to(package.parent))] += 1
    return dict(found)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, default=ROOT / "swarmcheck")
    parser.add_argument("--top", type=int, default=5, help="longest functions to list")
    args = parser.parse_args()
    package: Path = args.package.resolve()
    modules = sorted(package.rglob("*.py"))
    print(
        f"modules: {len(modules)} ({sum(1 for m in modules if m.name != '__init__.py')} "
        "without __init__.py)"
    )
    print("lines per package:")
    for name, count in lines_per_package(package).items():
        print(f"  {name:22} {count:6}")
    found = functions(package)
    print(f"functions over {LONG} lines: {sum(1 for f in found if f.lines > LONG)}; longest:")
    for f in found[: args.top]:
        print(f"  {f.lines:4}  {f.name} ({f.where})")
    circles = import_circles(package)
    print(f"import circles: {len(circles)}")
    for arrows in circles:
        print("  " + "; ".join(map(str, arrows)))
    for flag in (FLAG, "--swarm-"):
        spelled = spellings(package, flag)
        print(f"files spelling {flag!r}: {len(spelled)}")
        for where, count in spelled.items():
            print(f"  {where} ({count})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
