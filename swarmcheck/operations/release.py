"""Engine versions in a swarm: what each node's own engine says it runs, what the managers
report for it, and joining a node through a manager of a chosen version.

Release checks (suites/release) assert Swarm's promises across engine versions. A promise
only counts as kept across versions when the swarm really mixes them, so these helpers read
the versions from the engines themselves, never from the spec that asked for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import SWARM_PORT, Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import EngineAPIError, PromiseTimeout
from swarmcheck.operations.promises import promise_timeout
from swarmcheck.steps import step
from swarmcheck.timing import wait_until

JOIN_READY_BUDGET_S = 30.0
"""mem-join-worker: ready within seconds (moby waits 5 s for the ready count); 30 s here,
with several swarms sharing two cores."""


@dataclass(frozen=True)
class Listed:
    """One node as a manager lists it, with the engine version it reports for it."""

    id: str
    hostname: str
    role: str
    state: str
    availability: str
    engine: str
    reachability: str | None
    leader: bool


def _listed(attrs: Mapping[str, Any]) -> Listed:
    manager = attrs.get("ManagerStatus") or {}
    description = attrs.get("Description") or {}
    spec = attrs.get("Spec") or {}
    return Listed(
        id=str(attrs["ID"]),
        hostname=str(description.get("Hostname", "")),
        role=str(spec.get("Role", "")),
        state=str((attrs.get("Status") or {}).get("State", "")),
        availability=str(spec.get("Availability", "")),
        engine=str((description.get("Engine") or {}).get("EngineVersion", "")),
        reachability=manager.get("Reachability"),
        leader=bool(manager.get("Leader", False)),
    )


def own_versions(cluster: Cluster) -> dict[str, str]:
    """Each node's engine version as the engine itself reports it (`docker version`)."""
    return {node.name: node.engine().version() for node in cluster.nodes}


def listed_by(node: Node, timeout_s: float = 5.0) -> list[Listed]:
    """`docker node ls` through ``node`` (a manager), engine versions included."""
    with SwarmClient(node.name, node.quick_client(timeout_s), owned=True) as client:
        return [_listed(n) for n in client.raw_nodes()]


def version_problems(
    cluster: Cluster, versions: Mapping[str, str], managers: list[Node] | None = None
) -> list[str]:
    """What keeps each manager (of any version) from listing every node Ready, managers
    reachable, one leader, and each node's engine version as that engine reports it."""
    problems: list[str] = []
    leaders: set[str] = set()
    for manager in managers if managers is not None else cluster.managers:
        try:
            rows = listed_by(manager)
        except EngineAPIError as exc:
            problems.append(f"{manager.name} did not list the nodes: {str(exc).splitlines()[0]}")
            continue
        listed = {r.hostname: r for r in rows}
        leaders |= {r.hostname for r in rows if r.leader}
        for name, version in versions.items():
            row = listed.get(name)
            if row is None:
                problems.append(f"{manager.name} does not list {name}")
            elif row.state != "ready":
                problems.append(f"{manager.name} lists {name} as {row.state}")
            elif row.engine != version:
                problems.append(
                    f"{manager.name} lists {name} with engine {row.engine!r}, its engine "
                    f"says {version!r}"
                )
            elif row.role == "manager" and row.reachability != "reachable":
                problems.append(f"{manager.name} lists manager {name} as {row.reachability}")
        if len(rows) != len(versions):
            problems.append(f"{manager.name} lists {len(rows)} nodes, not {len(versions)}")
    if len(leaders) != 1:
        problems.append(f"the managers name {len(leaders)} leaders: {sorted(leaders)}")
    return problems


def wait_views_agree(
    cluster: Cluster, versions: Mapping[str, str], timeout_s: float = JOIN_READY_BUDGET_S
) -> None:
    """Wait until ``version_problems`` finds nothing; a timeout is a broken promise."""
    last: list[str] = []

    def whole() -> bool | None:
        last[:] = version_problems(cluster, versions)
        return True if not last else None

    def broken(what: str, waited_s: float, _: str | None) -> PromiseTimeout:
        return promise_timeout(what, waited_s, "; ".join(last))

    wait_until(
        whole,
        what="every manager to list every node Ready with its own engine version",
        timeout_s=timeout_s,
        interval_s=0.5,
        timeout_error=broken,
    )


def join_via(cluster: Cluster, node: Node, manager: Node, role: str) -> str:
    """Join ``node`` (out of the swarm) with ``manager``'s ``role`` token through ``manager``;
    wait until ``manager`` lists it Ready; return its new node ID (set on the node too)."""
    lead = cluster.client(manager)
    token = lead.join_tokens()[role]
    with step(f"join {node.name} as a {role} through {manager.name}"):
        cluster.client(node).join(
            f"{manager.ip}:{SWARM_PORT}", token, f"{node.ip}:{SWARM_PORT}", node.ip
        )
        new_id = str(node.engine().swarm_info()["NodeID"])

    def ready() -> bool | None:
        rows = listed_by(manager)
        return True if any(r.id == new_id and r.state == "ready" for r in rows) else None

    wait_until(
        ready,
        what=f"{manager.name} to list {node.name} Ready after it joined",
        timeout_s=JOIN_READY_BUDGET_S,
        timeout_error=promise_timeout,
    )
    node.node_id = new_id
    return new_id


def by_version(versions: Mapping[str, str]) -> dict[str, list[str]]:
    """Node names grouped by engine version, oldest version string first."""
    groups: dict[str, list[str]] = {}
    for name, version in versions.items():
        groups.setdefault(version, []).append(name)
    return dict(sorted(groups.items()))
