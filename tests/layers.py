"""The architecture's import rules, checked by reading the source (no import-linter needed).

Layers go from top to bottom; a module may import from its own component or any component in
a lower layer, never from a higher one, and components that share a layer are independent.
Imports under ``if TYPE_CHECKING:`` count: hiding a cycle from the interpreter does not
remove it from the design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),  # the command line drives pytest through the plugin (`swarmcheck catalog`)
    ("plugin",),
    ("config",),
    ("reporting",),
    ("faults",),
    ("workload",),
    ("checkers",),
    ("cluster", "machine"),  # machine: tools built on this machine (the history checker)
    ("client",),
    ("labels", "timing", "steps", "catalog", "cache", "recipes", "progress", "shipped"),  # leaves
    ("__init__",),  # the package itself: its version and the root exception
    ("errors",),
)
"""swarmcheck's layers, top (may import everything below) to bottom (imports nothing)."""


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    why: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}: {self.why}"


def component(module: str, package: str) -> str | None:
    """``swarmcheck.cluster.node`` -> ``cluster``; ``swarmcheck`` -> ``__init__``."""
    parts = module.split(".")
    if parts[0] != package:
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this module's package
                base = module.split(".")[: -node.level]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target:
                yield node.lineno, target
                for alias in node.names:  # `from swarmcheck import labels`
                    yield node.lineno, f"{target}.{alias.name}"


def _module_name(root: Path, path: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def check_layers(root: Path, layers: Sequence[Sequence[str]] = LAYERS) -> list[Violation]:
    """Every import in the package at ``root`` that breaks the layering."""
    package = root.name
    rank = {name: index for index, names in enumerate(layers) for name in names}
    violations = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(root, path)
        own = component(module, package)
        if own is None or own not in rank:
            violations.append(Violation(module, 0, "-", f"{own!r} is in no layer"))
            continue
        seen: set[tuple[int, str]] = set()
        for line, imported in _imports(path, module):
            other = component(imported, package)
            if other is None or other == own or (line, other) in seen:
                continue
            seen.add((line, other))
            if other not in rank:
                continue  # `from swarmcheck import X` where X is a name, not a module
            if rank[other] < rank[own]:
                why = f"{other} is a higher layer than {own}"
            elif rank[other] == rank[own]:
                why = f"{other} and {own} share a layer and must stay independent"
            else:
                continue
            violations.append(Violation(module, line, imported, why))
    return violations
