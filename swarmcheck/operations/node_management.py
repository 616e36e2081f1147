"""Nodes (catalog area ``node-management``): a node joining as a worker with a given
availability, leaving and being removed, and made a worker again for the next check."""

from __future__ import annotations

import contextlib

from swarmcheck.cluster.cluster import SWARM_PORT
from swarmcheck.cluster.interface import Swarm, SwarmNode
from swarmcheck.errors import EngineAPIError
from swarmcheck.operations.promises import promise_timeout
from swarmcheck.timing import wait_until


def join_worker(cluster: Swarm, node: SwarmNode, availability: str | None = None) -> str:
    """Join ``node`` (out of the swarm) as a worker through the leader, optionally with an
    initial availability; wait until the managers list it ready; return its new node id."""
    leader = cluster.leader()
    lead = cluster.client(leader)
    own = cluster.client(node)
    own.join(
        f"{leader.ip}:{SWARM_PORT}",
        lead.join_tokens()["worker"],
        f"{node.ip}:{SWARM_PORT}",
        node.ip,
        availability=availability,
    )
    new_id = str(own.info()["NodeID"])

    def ready() -> bool | None:
        return True if any(i.id == new_id and i.state == "ready" for i in lead.nodes()) else None

    wait_until(
        ready,
        what=f"{node.name} to show as ready after joining",
        timeout_s=30,
        timeout_error=promise_timeout,
    )
    node.node_id = new_id
    return new_id


def leave_and_remove(cluster: Swarm, node: SwarmNode) -> None:
    """Make a worker leave the swarm, wait until the managers see it down, remove its entry."""
    lead = cluster.leader_client()
    old_id = node.node_id
    cluster.client(node).leave(force=True)

    def state() -> str | None:
        return next((i.state for i in lead.nodes() if i.id == old_id), None)

    wait_until(
        lambda: True if state() in (None, "down") else None,
        what=f"{node.name} to show as down after leaving",
        timeout_s=30,
        timeout_error=promise_timeout,
    )
    if state() is not None:
        lead.remove_node(old_id)


def ensure_worker(cluster: Swarm, node: SwarmNode) -> None:
    """Put a worker that a check took out of the swarm back in (for a ``finally``): leave
    whatever state it is in, drop its stale entries from the node list, join again."""
    lead = cluster.leader_client()
    listed = [i for i in lead.nodes() if i.hostname == node.name]
    if any(i.id == node.node_id and i.state == "ready" for i in listed) and len(listed) == 1:
        return
    with contextlib.suppress(EngineAPIError):
        cluster.client(node).leave(force=True)
    for info in listed:
        lead.remove_node(info.id, force=True)
    join_worker(cluster, node)
