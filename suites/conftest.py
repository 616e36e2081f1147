"""Suite-level fixtures: the web service factory and a worker node for role tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.workload.service import deploy_web


@pytest.fixture
def web(swarm: Cluster) -> Callable[..., SwarmClient]:
    """Deploy the versioned web service (waits for N/N); returns the leader's client."""

    def make(name: str = "web", replicas: int = 3, **options: object) -> SwarmClient:
        return deploy_web(swarm, name, replicas, **options)

    return make


@pytest.fixture
def worker(swarm: Cluster) -> Iterator[Node]:
    """A worker node: a real one, or the last manager demoted for this test (the reset
    after the test promotes it back)."""
    if swarm.workers:
        yield swarm.workers[0]
        return
    node = swarm.managers[-1]
    lead = swarm.swarm(swarm.leader())
    lead.update_node(node.node_id, role="worker")
    swarm.wait_control(node, available=False)
    yield node
