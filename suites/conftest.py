"""Suite-level fixtures: the web service factory and a worker node for role tests."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest

from swarmcheck.api import (
    PlotAttacher,
    Recorder,
    RollingUpdateRun,
    Swarm,
    SwarmcheckError,
    SwarmClient,
    SwarmNode,
    address_failures,
    assert_all,
    check_availability,
    check_rolling_update,
    deploy_web,
    remove_services_settled,
)


@pytest.fixture
def services_settled(swarm_cluster: Swarm) -> Iterator[None]:
    """Crash loops and failing updates leave exited containers that the agents are still
    removing when the shared reset runs: remove the services first and let the engines
    finish. Modules whose checks make tasks fail use it for every check (``usefixtures``)."""
    yield
    with contextlib.suppress(SwarmcheckError):
        remove_services_settled(swarm_cluster)


@pytest.fixture
def web(swarm_cluster: Swarm) -> Callable[..., SwarmClient]:
    """Deploy the versioned web service (waits for N/N); returns the leader's client."""

    def make(name: str = "web", replicas: int = 3, **options: object) -> SwarmClient:
        return deploy_web(swarm_cluster, name, replicas, **options)

    return make


RollingJudge = Callable[[RollingUpdateRun, str], None]


@pytest.fixture
def judge_rolling(swarm_figure: Recorder, swarm_attach_availability: PlotAttacher) -> RollingJudge:
    """Judge a start-first rolling update: the client saw zero failed probes and answers from
    both versions, and the tasks kept start-first semantics (never fewer than N healthy, at
    most N + parallelism running, every slot's new task running before its old one stopped,
    per the managers and the engines). Plot, probe and per-address figures reported."""

    def judge(run: RollingUpdateRun, title: str) -> None:
        swarm_attach_availability(run.probes, title)
        availability = check_availability(run.probes, min_success_ratio=1.0)
        order = check_rolling_update(
            run.samples, run.handovers, run.replicas, run.parallelism, order="start-first"
        )
        for verdict in (availability, order):
            for name, value in verdict.figures.items():
                swarm_figure(name, value)
        # Reported, not judged: Docker takes a task out of the service's DNS 2 s before it
        # stops it (gossip convergence delay), so no listed address failed here in either
        # order (measured: no request to a listed address failed, start-first or stop-first).
        per_address = address_failures(run.attempts)
        swarm_figure("addresses", len(per_address))
        swarm_figure("address_failures", sum(failed for _, failed in per_address.values()))
        assert_all([order, availability])
        answers = {p.answer for p in run.probes if p.ok}
        assert answers == {"v1", "v2"}, f"answers seen: {answers}"

    return judge


@pytest.fixture
def worker(swarm_cluster: Swarm) -> Iterator[SwarmNode]:
    """A worker node: a real one, or the last manager demoted for this test (the reset
    after the test promotes it back)."""
    if swarm_cluster.workers:
        yield swarm_cluster.workers[0]
        return
    node = swarm_cluster.managers[-1]
    lead = swarm_cluster.leader_client()
    lead.update_node(node.node_id, role="worker")
    swarm_cluster.wait_control(node, available=False)
    yield node
