"""Negative controls: break a promised behaviour on a real swarm and see the check fail.

A check is only worth its failure (Jepsen checks its checkers the same way). Each test here
uses a real mechanism to make the swarm do what the promise rules out, runs the check the
suites use, and expects it to fail with a message that says what broke:

- rolling update: the service asks for stop-first (what an engine that ignores
  ``--update-order start-first`` does): with 3 replicas only the task samples can tell, with 1
  the probe sees the outage too;
- convergence: a placement constraint no node satisfies; a task container frozen (the
  managers still report the task running, the engine does not run it);
- whole swarm: a paused manager; a manager that left and formed its own swarm (a node back
  under a new ID, two leaders: the whole-swarm and single-leader checks);
- nothing lost, kept running, scaled by difference: a service removed, a task container
  killed, a scale that replaces every task;
- writes that must be refused (SC-QRM-002, SC-CHAOS-003, SC-CHAOS-004): writes the swarm
  accepts (they take effect: the "unchanged" check sees it) and a write with a stale version
  (refused, but "update out of sequence" is not the documented refusal).

One three-manager cluster serves the module (tests reset it); the destructive test runs
last. ``tests/e2e/test_plugin_runs.py`` runs suite checks themselves against a broken engine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized

import docker
import pytest

from swarmcheck.checkers.availability import check_availability
from swarmcheck.checkers.containers import check_kept_running, check_scaled
from swarmcheck.checkers.inventory import check_nothing_lost
from swarmcheck.checkers.leaders import check_single_leader
from swarmcheck.checkers.refusals import (
    MINORITY,
    NO_LEADER,
    WatchedState,
    check_refused,
    check_unchanged,
)
from swarmcheck.checkers.rolling import check_rolling_update
from swarmcheck.client.errors import translated
from swarmcheck.client.specs import NS
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.errors import PromiseTimeout, SwarmPromiseBroken
from swarmcheck.machine.images import workload_image
from swarmcheck.observe.engines import ContainerSampler, running_containers
from swarmcheck.observe.inventory import inventory
from swarmcheck.observe.leaders import LeaderSampler
from swarmcheck.operations.refusals import ServiceWrites, await_refusal, watched_state
from swarmcheck.operations.services import node_of_task, wait_converged
from swarmcheck.spec import ClusterSpec
from swarmcheck.timing import Stopwatch, wait_until
from swarmcheck.workload.rolling import RollingUpdateRun, watched_rolling_update
from swarmcheck.workload.service import deploy_web
from tests.e2e.shared_swarm import brought_up, lent

pytestmark = pytest.mark.e2e

HEARTBEAT_S = 1.0  # ClusterSpec's dispatcher heartbeat, set at init


def no_figures(name: str, value: float | int | str) -> None:
    del name, value


def wait_for_samples(samples: Sized, count: int) -> None:
    wait_until(
        lambda: True if len(samples) >= count else None, what=f"{count} samples", timeout_s=15
    )


@pytest.fixture(scope="module")
def shared(host: docker.DockerClient) -> Iterator[Cluster]:
    with brought_up(host, ClusterSpec(managers=3, heartbeat_s=HEARTBEAT_S)) as cluster:
        yield cluster


@pytest.fixture
def swarm(shared: Cluster) -> Iterator[Cluster]:
    """The shared cluster, whole and reset after the test."""
    yield from lent(shared)


def stop_first(swarm: Cluster, replicas: int) -> RollingUpdateRun:
    """A rolling update of a service that asks for stop-first, sampled like SC-UPD-001."""
    return watched_rolling_update(swarm, no_figures, replicas=replicas, order="stop-first")


# -- rolling update ----------------------------------------------------------------------------
def test_rolling_check_fails_for_stop_first(swarm: Cluster) -> None:
    run = stop_first(swarm, replicas=3)
    verdict = check_rolling_update(run.samples, run.handovers, 3, 1, order="start-first")

    assert not verdict.ok, f"a stop-first update passed as start-first: {verdict.summary}"
    assert "did not keep start-first" in verdict.summary
    assert "(stop-first order)" in verdict.summary, verdict.summary
    assert "fewer than 3 healthy tasks" in verdict.summary, verdict.summary
    # The checker tells the orders apart: the same update is a correct stop-first one.
    as_asked = check_rolling_update(run.samples, run.handovers, 3, 1, order="stop-first")
    assert as_asked.ok, as_asked.summary


def test_probe_and_rolling_check_fail_for_stop_first_single_replica(swarm: Cluster) -> None:
    run = stop_first(swarm, replicas=1)
    availability = check_availability(run.probes, min_success_ratio=1.0)
    order = check_rolling_update(run.samples, run.handovers, 1, 1, order="start-first")

    assert not availability.ok, f"one replica stopped first, yet {availability.summary}"
    assert "probes failed" in availability.summary and "longest gap" in availability.summary
    assert int(availability.figures["failures"]) > 0
    assert not order.ok and "fewer than 1 healthy tasks" in order.summary, order.summary


# -- convergence -------------------------------------------------------------------------------
def test_convergence_fails_for_an_unsatisfiable_constraint(swarm: Cluster) -> None:
    lead = deploy_web(swarm, "web", 2, wait=False, constraints=["node.labels.nowhere==true"])
    with pytest.raises(PromiseTimeout) as broken:
        wait_converged(lead, "web", 2, timeout_s=8)

    message = str(broken.value)
    assert "service web to run 2/2" in message, message
    assert "0/2 running" in message and "2 pending" in message, message
    assert "no suitable node" in message, message


def test_convergence_fails_when_the_engine_does_not_run_a_reported_task(swarm: Cluster) -> None:
    lead = deploy_web(swarm, "web", 3)
    task = lead.running_tasks("web")[0]
    node = node_of_task(swarm, task)
    container = node.client.containers.get(task.container_id)
    container.pause()  # frozen: no longer running; the managers still report the task running
    try:
        with pytest.raises(PromiseTimeout) as broken:
            wait_converged(lead, "web", 3, timeout_s=5)
        assert [t.id for t in lead.running_tasks("web") if t.id == task.id], "Swarm noticed"
    finally:
        container.unpause()
    message = str(broken.value)
    assert "3/3 running per the managers, but" in message, message
    assert f"task {task.id[:10]} is running per the managers" in message, message
    assert f"not running on node {node.node_id[:10]}" in message, message
    wait_converged(lead, "web", 3, timeout_s=10)  # unfrozen: the same check passes


# -- what the engines keep running -------------------------------------------------------------
def test_kept_running_check_fails_when_a_task_container_goes(swarm: Cluster) -> None:
    deploy_web(swarm, "web", 3)
    before = running_containers(swarm, "web")
    task = swarm.leader_client().running_tasks("web")[0]
    with ContainerSampler(swarm.nodes, "web", interval_s=0.5) as sampler:
        wait_for_samples(sampler.samples, 2 * len(swarm.nodes))
        node = node_of_task(swarm, task)
        container = node.client.containers.get(task.container_id)
        container.remove(force=True)
        wait_for_samples(sampler.samples, 5 * len(swarm.nodes))
    verdict = check_kept_running(before, sampler.samples)

    assert not verdict.ok, verdict.summary
    assert f"{node.name} at t=" in verdict.summary
    assert f"stopped {container.id[:12]}" in verdict.summary, verdict.summary


def test_scaled_check_fails_when_scaling_replaces_every_task(swarm: Cluster) -> None:
    lead = deploy_web(swarm, "web", 1)
    before = running_containers(swarm, "web")
    # docker-py's Service.scale re-sends the spec with the engine's defaults inserted: the
    # engine takes it for a new task template and replaces the running task too.
    lead.docker.services.get("web").scale(3)
    wait_converged(lead, "web", 3)
    verdict = check_scaled(before, running_containers(swarm, "web"), 3)

    assert not verdict.ok, verdict.summary
    assert "scaling up from 1 stopped" in verdict.summary, verdict.summary
    assert "3 new containers, not 2" in verdict.summary, verdict.summary


def test_nothing_lost_check_fails_when_a_service_goes(swarm: Cluster) -> None:
    lead = deploy_web(swarm, "web", 1)
    deploy_web(swarm, "other", 1)
    before = inventory(swarm)
    lead.remove_service("other")
    verdict = check_nothing_lost(before, inventory(swarm))

    assert not verdict.ok and verdict.summary == "lost: service other", verdict.summary


def refusal_writes(swarm: Cluster, replicas: int = 1) -> tuple[ServiceWrites, WatchedState]:
    """web deployed, and writes through the leader built from web as stored now (as the refusal
    checks build them before their fault), with the state they compare against afterwards."""
    lead = deploy_web(swarm, "web", replicas)
    stored = lead.stored_service("web")
    before = watched_state(lead, stored, swarm.nodes)
    return ServiceWrites.via(swarm.leader(), stored, Stopwatch()), before


def state_now(swarm: Cluster) -> WatchedState:
    lead = swarm.leader_client()
    return watched_state(lead, lead.stored_service("web"), swarm.nodes)


def test_refusal_checks_fail_when_the_writes_are_accepted(swarm: Cluster) -> None:
    """SC-QRM-002, SC-CHAOS-004: a swarm that accepts the judged writes (here: a healthy one)."""
    writes, before = refusal_writes(swarm)
    with pytest.raises(SwarmPromiseBroken) as broken:
        await_refusal(lambda i: writes.create(f"refused-{i}"), NO_LEADER, 10, "a create")
    assert "a write the swarm had to refuse was accepted: create service refused-0" in str(
        broken.value
    )

    scale = writes.scale(3)
    wait_converged(swarm.leader_client(), "web", 3)
    refused = check_refused([scale], NO_LEADER)
    unchanged = check_unchanged(before, state_now(swarm), refused=[scale])

    assert not refused.ok and refused.summary.startswith("accepted: scale web"), refused.summary
    assert not unchanged.ok, unchanged.summary
    assert "a refused write took effect: scale web to replicas=3" in unchanged.summary
    assert "services appeared: refused-0" in unchanged.summary
    assert "the service's version went from" in unchanged.summary
    assert "instead of" in unchanged.summary  # new task containers on the engines


def test_refusal_checks_fail_for_a_write_with_a_stale_version(swarm: Cluster) -> None:
    """A write that reaches a leader with a stale version is refused, but not the documented
    way ("update out of sequence"): the refusal checks fail, the quorum and partition ones."""
    writes, before = refusal_writes(swarm)
    swarm.leader_client().update_image("web", workload_image("v2"))  # the version moves on
    with pytest.raises(SwarmPromiseBroken) as broken:
        await_refusal(lambda i: writes.scale(3), NO_LEADER, 10, "a scale")
    message = str(broken.value)
    assert "a write the swarm had to refuse was other: scale web" in message, message
    assert "update out of sequence" in message, message

    stale = writes.scale(3)
    for refusal in (NO_LEADER, MINORITY):
        verdict = check_refused([stale], refusal)
        assert not verdict.ok and "answered otherwise" in verdict.summary, verdict.summary
        assert "500: rpc error: code = Unknown desc = update out of sequence" in verdict.summary
    assert stale.status == 500, stale
    unchanged = check_unchanged(before, state_now(swarm), refused=[stale])
    assert not unchanged.ok and "the service's spec changed (TaskTemplate)" in unchanged.summary


# -- swarm spec --------------------------------------------------------------------------------
def test_token_rotation_keeps_the_swarm_spec(swarm: Cluster) -> None:
    lead = swarm.leader_client()
    _, spec = lead.swarm_spec()
    assert spec["Dispatcher"]["HeartbeatPeriod"] == HEARTBEAT_S * NS, "not the spec set at init"
    old = lead.join_tokens()

    new = lead.rotate_join_token("worker")

    _, after = lead.swarm_spec()
    assert new != old["worker"] and lead.join_tokens()["manager"] == old["manager"]
    assert after == spec, f"rotating a token changed the swarm spec: {spec} -> {after}"


def test_partial_swarm_update_resets_the_heartbeat(swarm: Cluster) -> None:
    """The control for the test above: docker-py's own rotation does reset it."""
    lead = swarm.leader_client()
    version, spec = lead.swarm_spec()
    try:
        lead.docker.swarm.update(rotate_worker_token=True)
        _, after = lead.swarm_spec()
        # the spec docker-py sends has no Dispatcher settings: the engine's default (5 s) again
        assert after["Dispatcher"].get("HeartbeatPeriod") != HEARTBEAT_S * NS, after["Dispatcher"]
    finally:
        version, _ = lead.swarm_spec()
        lead.docker.api.update_swarm(version=version, swarm_spec=spec)
    assert lead.swarm_spec()[1] == spec


