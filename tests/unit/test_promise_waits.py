"""Every wait for a promise ends in a promise error: a static rule over the source.

The rule (docs/architecture.md, "One place for each kind of plumbing"):

1. Nothing under ``suites/`` names ``ReadinessTimeout``: a check never raises the
   environment's timeout itself.
2. Every ``wait_until(...)`` call under ``suites/``, ``swarmcheck/workload/``,
   ``swarmcheck/operations/`` and ``swarmcheck/observe/`` (the helpers suites wait through)
   and ``swarmcheck/cluster/`` (the swarm's own waits) passes
   ``timeout_error=`` a promise error factory: ``PromiseTimeout`` itself, a
   ``promise_timeout`` function (each returns a ``PromiseTimeout``, checked below), or a
   function of the same module annotated to return ``PromiseTimeout``.
3. The only exceptions are waits on the environment, not on Swarm, listed in
   ``ENVIRONMENT_WAITS`` with the reason, by module and function (a listed wait that is gone
   fails too, so the list stays exact). They keep ``wait_until``'s ``ReadinessTimeout``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from swarmcheck.errors import PromiseTimeout
from swarmcheck.operations import promises

ROOT = Path(__file__).resolve().parents[2]
SCOPES = (
    "suites",
    "swarmcheck/workload",
    "swarmcheck/operations",
    "swarmcheck/observe",
    "swarmcheck/cluster",
)
ENVIRONMENT_WAITS = {
    ("swarmcheck/operations/tokens_pki.py", "_read_pem"): "re-reads a PEM file the engine may be "
    "rewriting mid-read: a read retried, not a behaviour awaited",
    ("swarmcheck/operations/updates.py", "remove_services_settled"): "swarmcheck removes "
    "the task containers itself (a clean-up), then waits for the engines to list none",
    ("swarmcheck/operations/membership.py", "wait_engine_answers"): "a node's engine (its "
    "container) answering again after a restart: the machine, not Swarm",
    ("swarmcheck/operations/networking.py", "wait_listening"): "a standalone container on the "
    "host network listening: no Swarm object is involved",
    ("swarmcheck/cluster/node.py", "wait_engine"): "a node container's engine answering "
    "after it starts: the machine, not Swarm (a ProvisioningError with the daemon log)",
    ("swarmcheck/cluster/cluster.py", "_remove_all"): "the reset removing what a check "
    "left: swarmcheck's own clean-up",
    ("swarmcheck/cluster/existing.py", "_wait_whole"): "the swarm given with --swarm-existing "
    "whole before a check: the environment the user gave (an EnvironmentProblem)",
    ("swarmcheck/cluster/existing.py", "_reset"): "the reset removing this run's objects "
    "from the existing swarm: swarmcheck's own clean-up",
    ("swarmcheck/cluster/existing.py", "_clean_node"): "the reset waiting for the task "
    "containers of this run's removed services to leave a node: swarmcheck's own clean-up",
}
PROMISE_FACTORY_NAMES = {"PromiseTimeout", "promise_timeout"}


@dataclass(frozen=True)
class Wait:
    path: str
    line: int
    function: str
    timeout_error: ast.expr | None

    def __str__(self) -> str:
        return f"{self.path}:{self.line} (in {self.function})"


def sources() -> Iterator[tuple[str, ast.Module]]:
    for scope in SCOPES:
        for path in sorted((ROOT / scope).rglob("*.py")):
            yield str(path.relative_to(ROOT)), ast.parse(path.read_text(), str(path))


def waits(path: str, tree: ast.Module) -> Iterator[Wait]:
    """Every ``wait_until(...)`` call, with the innermost function around it."""

    def visit(node: ast.AST, function: str) -> Iterator[Wait]:
        for child in ast.iter_child_nodes(node):
            inner = child.name if isinstance(child, ast.FunctionDef) else function
            if isinstance(child, ast.Call) and _name(child.func) == "wait_until":
                given = {k.arg: k.value for k in child.keywords}
                yield Wait(path, child.lineno, function, given.get("timeout_error"))
            yield from visit(child, inner)

    yield from visit(tree, "<module>")


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def promise_factories(tree: ast.Module) -> set[str]:
    """Functions of the module annotated to return ``PromiseTimeout``."""
    return {
        f.name
        for f in ast.walk(tree)
        if isinstance(f, ast.FunctionDef) and f.returns is not None
        if _name(f.returns) == "PromiseTimeout"
        or (isinstance(f.returns, ast.Constant) and f.returns.value == "PromiseTimeout")
    }


def test_suites_never_name_the_environment_timeout() -> None:
    named = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "suites").rglob("*.py"))
        if "ReadinessTimeout" in path.read_text()
    ]
    assert not named, f"suites raise or catch ReadinessTimeout: {named}"


def test_every_wait_on_a_promise_ends_in_a_promise_error() -> None:
    wrong, environment = [], set()
    for path, tree in sources():
        factories = PROMISE_FACTORY_NAMES | promise_factories(tree)
        for wait in waits(path, tree):
            if (wait.path, wait.function) in ENVIRONMENT_WAITS:
                environment.add((wait.path, wait.function))
                continue
            if wait.timeout_error is None:
                wrong.append(f"{wait}: no timeout_error (a ReadinessTimeout)")
            elif _name(wait.timeout_error) not in factories:
                wrong.append(f"{wait}: timeout_error={ast.unparse(wait.timeout_error)}")
    assert not wrong, "waits whose timeout is not a promise error:\n" + "\n".join(wrong)
    gone = sorted(set(ENVIRONMENT_WAITS) - environment)
    assert not gone, f"ENVIRONMENT_WAITS lists waits that are gone: {gone}"


def test_the_promise_timeout_function_makes_promise_timeouts() -> None:
    made = promises.promise_timeout("a leader", 45.0, "no answer")
    assert isinstance(made, PromiseTimeout)
    assert str(made).startswith("timed out after 45s waiting for a leader, a documented behaviour")


def test_the_rule_sees_a_wait_without_a_promise_error() -> None:
    """The rule itself: a wait without timeout_error, or with another factory, is found."""
    tree = ast.parse(
        "def check():\n"
        "    wait_until(probe, what='x', timeout_s=1)\n"
        "    wait_until(probe, what='x', timeout_s=1, timeout_error=not_ready)\n"
        "    wait_until(probe, what='x', timeout_s=1, timeout_error=promise_timeout)\n"
    )
    found = [
        (w.function, _name(w.timeout_error) if w.timeout_error else None)
        for w in waits("x.py", tree)
    ]

    assert found == [("check", None), ("check", "not_ready"), ("check", "promise_timeout")]
