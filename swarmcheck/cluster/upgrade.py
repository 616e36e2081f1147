"""Upgrading a node's Docker engine in place, as an operator does on a real host.

One node at a time: drain it, stop its engine, start the new engine on the same disk
(/var/lib/docker: its swarm state, node certificate, raft log and images), the same address,
hostname and socket directory; wait until the managers list it Ready with the new engine
version and its own node ID, then make it active again. Here the "host" is the node container:
it is replaced by a container of the new engine's image that mounts the same named volume.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import INNER_BIP, INNER_POOL, Cluster
from swarmcheck.cluster.node import Node, start_node
from swarmcheck.errors import EngineAPIError, PromiseTimeout, SwarmcheckError
from swarmcheck.machine import images
from swarmcheck.steps import step
from swarmcheck.timing import Stopwatch, wait_until

log = logging.getLogger("swarmcheck.cluster")

STOP_TIMEOUT_S = 20
"""How long dockerd gets to shut down cleanly (SIGTERM) before it is killed."""
DRAIN_BUDGET_S = 30.0
"""node-drain: a drained node's tasks move within 30 s (moby's reconciliation budget)."""
BACK_BUDGET_S = 60.0
"""mem-restart-persist: a restarted daemon answers and is back in the swarm within 60 s (moby's
daemon harness), with the same node ID and role."""
ACTIVE_BUDGET_S = 30.0
"""An availability change is one raft write, listed by every manager within seconds."""


@dataclass(frozen=True)
class NodeUpgrade:
    """What upgrading one node took, phase by phase (seconds)."""

    node: str
    role: str
    node_id: str
    from_version: str
    to_version: str
    drain_s: float
    """Drain until the node's engine ran no service task."""
    replace_s: float
    """Old engine stopped, new container started, new engine answering."""
    back_s: float
    """New engine answering until the managers list the node Ready with the new version."""
    active_s: float
    """Availability set back to active until every manager lists it so."""

    @property
    def total_s(self) -> float:
        return self.drain_s + self.replace_s + self.back_s + self.active_s


def upgrade_order(cluster: Cluster) -> list[Node]:
    """Managers first (followers, the leader last: one election only), then workers."""
    leader = cluster.leader()
    followers = [n for n in cluster.managers if n is not leader]
    return [*followers, leader, *cluster.workers]


def _other_manager(cluster: Cluster, node: Node) -> SwarmClient:
    """A client through a manager other than ``node`` that answers (the node goes away)."""
    last: Exception | None = None
    for manager in cluster.managers:
        if manager is node:
            continue
        try:
            with translated(manager.name):
                manager.client.info()
            return cluster.client(manager)
        except EngineAPIError as exc:
            last = exc
    raise SwarmcheckError(f"no manager besides {node.name} answers: {last}")


def _listed(client: SwarmClient, node_id: str) -> dict[str, Any] | None:
    with translated(client.node):
        for attrs in client.docker.api.nodes():
            if attrs["ID"] == node_id:
                return dict(attrs)
    return None


def running_tasks_on(node: Node) -> int:
    """Service task containers the node's own engine runs."""
    with node.engine(5.0) as engine:
        return len(engine.task_containers())


def drain(cluster: Cluster, node: Node, via: SwarmClient) -> None:
    """Set ``node`` to drain and wait until its engine runs no service task."""
    via.update_node(node.node_id, availability="drain")
    wait_until(
        lambda: True if running_tasks_on(node) == 0 else None,
        what=f"{node.name}'s tasks to leave it once drained (node-drain)",
        timeout_s=DRAIN_BUDGET_S,
        interval_s=0.3,
        timeout_error=PromiseTimeout,
    )


def replace_engine(cluster: Cluster, node: Node, image: str) -> str:
    """Replace ``node``'s container with one of ``image``, keeping its /var/lib/docker volume,
    its address, hostname, container name and socket directory; return the new engine's
    version once it answers (the workload images are loaded into it again)."""
    assert cluster.images is not None, "the cluster is not up"
    with step(f"replace {node.name}'s engine with {image}"):
        container = node.container
        node.close()
        with translated(node.name):
            container.stop(timeout=STOP_TIMEOUT_S)
            container.remove(v=False)  # the named /var/lib/docker volume stays
        fresh = start_node(
            cluster.host,
            run_id=cluster.run_id,
            name=node.name,
            role=node.role,
            image=image,
            network=cluster.network,
            ip=node.ip,
            entrypoint=images.node_entrypoint(),
            inner_bip=INNER_BIP,
            inner_pool=INNER_POOL,
        )
        fresh.close()
        node.api_version = None  # another engine, another API version
        version = node.wait_engine()
        with translated(node.name):
            for tar in cluster.images.workload_tars:
                node.client.images.load(tar)
    cluster.engine_versions[node.name] = version
    return version


