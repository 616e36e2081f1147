"""Negative controls for the bounds and windows of issue 20 (part B): on a real swarm, a real
mechanism breaks the behaviour, and the same check the suites run must fail, saying what broke.

- mem-pending-join, lower side: a join the engine answers at once (a malformed token, the
  manager reachable) must fail ``judge_pending_join`` (SC-MEM-012) as too early;
- node-status-down, lower side: a worker reported down before the grace of the heartbeat
  the check expects (the swarm runs 1 s, the check holds it to 5 s); ``watch_node_down``
  (SC-NODE-005) must call that too early;
- pki-rotation-needs-all-nodes, window: the down node comes back during the window, so the
  rotation finishes; ``hold_rotation_in_progress`` (SC-PKI-002) must fail;
- pki-removed-node-locked-out, window: the removed node joins again during the window;
  ``hold_locked_out`` (SC-PKI-005) must fail;
- sch-no-rebalance, window: a forced update during the window moves tasks onto the node that
  came back; the ``not_moved`` hold (SC-SCH-007) must fail;
- heal-task-history, both sides: with the retention limit set to 3, the counted history is 3,
  under the catalog's 5 (SC-HEAL-008's count and bound);
- net-publish, by rules: a task's redirect deleted from its namespace; ``ingress_problems``
  (SC-NET-003) must name the task.

One three-manager, one-worker cluster serves the module (tests reset it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import docker
import pytest

from suites import budgets
from suites.conformance.test_membership import PendingJoin, judge_pending_join, send_pending_join
from suites.conformance.test_restart_and_health import counted_history
from swarmcheck.client.errors import translated
from swarmcheck.client.specs import EndpointSpec
from swarmcheck.cluster.cluster import SWARM_PORT, Cluster
from swarmcheck.errors import SwarmPromiseBroken
from swarmcheck.faults import process
from swarmcheck.observe.nodes import watch_node_down
from swarmcheck.operations import tokens_pki
from swarmcheck.operations.membership import restore_membership, set_dispatcher_heartbeat
from swarmcheck.operations.networking import ingress_problems
from swarmcheck.operations.scheduling import force_update, hold_placement, not_moved, wait_placement
from swarmcheck.operations.services import create_service, task_container, wait_converged
from swarmcheck.operations.updates import task_history_limit
from swarmcheck.spec import ClusterSpec
from swarmcheck.workload.service import deploy_web
from tests.e2e.shared_swarm import brought_up, lent

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def shared(host: docker.DockerClient) -> Iterator[Cluster]:
    with brought_up(host, ClusterSpec(managers=3, workers=1)) as cluster:
        yield cluster


def _worker_back(shared: Cluster) -> None:
    """The worker back in the swarm: one that left is listed down, and a whole swarm (what
    restore_nodes waits for) would never come."""
    worker = shared.workers[0]
    if worker.container.status != "running":
        worker.container.start()
        worker.wait_engine()
    restore_membership(shared, worker)


@pytest.fixture
def swarm(shared: Cluster) -> Iterator[Cluster]:
    """The shared cluster, whole and reset after the test (the worker back in it)."""
    yield from lent(shared, _worker_back)


def later(delay_s: float, action: object) -> threading.Timer:
    """Run ``action`` after ``delay_s`` in a thread (the mechanism that breaks a window)."""
    timer = threading.Timer(delay_s, action)  # type: ignore[arg-type]
    timer.daemon = True
    timer.start()
    return timer


def test_a_join_answered_at_once_fails_the_floor(swarm: Cluster) -> None:
    worker = swarm.workers[0]
    manager = swarm.leader()
    swarm.client(worker).leave()
    rec = PendingJoin()
    send_pending_join(swarm, worker, manager, rec, token="SWMTKN-1-garbage")
    with pytest.raises(SwarmPromiseBroken) as broken:
        judge_pending_join(rec)
    message = str(broken.value)
    assert "under the catalog's 15 s" in message, message
    assert "did not time out as documented" in message, message


def test_node_down_before_the_grace_fails_the_floor(swarm: Cluster) -> None:
    """The swarm runs a 1 s heartbeat while the check holds it to the grace of Docker's 5 s
    default: a frozen worker is down after about 3 s, which is what an engine whose grace is
    shorter than the heartbeat it reports would do. (A worker that leaves is no mechanism:
    its managers list it down only after the grace, about 9.5 s, as SC-MEM-010 measured.)"""
    worker = swarm.workers[0]
    lead = swarm.leader_client()
    previous = set_dispatcher_heartbeat(swarm, 1.0)
    fault = process.pause_node(swarm, worker)
    try:
        time.sleep(2 * previous)  # the agents learn the new period at their next heartbeat
        with pytest.raises(SwarmPromiseBroken) as broken:
            watch_node_down(
                lead,
                worker,
                fault.start,
                not_before_s=budgets.node_not_down_before_s(5.0),
                budget_s=budgets.node_down_budget_s(5.0),
            )
    finally:
        fault.stop()
        set_dispatcher_heartbeat(swarm, previous)
    message = str(broken.value)
    assert f"{worker.name} was reported down" in message, message
    assert "before the heartbeat grace (8.5 s)" in message, message


def test_rotation_finishing_in_the_window_fails_the_hold(swarm: Cluster) -> None:
    worker = swarm.workers[0]
    leader = swarm.leader()
    lead = swarm.client(leader)
    old_root = lead.info()["Cluster"]["TLSInfo"]["TrustRoot"]
    given_pem, given_key = tokens_pki.new_root_ca()
    with translated(worker.name):
        worker.container.stop(timeout=2)
    tokens_pki.rotate_ca_to(lead, given_pem, given_key)

    def back() -> None:
        with translated(worker.name):
            worker.container.start()

    timer = later(5, back)  # the down node returns early: nothing holds the rotation back
    try:
        with pytest.raises(SwarmPromiseBroken) as broken:
            tokens_pki.hold_rotation_in_progress(lead.info, old_root, worker.name, 60)
    finally:
        timer.join()
        worker.wait_engine()
    message = str(broken.value)
    assert "the root rotation finished" in message and "into the 60 s window" in message
    assert f"while {worker.name} was down" in message, message


def test_removed_node_back_in_the_window_fails_the_hold(swarm: Cluster) -> None:
    worker = swarm.workers[0]
    lead = swarm.leader_client()
    removed = worker.node_id
    lead.remove_node(removed, force=True)
    tokens_pki.restart_node(worker, stop_timeout_s=2)
    token = lead.join_tokens()["worker"]

    def rejoin() -> None:  # an operator lets it in again with a valid token
        client = swarm.client(worker)
        client.leave(force=True)
        client.join(f"{swarm.leader().ip}:{SWARM_PORT}", token, worker.ip, worker.ip)

    timer = later(3, rejoin)
    try:
        with pytest.raises(SwarmPromiseBroken) as broken:
            tokens_pki.hold_locked_out(swarm, worker, removed, 30)
    finally:
        timer.join()
    message = str(broken.value)
    assert "into the window" in message, message
    assert "is active again" in message or "the managers list" in message, message


def test_tasks_moved_in_the_window_fail_the_no_rebalance_hold(swarm: Cluster) -> None:
    worker = swarm.workers[0]
    replicas = swarm.spec.size
    lead = deploy_web(swarm, "web", replicas, update_parallelism=0, restart_delay_s=0.2)
    with process.kill_node(swarm, worker):
        wait_placement(swarm, lead, "web", replicas, also=lambda p: p.on(worker) == 0, timeout_s=60)
    swarm.wait_healthy(60)
    problem = not_moved(lead, "web", worker)
    timer = later(3, lambda: force_update(lead, "web"))  # what a rebalancing engine would do
    try:
        with pytest.raises(SwarmPromiseBroken) as broken:
            hold_placement(swarm, lead, "web", 30, problem)
    finally:
        timer.join()
    message = str(broken.value)
    assert "running tasks were" in message, message


def test_a_shorter_history_fails_the_count(swarm: Cluster) -> None:
    lead = swarm.leader_client()
    with task_history_limit(lead, 3):
        kept = counted_history(swarm, lead, "looping", restarts=6)
    assert kept == 3, f"the reaper kept {kept}, not the 3 set"
    with pytest.raises(SwarmPromiseBroken) as broken:
        budgets.assert_within("heal-task-history", "kept", kept)
    assert "under the catalog's 5" in str(broken.value), str(broken.value)


def test_a_deleted_redirect_fails_the_rules_check(swarm: Cluster) -> None:
    lead = swarm.leader_client()
    create_service(lead, "pub", 2, endpoint=EndpointSpec(ports={30931: 8080}))
    wait_converged(lead, "pub", 2)
    assert ingress_problems(swarm, lead, "pub", {30931: 8080}) == []
    task = lead.running_tasks("pub")[0]
    found, container = task_container(swarm, task)
    node = swarm.node(found.name)
    sandbox = container["NetworkSettings"]["SandboxKey"]
    address = container["NetworkSettings"]["Networks"]["ingress"]["IPAddress"]
    rule = f"PREROUTING -d {address}/32 -p tcp -m tcp --dport 30931 -j REDIRECT --to-ports 8080"
    code, out = node.exec(["sh", "-c", f"nsenter --net={sandbox} iptables -w -t nat -D {rule}"])
    assert code == 0, out
    problems = ingress_problems(swarm, lead, "pub", {30931: 8080})
    assert problems == [
        f"task {task.id[:10]} on {node.name}: no redirect of published port 30931 to 8080 on "
        f"{address}"
    ], problems
