"""Membership and roles: init, worker refusal, promote/demote, join tokens."""

from __future__ import annotations

import pytest

from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import EngineAPIError
from swarmcheck.plugin.fixtures import Recorder
from swarmcheck.timing import Stopwatch, wait_until

DOCS = "https://docs.docker.com/engine/swarm"
WORKER_REFUSAL = (
    "This node is not a swarm manager. Worker nodes can't be used to view or modify "
    "cluster state. Please run this command on a manager node or promote the current node "
    "to a manager."
)


@pytest.mark.swarmcheck(
    id="SC-MEM-001",
    area="membership",
    doc=f"{DOCS}/swarm-tutorial/create-swarm/",
    title="the first node is a manager and Leader; docker info says active",
    promise=(
        "A node that ran `swarm init` MUST be an active manager and the Leader of the new swarm."
    ),
    rows=("mem-init",),
    destructive=True,
)
def test_init_makes_a_leader(fresh_cluster: Cluster) -> None:
    cluster = fresh_cluster  # a swarm just made: earlier tests may have moved leadership
    first = cluster.managers[0]
    info = cluster.client(first).info()
    assert info["LocalNodeState"] == "active", f"docker info Swarm: {info}"
    assert info["ControlAvailable"] is True, "the node that ran `swarm init` is not a manager"
    me = next(n for n in cluster.node_list(via=first) if n.id == info["NodeID"])
    assert me.role == "manager"
    assert me.leader, f"{first.name} is {me.reachability}, not Leader"
    assert info["Managers"] == cluster.spec.managers
    assert info["Nodes"] == cluster.spec.size


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-MEM-002",
    area="membership",
    doc=f"{DOCS}/swarm-tutorial/add-nodes/",
    title="node ls is refused on a worker, with the documented message",
    promise=(
        "A worker MUST NOT show cluster state: `node ls` on it MUST be refused with the "
        "documented message, while managers list every node."
    ),
    rows=("mem-join-worker",),
)
def test_worker_cannot_list_nodes(cluster: Cluster, worker: Node) -> None:
    with pytest.raises(EngineAPIError) as refused:
        cluster.client(worker).nodes()
    assert WORKER_REFUSAL in refused.value.explanation, (
        f"unexpected refusal text: {refused.value.explanation!r}"
    )
    manager_view = cluster.client(cluster.managers[0]).nodes()
    assert len(manager_view) == cluster.spec.size


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-MEM-003",
    area="membership",
    doc=f"{DOCS}/manage-nodes/#promote-or-demote-a-node",
    title="a promoted worker can list nodes; a demoted manager cannot",
    promise="A promoted worker MUST gain control-plane access and a demoted manager MUST lose it.",
    rows=("raft-promote-demote",),
)
def test_promote_and_demote(cluster: Cluster, worker: Node, figure: Recorder) -> None:
    lead = cluster.client(cluster.leader())
    clock = Stopwatch()
    lead.update_node(worker.node_id, role="manager")
    # Docker's own test allows 30 s; swarmkit's 64 s (the new certificate takes a while).
    cluster.wait_control(worker, available=True, timeout_s=64)
    figure("promote_s", clock())
    assert len(cluster.client(worker).nodes()) == cluster.spec.size
    lead.update_node(worker.node_id, role="worker")
    cluster.wait_control(worker, available=False)
    with pytest.raises(EngineAPIError, match="not a swarm manager"):
        cluster.client(worker).nodes()


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-MEM-004",
    area="membership",
    doc="https://docs.docker.com/reference/cli/docker/swarm/join-token/",
    title="worker and manager join tokens; rotation refuses the old token",
    promise=(
        "After a join-token rotation the old token MUST be refused and the new one MUST let a "
        "node join."
    ),
    rows=("tok-rotate",),
)
def test_join_token_rotation(cluster: Cluster, worker: Node) -> None:
    lead = cluster.client(cluster.leader())
    tokens = lead.join_tokens()
    assert tokens["worker"].startswith("SWMTKN-1-") and tokens["manager"].startswith("SWMTKN-1-")
    assert tokens["worker"] != tokens["manager"]
    # The worker leaves, so it can try to join again.
    old_id = worker.node_id
    cluster.client(worker).leave()
    wait_until(
        lambda: True if worker.client.info()["Swarm"]["LocalNodeState"] == "inactive" else None,
        what=f"{worker.name} to leave",
        timeout_s=30,
    )
    wait_until(
        lambda: True if next(n for n in lead.nodes() if n.id == old_id).state == "down" else None,
        what=f"{worker.name} to show as down",
        timeout_s=30,
    )
    lead.remove_node(old_id)

    new_token = lead.rotate_join_token("worker")
    assert new_token != tokens["worker"], "rotation returned the same token"
    leader_addr = f"{cluster.leader().ip}:2377"
    with pytest.raises(EngineAPIError) as refused:
        cluster.client(worker).join(leader_addr, tokens["worker"], worker.ip, worker.ip)
    assert "A valid join token is necessary to join this cluster" in refused.value.explanation

    cluster.client(worker).join(leader_addr, new_token, worker.ip, worker.ip)
    joined = wait_until(
        lambda: next(
            (n for n in lead.nodes() if n.hostname == worker.name and n.state == "ready"), None
        ),
        what=f"{worker.name} to rejoin with the new token",
        timeout_s=30,
    )
    assert joined.role == "worker"
    worker.node_id = joined.id
