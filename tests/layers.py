"""The architecture's import rules, checked by reading the source (no import-linter needed).

Layers go from top to bottom; a module may import from its own component or any component in
a lower layer, never from a higher one, and components that share a layer are independent.
Inside a component, no two modules import each other, directly or through others: there is
no import circle anywhere. Imports under ``if TYPE_CHECKING:`` and inside functions count:
hiding a cycle from the interpreter does not remove it from the design. Suites (``suites/``)
import only ``swarmcheck.api`` of swarmcheck, and no docker-py (``suite_violations``).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),  # the command line drives pytest through the plugin (`swarmcheck catalog`)
    ("plugin", "api"),  # the two faces: pytest's (fixtures, hooks) and the checks' (api.py)
    ("reporting",),
    ("faults",),
    ("workload",),  # what checks run on a swarm: the web service, probes, rolling updates
    ("operations",),  # per catalog area, what checks do and read through the facade
    ("observe",),  # samplers and reads of what the engines run: checker inputs
    ("recording",),  # what a check records for its report: figures, plots
    ("checkers",),
    ("cluster",),
    ("machine",),  # this machine made ready: its engine, images, recipes, report tooling
    ("client",),
    ("config",),  # every option once, and the Settings they resolve to: plain data
    ("spec",),  # the cluster to build and the engines it runs: plain data
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


@dataclass(frozen=True)
class Arrow:
    """``module`` imports ``imported`` (both modules of the package) at ``line``."""

    module: str
    line: int
    imported: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}"


def _modules(root: Path) -> dict[str, Path]:
    return {_module_name(root, path): path for path in sorted(root.rglob("*.py"))}


def _arrows(root: Path) -> list[Arrow]:
    """Every import of one module of the package by another, at module level or not. An
    import names the deepest module it reaches: ``from swarmcheck.cluster import node``
    imports ``swarmcheck.cluster.node``; ``from swarmcheck.catalog import Check``
    imports the package ``swarmcheck.catalog`` (its ``__init__``)."""
    modules = _modules(root)
    arrows: dict[tuple[str, str], Arrow] = {}
    for module, path in modules.items():
        for line, target in _imports(path, module):
            if target not in modules:
                continue
            # `from a import b` yields a, then a.b: a module a.b replaces the package a
            parent = target.rsplit(".", 1)[0]
            if (module, parent) in arrows and arrows[module, parent].line == line:
                del arrows[module, parent]
            if target != module and (module, target) not in arrows:
                arrows[module, target] = Arrow(module, line, target)
    return sorted(arrows.values(), key=lambda a: (a.module, a.line, a.imported))


def import_graph(root: Path) -> dict[str, list[Arrow]]:
    """Each module of the package at ``root`` -> its imports of other modules of it."""
    graph: dict[str, list[Arrow]] = {module: [] for module in _modules(root)}
    for arrow in _arrows(root):
        graph[arrow.module].append(arrow)
    return graph


def import_circles(root: Path) -> list[list[Arrow]]:
    """The import circles of the package at ``root``: each the arrows that tie a group of
    modules that reach one another (a strongly connected component), empty when none."""
    graph = {m: [a.imported for a in arrows] for m, arrows in import_graph(root).items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm; the package is small
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(group)

    for module in graph:
        if module not in index:
            visit(module)
    full = import_graph(root)
    return sorted(
        ([a for m in sorted(g) for a in full[m] if a.imported in g] for g in groups),
        key=lambda arrows: arrows[0].module,
    )


PUBLIC_API = "swarmcheck.api"
"""The one module of swarmcheck a suite may import (see docs/writing-checks.md)."""
SUITE_THIRD_PARTY = frozenset({"pytest"})
"""Libraries a suite may import besides the standard library, its own helpers and the API."""
PAST_THE_FACADE = {
    "docker": "the facade's docker-py client",
    "quick_client": "a node's raw docker-py client",
    "host": "the engine that runs the node containers",
}
"""Attributes a suite must not reach for: what they hold is docker-py, which the facade
(SwarmClient, NodeEngine, the node handles) wraps."""
NOT_CALLED = {
    "client": "a node's raw docker-py client (cluster.client(node) is the facade)",
    "container": "a node's docker-py container (node.stop/start/restart/exec instead)",
    "api": "docker-py's low-level client (a spec builder's api() is the facade)",
}
"""Attributes a suite may only call (``cluster.client(node)``, ``engine.container(id)``):
read as values they are docker-py objects."""


def suite_violations(root: Path, package: str = "swarmcheck") -> list[Violation]:
    """Every import in the suites at ``root`` of anything but the standard library, pytest,
    the suites' own modules and ``swarmcheck.api``, and every reach past the facade to a
    docker-py object."""
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    own = root.name
    violations = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(root, path)
        tree = ast.parse(path.read_text(), filename=str(path))
        reported: set[int] = set()  # one violation per import statement
        for line, imported in _imports(path, module):
            if line in reported:
                continue
            top = imported.split(".")[0]
            if top in stdlib or top == own or top in SUITE_THIRD_PARTY:
                continue
            if top == package:
                if imported == PUBLIC_API or imported.startswith(PUBLIC_API + "."):
                    continue
                if imported == package:  # `from swarmcheck import api` yields swarmcheck too
                    continue
                why = f"suites import only {PUBLIC_API} of {package}"
            else:
                why = f"{top} is not for suites: {PUBLIC_API} wraps what they need"
            reported.add(line)
            violations.append(Violation(module, line, imported, why))
        violations += _past_the_facade(tree, module)
    return sorted(violations, key=lambda v: (v.module, v.line, v.imported))


def _past_the_facade(tree: ast.AST, module: str) -> list[Violation]:
    called = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in PAST_THE_FACADE:
            why = PAST_THE_FACADE[node.attr]
        elif node.attr in NOT_CALLED and id(node) not in called:
            why = NOT_CALLED[node.attr]
        else:
            continue
        found.append(
            Violation(module, node.lineno, f".{node.attr}", f"reaches past the facade: {why}")
        )
    return found
