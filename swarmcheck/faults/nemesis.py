"""Runs a planned chaos schedule against a cluster: targets chosen by role at the moment
each fault starts, every fault healed after its duration (or on any error or interrupt).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping

from swarmcheck.cluster.cluster import Cluster
from swarmcheck.errors import ConfigError, EngineAPIError, SwarmcheckError
from swarmcheck.faults import partition, process, toxics
from swarmcheck.faults.base import Fault, FaultLog
from swarmcheck.faults.plan import NodeView, select
from swarmcheck.faults.schedule import PlannedFault, Schedule

log = logging.getLogger("swarmcheck.nemesis")

Factory = Callable[[Cluster, tuple[str, ...], Mapping[str, float | str], FaultLog], Fault]


def _others(cluster: Cluster, names: tuple[str, ...]) -> list[str]:
    return [n.name for n in cluster.nodes if n.name not in names]


def _leader_or_other(cluster: Cluster, names: tuple[str, ...]) -> str:
    try:
        leader = cluster.leader(timeout_s=3).name
    except EngineAPIError:
        leader = ""
    return leader if leader and leader not in names else _others(cluster, names)[0]


def _int(params: Mapping[str, float | str], key: str, default: int) -> int:
    return int(float(params.get(key, default)))


FACTORIES: dict[str, Factory] = {
    "latency": lambda c, t, p, lg: toxics.latency(
        c, t[0], _int(p, "latency_ms", 500), _int(p, "jitter_ms", 0), log=lg
    ),
    "bandwidth": lambda c, t, p, lg: toxics.bandwidth(c, t[0], _int(p, "rate_kb", 64), log=lg),
    "timeout": lambda c, t, p, lg: toxics.timeout(c, t[0], _int(p, "timeout_ms", 0), log=lg),
    "reset_peer": lambda c, t, p, lg: toxics.reset_peer(c, t[0], _int(p, "timeout_ms", 0), log=lg),
    "slow_close": lambda c, t, p, lg: toxics.slow_close(c, t[0], _int(p, "delay_ms", 1000), log=lg),
    "proxy_down": lambda c, t, p, lg: toxics.proxy_down(c, t[0], log=lg),
    "partition_isolate": lambda c, t, p, lg: partition.isolate(c, t[0], log=lg),
    "partition_split": lambda c, t, p, lg: partition.split(c, list(t), _others(c, t), log=lg),
    "partition_oneway": lambda c, t, p, lg: partition.one_way(
        c, t[0], _leader_or_other(c, t), log=lg
    ),
    "kill_node": lambda c, t, p, lg: process.kill_node(c, t[0], log=lg),
    "stop_node": lambda c, t, p, lg: process.stop_node(c, t[0], log=lg),
    "restart_node": lambda c, t, p, lg: process.restart_node(c, t[0], log=lg),
    "pause_node": lambda c, t, p, lg: process.pause_node(c, t[0], log=lg),
    "kill_dockerd": lambda c, t, p, lg: process.kill_dockerd(c, t[0], log=lg),
}


def node_views(cluster: Cluster, service: str | None = None) -> tuple[NodeView, ...]:
    """The cluster as fault planning sees it: roles, the leader, reachability, tasks."""
    infos = {i.hostname: i for i in cluster.node_list()}
    tasks: dict[str, set[str]] = {}
    if service:
        try:
            for t in cluster.client(cluster.leader()).running_tasks(service):
                tasks.setdefault(t.node_id, set()).add(t.id)
        except EngineAPIError:
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
    """The fault a planned entry describes, on nodes chosen by role right now."""
    if planned.kind == "kill_task":
        if not service:
            raise ConfigError("kill_task needs a service to pick a task from")
        return process.kill_task_container(cluster, service, log=fault_log)
    if (
        planned.kind
        in ("latency", "bandwidth", "timeout", "reset_peer", "slow_close", "proxy_down")
        and cluster.control_plane is None
    ):
        raise ConfigError(
            f"{planned.kind} needs a cluster whose control plane goes through "
            "Toxiproxy: mark the test @pytest.mark.swarm(faults=True)"
        )
    targets = select(planned.target, node_views(cluster, service), rng)
    return FACTORIES[planned.kind](cluster, targets, planned.params, fault_log)


def run_schedule(
    cluster: Cluster,
    schedule: Schedule,
    fault_log: FaultLog,
    *,
    service: str | None = None,
    after_heal: Callable[[PlannedFault], None] | None = None,
) -> None:
    """Play ``schedule`` in real time. Every fault is healed after its duration, and
    ``after_heal`` (e.g. wait for a whole swarm) runs before the next one starts."""
    rng = random.Random(schedule.seed)
    started = time.monotonic()
    for index, planned in enumerate(schedule.faults, 1):
        delay = planned.start_s - (time.monotonic() - started)
        if delay > 0:
            time.sleep(delay)
        try:
            fault = build_fault(cluster, planned, rng, fault_log, service)
        except SwarmcheckError as exc:
            log.warning(
                "fault %d/%d (%s on %s) skipped: %s",
                index,
                len(schedule.faults),
                planned.kind,
                planned.target,
                str(exc).splitlines()[0],
            )
            continue
        log.warning(
            "fault %d/%d: %s for %.0f s",
            index,
            len(schedule.faults),
            fault.name,
            planned.duration_s,
        )
        with fault:
            time.sleep(planned.duration_s)
        if after_heal is not None:
            after_heal(planned)
