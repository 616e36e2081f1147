"""Raft: a dead leader is replaced and the swarm accepts changes again."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.plugin.fixtures import Recorder
from swarmcheck.timing import Stopwatch
from swarmcheck.workload.service import wait_converged, wait_write_accepted


@pytest.mark.swarmcheck(
    id="SC-RAFT-001",
    area="raft",
    doc="https://docs.docker.com/engine/swarm/raft/",
    title="stopping the leader's node elects another leader; writes resume",
    promise=(
        "When the leader of a three-manager swarm stops, the other managers MUST elect a new "
        "leader and accept writes again."
    ),
    rows=("raft-failover",),
)
def test_leader_failover(
    cluster: Cluster, web: Callable[..., SwarmClient], figure: Recorder
) -> None:
    if len(cluster.managers) < 3:
        pytest.skip(f"needs 3 managers to keep quorum, the cluster has {len(cluster.managers)}")
    web("web", replicas=2)
    old = cluster.leader()
    clock = Stopwatch()
    old.container.stop(timeout=0)  # restored by the swarm fixture after the test
    new = cluster.wait_leader(timeout_s=60, exclude=old.name)
    figure("failover_s", clock())
    assert new.name != old.name
    survivor = cluster.client(new)

    # a just-elected leader may still refuse for a moment
    wait_write_accepted(survivor, "web", 4, timeout_s=30)
    figure("writes_accepted_s", clock())
    wait_converged(survivor, "web", 4)