def wait_back(node: Node, via: SwarmClient, version: str) -> None:
    """Wait until the node's engine runs its old swarm identity (same node ID, active local
    state) and ``via`` lists it Ready with ``version`` (reachable, for a manager)."""

    def back() -> bool | None:
        with translated(node.name):
            swarm = node.client.info()["Swarm"]
        if swarm.get("NodeID") != node.node_id or swarm.get("LocalNodeState") != "active":
            raise EngineAPIError(
                f"{node.name}'s engine: node {swarm.get('NodeID')!r}, "
                f"state {swarm.get('LocalNodeState')!r}"
            )
        attrs = _listed(via, node.node_id)
        if attrs is None:
            raise EngineAPIError(f"{via.node} does not list {node.node_id[:10]}")
        state = attrs.get("Status", {}).get("State")
        engine = attrs.get("Description", {}).get("Engine", {}).get("EngineVersion")
        reach = (attrs.get("ManagerStatus") or {}).get("Reachability")
        if state != "ready" or engine != version:
            raise EngineAPIError(f"{via.node} lists {node.name} {state} on engine {engine}")
        if node.role == "manager" and reach != "reachable":
            raise EngineAPIError(f"{via.node} lists manager {node.name} {reach}")
        return True

    wait_until(
        back,
        what=f"{node.name} back in the swarm with its node ID, Ready on engine {version} "
        "(mem-restart-persist)",
        timeout_s=BACK_BUDGET_S,
        interval_s=0.5,
        timeout_error=PromiseTimeout,
    )


def activate(cluster: Cluster, node: Node) -> None:
    """Set availability back to active; wait until every manager that answers lists it so."""
    via = _other_manager(cluster, node)
    via.update_node(node.node_id, availability="active")

    def active() -> bool | None:
        for manager in cluster.managers:
            with contextlib.suppress(EngineAPIError):
                attrs = _listed(cluster.client(manager), node.node_id)
                if attrs is None or attrs["Spec"].get("Availability") != "active":
                    return None
        return True

    wait_until(
        active,
        what=f"every manager to list {node.name} active again",
        timeout_s=ACTIVE_BUDGET_S,
        timeout_error=PromiseTimeout,
    )


def upgrade_node(cluster: Cluster, node: Node, image: str) -> NodeUpgrade:
    """Upgrade one node as an operator would: drain, replace the engine (same disk, address,
    name), wait until it is back Ready with its node ID, make it active again."""
    with step(f"upgrade {node.name}'s engine to {image}"):
        from_version = cluster.engine_versions.get(node.name, "")
        node_id = node.node_id
        via = _other_manager(cluster, node)
        clock = Stopwatch()
        drain(cluster, node, via)
        drain_s = clock()
        clock = Stopwatch()
        version = replace_engine(cluster, node, image)
        replace_s = clock()
        clock = Stopwatch()
        via = _other_manager(cluster, node)
        wait_back(node, via, version)
        back_s = clock()
        clock = Stopwatch()
        activate(cluster, node)
        active_s = clock()
    done = NodeUpgrade(
        node=node.name,
        role=node.role,
        node_id=node_id,
        from_version=from_version,
        to_version=version,
        drain_s=drain_s,
        replace_s=replace_s,
        back_s=back_s,
        active_s=active_s,
    )
    log.info("%s upgraded %s -> %s in %.1f s", node.name, from_version, version, done.total_s)
    return done


def upgrade_all(
    cluster: Cluster,
    image: str,
    *,
    before_each: Callable[[Node], None] | None = None,
    after_each: Callable[[NodeUpgrade], None] | None = None,
    order: Sequence[Node] | None = None,
) -> list[NodeUpgrade]:
    """Upgrade every node, one at a time (``upgrade_order`` unless given); between nodes the
    swarm must be whole again (one leader, every node Ready, managers reachable)."""
    done = []
    for node in list(order or upgrade_order(cluster)):
        if before_each is not None:
            before_each(node)
        result = upgrade_node(cluster, node, image)
        done.append(result)
        cluster.wait_healthy(BACK_BUDGET_S)
        if after_each is not None:
            after_each(result)
    return done
