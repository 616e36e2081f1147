"""Fault target selection by role: which node(s) a fault such as "leader" or "minority" hits.

Pure logic: callers pass a snapshot of the cluster (``NodeView``) and a seeded ``random.Random``,
so the same cluster and seed always pick the same victims.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from swarmcheck.config import MANAGERS, WORKERS
from swarmcheck.errors import ConfigError

Role = Literal["manager", "worker"]
TargetKind = Literal[
    "leader", "follower", "worker", "manager", "task", "minority", "majority", "all"
]
TARGET_KINDS: tuple[TargetKind, ...] = get_args(TargetKind)
_VALID = ", ".join([*TARGET_KINDS, "task:<task_id>"])


@dataclass(frozen=True)
class NodeView:
    """What a fault planner needs to know about one node."""

    name: str
    role: Role
    leader: bool
    reachable: bool = True
    task_ids: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Target:
    """A parsed target; ``task_id`` only for "task:<id>" ("task" alone = any node with a task)."""

    kind: TargetKind
    task_id: str | None = None

    def __str__(self) -> str:
        return f"task:{self.task_id}" if self.task_id is not None else self.kind


def parse_target(text: str) -> Target:
    """Parse user input such as "leader" or "task:abc123"; ConfigError lists the valid targets."""
    raw = text.strip()
    if raw.startswith("task:"):
        task_id = raw.removeprefix("task:").strip()
        if not task_id:
            raise ConfigError(f"target {text!r} has an empty task id; use task:<task_id>")
        return Target("task", task_id)
    for kind in TARGET_KINDS:
        if raw == kind:
            return Target(kind)
    raise ConfigError(f"unknown fault target {text!r}; valid targets: {_VALID}")


def _counts(nodes: Sequence[NodeView]) -> str:
    managers = sum(n.role == "manager" for n in nodes)
    return f"the cluster has {managers} managers and {len(nodes) - managers} workers"


def _pick(candidates: Sequence[NodeView], count: int, rng: random.Random) -> tuple[str, ...]:
    names = sorted(n.name for n in candidates)
    return tuple(sorted(rng.sample(names, count)))


def select(target: Target | str, nodes: Sequence[NodeView], rng: random.Random) -> tuple[str, ...]:
    """Return the sorted names of the node(s) ``target`` hits; ConfigError if none match.

    Only reachable nodes are candidates (a paused node cannot be faulted again), but quorum
    sizes for "minority"/"majority" count every manager, since that is what Raft counts.
    """
    tgt = parse_target(target) if isinstance(target, str) else target
    live = [n for n in nodes if n.reachable]
    managers = [n for n in live if n.role == "manager"]
    total_managers = sum(n.role == "manager" for n in nodes)
    hint = ""
    if tgt.kind in ("minority", "majority"):
        size = (total_managers - 1) // 2 if tgt.kind == "minority" else total_managers // 2 + 1
        if size == 0:
            raise ConfigError(
                f"target 'minority' matches no node: a minority of {total_managers} managers is "
                f"empty; use at least 3 managers ({MANAGERS.flag})"
            )
        if len(managers) < size:
            raise ConfigError(
                f"target {str(tgt)!r} needs {size} reachable managers but only "
                f"{len(managers)} of {total_managers} are reachable"
            )
        return _pick(managers, size, rng)
    if tgt.kind == "all":
        matched, count = live, len(live)
    else:
        count = 1
        if tgt.kind == "leader":
            matched = [n for n in managers if n.leader]
        elif tgt.kind == "follower":
            matched = [n for n in managers if not n.leader]
            hint = f"; add managers with {MANAGERS.flag}"
        elif tgt.kind == "manager":
            matched = managers
        elif tgt.kind == "worker":
            matched = [n for n in live if n.role == "worker"]
            hint = f"; add workers with {WORKERS.flag}"
        elif tgt.task_id is None:
            matched = [n for n in live if n.task_ids]
        else:
            matched = [n for n in live if tgt.task_id in n.task_ids]
    if not matched:
        unreachable = len(nodes) - len(live)
        extra = f" ({unreachable} unreachable)" if unreachable else ""
        raise ConfigError(f"target {str(tgt)!r} matches no node: {_counts(nodes)}{extra}{hint}")
    return _pick(matched, count, rng)
