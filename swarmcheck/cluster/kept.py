"""Clusters kept after a failed check (``--swarm-keep-on-failure``): the mark that says so,
and what a sweep leaves because of it.

Docker cannot add a label to a container, network or volume that exists (labels are set at
creation, and no update call changes them), so a cluster is marked kept by one more object of
its run: a small volume ``sc-<run id>-kept`` labelled with the run's labels plus ``KEPT`` (when),
``KEPT_UNTIL`` (from when a sweep may remove it), ``KEPT_FOR`` (the failed tests) and
``KEPT_NODES`` (how to reach each node). ``docker volume ls --filter label=io.swarmcheck.kept``
lists kept runs. Removing the run (``swarmcheck sweep --run ID``) removes the mark with the rest,
as it carries the run's label.

A sweep removes what a dead owner left, except the runs marked kept whose time is not over
(``left_by_sweep``): those are left with their socket directory, and said so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import docker

from swarmcheck import labels
from swarmcheck.client.errors import translated

KEEP_S = labels.KEEP_HOURS * 3600.0
"""How long a sweep leaves a kept cluster, in seconds."""


@dataclass(frozen=True)
class KeptNode:
    """One node of a kept cluster, as a person reaches it."""

    name: str
    role: str
    container: str
    socket: str
    """The host path of its engine's Unix socket."""
    state: str = "running"
    """Its container's state when kept: a node the check itself stopped or paused (not through
    a fault, which is healed) stays so."""


@dataclass(frozen=True)
class KeptCluster:
    """A cluster left running after a failed check. Plain data: it travels in test reports
    (from an xdist worker to the controller) and in the labels of its mark."""

    run_id: str
    tests: tuple[str, ...]
    """The failed tests it was kept for (node ids)."""
    nodes: tuple[KeptNode, ...]
    kept_at: float
    """Seconds since the epoch."""
    until: float
    """From then on a sweep removes it (seconds since the epoch)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "tests": list(self.tests),
            "nodes": [vars(n) for n in self.nodes],
            "kept_at": self.kept_at,
            "until": self.until,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KeptCluster:
        return cls(
            run_id=str(data["run_id"]),
            tests=tuple(str(t) for t in data.get("tests", ())),
            nodes=tuple(KeptNode(**{k: str(v) for k, v in n.items()}) for n in data["nodes"]),
            kept_at=float(data["kept_at"]),
            until=float(data["until"]),
        )

    def mark_labels(self) -> dict[str, str]:
        """The labels of its mark, beside the run's own."""
        return {
            labels.KEPT: _iso(self.kept_at),
            labels.KEPT_UNTIL: _iso(self.until),
            labels.KEPT_FOR: json.dumps(list(self.tests)),
            labels.KEPT_NODES: json.dumps([vars(n) for n in self.nodes]),
        }

    @classmethod
    def from_mark(cls, mark: dict[str, str]) -> KeptCluster | None:
        """The kept cluster a mark's labels describe (None: not a mark, or unreadable)."""
        try:
            return cls(
                run_id=mark[labels.RUN],
                tests=tuple(json.loads(mark.get(labels.KEPT_FOR, "[]"))),
                nodes=tuple(KeptNode(**n) for n in json.loads(mark.get(labels.KEPT_NODES, "[]"))),
                kept_at=_epoch(mark[labels.KEPT]),
                until=_epoch(mark[labels.KEPT_UNTIL]),
            )
        except (KeyError, ValueError, TypeError):
            return None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def local_time(epoch: float) -> str:
    """A time as a person on this machine reads it: 2026-11-28 14:03 CET."""
    return time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(epoch))


def mark_name(run_id: str) -> str:
    return f"sc-{run_id}-kept"


def mark_kept(
    host: docker.DockerClient,
    run_id: str,
    nodes: Sequence[KeptNode],
    tests: Sequence[str],
    now: float | None = None,
) -> KeptCluster:
    """Mark run ``run_id`` kept (its mark volume) for ``KEEP_S`` from ``now``."""
    at = float(int(time.time() if now is None else now))  # whole seconds, as the mark says
    kept = KeptCluster(run_id, tuple(tests), tuple(nodes), at, at + KEEP_S)
    with translated("the host"):
        host.volumes.create(
            name=mark_name(run_id),
            labels={**labels.for_run(run_id, "kept"), **kept.mark_labels()},
        )
    return kept


def kept_runs(host: docker.DockerClient, *, ended: bool = False) -> list[KeptCluster]:
    """Every run marked kept on this engine, oldest first; ``ended``: only those whose session
    is over (a running session's kept clusters are its own, and no sweep touches them)."""
    with translated("the host"):
        marks = [
            dict(v.attrs.get("Labels") or {})
            for v in host.volumes.list(filters={"label": labels.KEPT})
        ]
    if ended:
        marks = [m for m in marks if not labels.owner_alive(m)]
    found = (KeptCluster.from_mark(m) for m in marks)
    return sorted((k for k in found if k is not None), key=lambda k: k.kept_at)


@dataclass(frozen=True)
class KeptJudgement:
    """What a sweep does with the kept runs it found."""

    left: tuple[KeptCluster, ...]
    """Still within their time: left running, with their socket directories."""
    expired: tuple[KeptCluster, ...]
    """Their time is over: swept like any run whose owner is gone."""

    @property
    def left_ids(self) -> frozenset[str]:
        return frozenset(k.run_id for k in self.left)


def judge_kept(kept: Iterable[KeptCluster], now: float) -> KeptJudgement:
    """Which kept runs a sweep at ``now`` leaves, and which it may remove."""
    runs = list(kept)
    return KeptJudgement(
        left=tuple(k for k in runs if now < k.until),
        expired=tuple(k for k in runs if now >= k.until),
    )


def removable(object_labels: dict[str, str], left: frozenset[str]) -> bool:
    """Whether a sweep removes an object: its owner process is gone and its run is not a
    kept one whose time is not over."""
    return object_labels.get(labels.RUN) not in left and not labels.owner_alive(object_labels)


def left_note(kept: KeptCluster, now: float) -> str:
    """Why a sweep left a kept run, and how to remove it now."""
    hours = max(kept.until - now, 0.0) / 3600
    tests = ", ".join(kept.tests) or "a failed check"
    return (
        f"left cluster {kept.run_id}, kept at {local_time(kept.kept_at)} after {tests} failed "
        f"(--swarm-keep-on-failure): sweeps leave a kept cluster {labels.KEEP_HOURS} h, this one "
        f"until {local_time(kept.until)} ({hours:.1f} h more); remove it now with `swarmcheck "
        f"sweep --run {kept.run_id}` (every kept cluster: `swarmcheck sweep --kept`)"
    )


def expired_note(kept: KeptCluster) -> str:
    """What a sweep says of a kept run it removed because its time was over."""
    return (
        f"removed cluster {kept.run_id}, kept at {local_time(kept.kept_at)} after "
        f"{', '.join(kept.tests) or 'a failed check'} failed: kept more than "
        f"{labels.KEEP_HOURS} h"
    )
