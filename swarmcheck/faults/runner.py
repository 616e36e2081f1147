"""Plays a planned chaos schedule against a cluster: each fault built from the registry
(``faults.kinds``) on nodes chosen by role at the moment it starts, healed after its duration
(or on any error or interrupt), and what ran recorded so it can be compared with the plan.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from swarmcheck.cluster.cluster import Cluster
from swarmcheck.errors import ConfigError, EngineAPIError, FaultError, SwarmcheckError
from swarmcheck.faults.base import Fault, FaultLog, FaultWindow
from swarmcheck.faults.kinds import BuildRequest, fault_kind
from swarmcheck.faults.schedule import PlannedFault, Schedule
from swarmcheck.faults.targets import NodeView, parse_target, select
from swarmcheck.timing import Stopwatch

log = logging.getLogger("swarmcheck.faults.runner")


def node_views(cluster: Cluster, service: str | None = None) -> tuple[NodeView, ...]:
    """The cluster as fault planning sees it: roles, the leader, reachability, tasks."""
    infos = {i.hostname: i for i in cluster.node_list()}
    tasks: dict[str, set[str]] = {}
    if service:
        try:
            for t in cluster.leader_client().running_tasks(service):
                tasks.setdefault(t.node_id, set()).add(t.id)
        except EngineAPIError:  # no leader right now: no node counts as holding a task
            pass
    views = []
    for node in cluster.nodes:
        info = infos.get(node.name)
        views.append(
            NodeView(
                name=node.name,
                role="manager" if (info.role if info else node.role) == "manager" else "worker",
                leader=bool(info and info.leader),
                reachable=bool(info and info.state == "ready"),
                task_ids=frozenset(tasks.get(info.id, set()) if info else set()),
            )
        )
    return tuple(views)


def build_fault(
    cluster: Cluster,
    planned: PlannedFault,
    rng: random.Random,
    fault_log: FaultLog,
    service: str | None,
) -> Fault:
    """The (not yet started) fault a planned entry describes, on nodes chosen by role now.

    Raises ConfigError when the cluster or the run cannot host the kind (no proxied control
    plane, no service) or when no node matches the target.
    """
    kind = fault_kind(planned.kind)
    if kind.needs_proxy and cluster.control_plane is None:
        raise ConfigError(
            f"{kind.name} needs a cluster whose control plane goes through "
            "Toxiproxy: mark the test @pytest.mark.swarm(faults=True)"
        )
    if kind.needs_service and not service:
        raise ConfigError(f"{kind.name} needs a service to act on: pass service= to the runner")
    target = parse_target(planned.target)
    nodes = select(target, node_views(cluster, service), rng)
    request = BuildRequest(kind.name, cluster, target, nodes, planned.params, fault_log, service)
    return kind.build(request)


@dataclass(frozen=True)
class PlayedFault:
    """What became of one planned fault: the fault that ran, or why it could not be built."""

    index: int
    """1-based position in the schedule."""
    planned: PlannedFault
    fault: str | None = None
    """The fault's name as built, e.g. ``partition_isolate(manager2)``."""
    error: str | None = None
    """Why the fault could not be built (then it did not run)."""


def check_played(
    schedule: Schedule, played: Sequence[PlayedFault], windows: Sequence[FaultWindow]
) -> list[str]:
    """Where the faults that ran differ from the faults planned (empty when they agree).

    ``windows`` is the fault log of the run: one window per fault started, in order, of the
    planned kind, and none that failed to inject or heal.
    """
    problems = [
        f"fault {p.index} ({p.planned.kind} on {p.planned.target}) did not run: {p.error}"
        for p in played
        if p.error is not None
    ]
    if len(played) != len(schedule.faults):
        problems.append(f"{len(played)} of {len(schedule.faults)} planned faults were played")
    planned_kinds = [f.kind for f in schedule.faults]
    ran_kinds = [w.kind for w in windows]
    if ran_kinds != planned_kinds:
        problems.append(f"faults planned {planned_kinds}, faults that ran {ran_kinds}")
    problems += [f"{w.kind}({', '.join(w.targets)}) failed: {w.error}" for w in windows if w.error]
    return problems


AfterHeal = Callable[[int, PlannedFault], None]


def run_schedule(
    cluster: Cluster,
    schedule: Schedule,
    fault_log: FaultLog,
    *,
    service: str | None = None,
    after_heal: AfterHeal | None = None,
) -> list[PlayedFault]:
    """Play ``schedule`` in real time and return what became of each planned fault.

    Every fault is healed after its duration, and ``after_heal(index, planned)`` (e.g. wait
    for a whole swarm) runs before the next one starts. A fault that cannot be built is
    logged, recorded with its reason and skipped, so the rest of the night still runs;
    :func:`check_played` turns that into a failure. Injection and healing errors propagate.
    """
    rng = random.Random(schedule.seed)
    clock = Stopwatch()
    played: list[PlayedFault] = []
    total = len(schedule.faults)
    for index, planned in enumerate(schedule.faults, 1):
        delay = planned.start_s - clock()
        if delay > 0:
            time.sleep(delay)
        try:
            fault = build_fault(cluster, planned, rng, fault_log, service)
        except SwarmcheckError as exc:
            reason = str(exc).splitlines()[0]
            log.error(
                "fault %d/%d (%s on %s) could not be built: %s",
                index,
                total,
                planned.kind,
                planned.target,
                reason,
            )
            played.append(PlayedFault(index, planned, error=reason))
            continue
        log.warning("fault %d/%d: %s for %.0f s", index, total, fault.name, planned.duration_s)
        played.append(PlayedFault(index, planned, fault=fault.name))
        with fault:
            time.sleep(planned.duration_s)
        if after_heal is not None:
            after_heal(index, planned)
    return played


def assert_played(
    schedule: Schedule, played: Sequence[PlayedFault], windows: Sequence[FaultWindow]
) -> None:
    """Raise FaultError (a framework error: the night did not test what it planned) when the
    faults that ran differ from the schedule."""
    problems = check_played(schedule, played, windows)
    if problems:
        raise FaultError(
            f"the schedule (seed {schedule.seed}) was not played as planned:\n  "
            + "\n  ".join(problems),
            "schedule",
        )