# -- whole swarm and leaders -------------------------------------------------------------------
def test_whole_swarm_check_fails_for_a_paused_manager(swarm: Cluster) -> None:
    follower = next(m for m in swarm.managers if m.name != swarm.leader().name)
    follower.container.pause()
    try:
        with pytest.raises(PromiseTimeout) as broken:
            swarm.wait_healthy(timeout_s=8)
    finally:
        follower.container.unpause()
    message = str(broken.value).splitlines()[0]
    assert f"swarm {swarm.run_id} to be whole" in message, message
    assert f"{follower.name} did not answer `node ls`" in message, message
    swarm.wait_healthy(60)  # unpaused: whole again


def test_checks_fail_for_a_manager_that_forms_its_own_swarm(swarm: Cluster) -> None:
    """Destructive (runs last): manager3 leaves and initialises a swarm of its own. Each side
    has a real Leader: to the checks that is the same swarm split in two."""
    leader = swarm.leader()
    rogue = next(m for m in reversed(swarm.managers) if m.name != leader.name)
    swarm.dirty = "a manager left to form its own swarm"
    with LeaderSampler(swarm, interval_s=0.3) as sampler:
        wait_for_samples(sampler.samples, 6)
        swarm.client(rogue).leave(force=True)
        with translated(rogue.name, swarm=True):
            rogue.client.swarm.init(advertise_addr=f"{rogue.ip}:2377", listen_addr="0.0.0.0:2377")

        def rogue_leads() -> bool | None:
            mine = [s for s in sampler.samples if s.observer == rogue.name]
            return True if mine and mine[-1].leaders == (rogue.name,) else None

        wait_until(rogue_leads, what=f"{rogue.name} to name itself leader", timeout_s=30)
    split = check_single_leader(sampler.samples)
    health = swarm.health()

    assert not split.ok, split.summary
    assert rogue.name in split.summary and "two leaders at once" in split.summary, split.summary
    problems = "\n".join(health.problems)
    assert f"{rogue.name} is in the node list under a new ID" in problems, problems
    assert f"{rogue.name} lists 1 nodes, the cluster has 3" in problems, problems
    assert "managers disagree on the leader" in problems, problems
