"""Node management: drain, pause, node rm, and a node reported down while its engine is gone.

What the nodes' engines run is the evidence: a drained node's engine runs none of the service's
tasks, a paused node's engine keeps the containers it had.

Shapes: the default cluster (3 managers) for drain and pause (managers run tasks too);
3 managers + 1 worker (``swarm(workers=1)``) where a worker is the point (node rm, a worker
joining drained, a worker going down).
"""

from __future__ import annotations

import time

import pytest

from suites import budgets
from swarmcheck.api import (
    EngineAPIError,
    Placement,
    Recorder,
    Stopwatch,
    Swarm,
    SwarmClient,
    SwarmNode,
    create_placed_service,
    deploy_web,
    ensure_worker,
    hold,
    hold_placement,
    join_worker,
    leave_and_remove,
    pause_node,
    promise_timeout,
    run_labels,
    scale_service,
    set_dispatcher_heartbeat,
    stop_node,
    wait_placement,
    wait_until,
    watch_node_down,
    workload_image,
)

DRAIN = "https://docs.docker.com/engine/swarm/swarm-tutorial/drain-node/"
AVAILABILITY = "https://docs.docker.com/engine/swarm/manage-nodes/#change-node-availability"
NODE_RM = "https://docs.docker.com/reference/cli/docker/node/rm/"
NOT_DOWN = "node {id} is not down and can't be removed"
"""cli:node_rm ("Attempt to remove a running node from a swarm"), FailedPrecondition."""
MUST_DEMOTE = (
    "node {id} is a cluster manager and is a member of the raft cluster. "
    "It must be demoted to worker before removal"
)
"""cli:node_rm: "A manager node must be demoted to a worker node ... before you can remove it"."""
NOT_PULLED_BACK_S = 3.0
"""How long a re-activated node is watched to stay empty (there is no time in the docs: the
scheduler acts within a second of a change, so 3 s spans many of its passes)."""


@pytest.mark.swarmcheck(
    id="SC-NODE-001",
    area="node-management",
    doc=DRAIN,
    title="drain: tasks move off (without the restart delay), the drained engine runs none, "
    "standalone containers stay, nothing comes back on reactivation",
    promise="Swarm MUST replace every task of a drained node on active nodes without applying "
    "the restart delay, MUST NOT run service tasks on it or touch its standalone containers, "
    "and MUST NOT move tasks back when it becomes active again.",
    rows=("node-drain",),
    needs=(),
    effects=("writes", "roles"),
)
def test_drain_moves_tasks_off(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    target = swarm_cluster.managers[-1]
    replicas = 2 * swarm_cluster.spec.size
    # A restart delay far longer than the drain budget: replacements that waited for it
    # would miss the budget (swarmkit skips the delay for tasks leaving a drained node).
    restart_delay_s = 20.0
    lead = deploy_web(swarm_cluster, "web", replicas, restart_delay_s=restart_delay_s)
    before = wait_placement(swarm_cluster, lead, "web", replicas)
    assert before.on(target) >= 1, f"{target.name} had no task to move: {before}"
    engine = target.engine()
    standalone = engine.run(
        workload_image(),
        name=f"standalone-{swarm_cluster.run_id}",
        labels=run_labels(swarm_cluster.run_id, "standalone"),
    )
    started_at = engine.container(standalone)["State"]["StartedAt"]

    clock = Stopwatch()
    lead.update_node(target.node_id, availability="drain")
    drained = wait_placement(
        swarm_cluster,
        lead,
        "web",
        replicas,
        also=lambda p: p.on(target) == 0,
        what=f"every task of the drained {target.name} to run elsewhere, none left on its engine",
        timeout_s=restart_delay_s - 5,
    )
    swarm_figure("drain_moved_s", clock())
    assert target.name not in drained.engines
    state = engine.container(standalone)["State"]
    assert state["Status"] == "running", (
        f"the drained node's standalone container is {state['Status']}"
    )
    assert state["StartedAt"] == started_at, "the standalone container restarted"

    # The replacements were new tasks: none of them went to the drained node (checked above).

    lead.update_node(target.node_id, availability="active")
    hold_placement(
        swarm_cluster,
        lead,
        "web",
        NOT_PULLED_BACK_S,
        lambda p: f"tasks moved back to the re-activated {target.name}" if p.on(target) else None,
    )


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-NODE-002",
    area="node-management",
    doc="https://docs.docker.com/reference/cli/docker/swarm/join/#availability",
    title="a node that joins with availability=drain is drained from the start",
    promise="Swarm MUST create a node that joins with availability drain already drained, "
    "and MUST NOT give it service tasks.",
    rows=("node-drain",),
    needs=(),
    effects=("writes", "membership"),
)
def test_join_drained(swarm_cluster: Swarm) -> None:
    worker = swarm_cluster.workers[0]
    lead = swarm_cluster.leader_client()
    create_placed_service(lead, "everywhere", mode="global", replicas=None)
    wait_placement(swarm_cluster, lead, "everywhere", swarm_cluster.spec.size)
    try:
        leave_and_remove(swarm_cluster, worker)
        new_id = join_worker(swarm_cluster, worker, availability="drain")
        info = next(i for i in lead.nodes() if i.id == new_id)
        assert info.availability == "drain", f"{worker.name} joined as {info.availability}"

        def problem(p: Placement) -> str | None:
            if p.on(worker) or p.engines.get(worker.name):
                return f"the node that joined drained runs a task of the global service: {p}"
            if p.running != len(swarm_cluster.managers):
                return f"the global service does not run one task per active node: {p}"
            return None

        hold_placement(swarm_cluster, lead, "everywhere", NOT_PULLED_BACK_S, problem)
    finally:
        ensure_worker(swarm_cluster, worker)


@pytest.mark.swarmcheck(
    id="SC-NODE-003",
    area="node-management",
    doc=AVAILABILITY,
    title="pause: existing tasks keep running, new tasks go to other nodes",
    promise="Swarm MUST keep the running tasks of a paused node running and MUST place new "
    "tasks only on other nodes.",
    rows=("node-pause",),
    needs=(),
    effects=("writes", "roles"),
)
def test_pause_keeps_tasks_and_takes_no_new(swarm_cluster: Swarm) -> None:
    target = swarm_cluster.managers[-1]
    replicas = swarm_cluster.spec.size
    lead = deploy_web(swarm_cluster, "web", replicas)
    before = wait_placement(swarm_cluster, lead, "web", replicas)
    assert before.on(target) == 1, f"one task per node to begin with: {before}"
    kept = {t.container_id for t in lead.running_tasks("web") if t.node_id == target.node_id}

    lead.update_node(target.node_id, availability="pause")
    scale_service(lead, "web", 3 * replicas)
    after = wait_placement(swarm_cluster, lead, "web", 3 * replicas)
    assert after.on(target) == 1, f"the paused {target.name} got new tasks: {after}"
    running = {c.id for c in target.engine().task_containers("web")}
    assert running == kept, f"the paused node's task container changed: {kept} -> {running}"


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-NODE-004",
    area="node-management",
    doc=NODE_RM,
    title="node rm: refused for a ready node and for a manager (documented messages), works "
    "for a down node and with force",
    promise="Swarm MUST refuse to remove a node that is not down ('is not down and can't be "
    "removed') and a manager ('must be demoted to worker before removal'), and MUST remove a "
    "down node without force and any worker with force.",
    rows=("node-rm",),
    needs=(),
    effects=("membership",),
)
def test_node_rm(swarm_cluster: Swarm) -> None:
    worker = swarm_cluster.workers[0]
    manager = swarm_cluster.managers[-1]
    lead = swarm_cluster.leader_client()

    def listed(node_id: str) -> str | None:
        return next((i.state for i in lead.nodes() if i.id == node_id), None)

    for target, force, message in (
        (worker.node_id, False, NOT_DOWN),
        (manager.node_id, False, MUST_DEMOTE),
        (manager.node_id, True, MUST_DEMOTE),
    ):
        with pytest.raises(EngineAPIError) as refused:
            lead.remove_node(target, force=force)
        expected = message.format(id=target)
        assert expected in refused.value.explanation, refused.value.explanation
        assert refused.value.status_code == 400, refused.value  # gRPC FailedPrecondition
        assert listed(target) == "ready", f"{target} was removed or disturbed by a refused rm"

    try:
        # A node that left is down: removed without force (cli:node_rm "Remove a stopped node").
        old_id = worker.node_id
        swarm_cluster.client(worker).leave()
        wait_until(
            lambda: True if listed(old_id) == "down" else None,
            what=f"{worker.name} to show as down after leaving",
            timeout_s=30,
            timeout_error=promise_timeout,
        )
        lead.remove_node(old_id)
        assert listed(old_id) is None, "the down node is still listed after node rm"

        # A ready worker goes with force, at once.
        new_id = join_worker(swarm_cluster, worker)
        lead.remove_node(new_id, force=True)
        assert listed(new_id) is None, "the node is still listed after node rm --force"
    finally:
        ensure_worker(swarm_cluster, worker)


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-NODE-005",
    area="node-management",
    doc="https://docs.docker.com/engine/swarm/manage-nodes/#list-nodes",
    title="a worker cut off or stopped is down after the heartbeat grace (not before), ready "
    "once back",
    promise="Swarm MUST report a worker whose daemon stopped answering (frozen) or stopped "
    "(a graceful shutdown) as down after the heartbeat grace, not before it and within three "
    "heartbeat periods (plus jitter) of the heartbeat set, and as ready again once it is back.",
    rows=("node-status-down", "pki-cluster-settings"),
    needs=(),
    effects=("settings", "stops"),
)
def test_silent_worker_is_down_then_ready(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    # Frozen, the worker's daemon sends nothing and answers nothing, as when it is cut off;
    # stopped, it shuts down cleanly. Either way the moment its heartbeats end is known (a
    # kill is SC-SCH-007's).
    worker = swarm_cluster.workers[0]
    lead = swarm_cluster.leader_client()
    period_s = lead.heartbeat_period_s()
    swarm_figure("heartbeat_period_s", period_s)
    limits = {
        "not_before_s": budgets.node_not_down_before_s(period_s),
        "budget_s": budgets.node_down_budget_s(period_s),
    }
    for name, back_name, fault in (
        ("down_after_s", "ready_again_s", pause_node(swarm_cluster, worker)),
        (
            "stopped_down_after_s",
            "stopped_ready_again_s",
            stop_node(swarm_cluster, worker, grace_s=10),
        ),
    ):
        try:
            down_s = watch_node_down(lead, worker, fault.start, **limits)
        finally:
            fault.stop()
        swarm_figure(name, round(down_s, 2))
        clock = Stopwatch()
        # The agent reconnects with a backoff of at most 8 s (swarmkit agent).
        ready_s = budgets.bound("node-status-down", "ready-again").high or 30
        wait_until(
            lambda: True if _state(lead, worker) == "ready" else None,
            what=f"{worker.name} to be ready again",
            timeout_s=ready_s,
            timeout_error=promise_timeout,
        )
        swarm_figure(back_name, round(clock(), 2))
        hold(
            1.0,
            lambda: (
                None
                if _state(lead, worker) == "ready"
                else f"{worker.name} flapped to {_state(lead, worker)}"
            ),
        )
    # The heartbeat setting takes effect (pki-cluster-settings): at 1 s a frozen worker is
    # down within 3 x (1 + 0.5) + 2 s, and not before 2 x (1 - 0.5) - 0.5 s.
    previous = set_dispatcher_heartbeat(swarm_cluster, 1.0)
    try:
        time.sleep(2 * period_s)  # every agent learns the new period at its next heartbeat
        fault = pause_node(swarm_cluster, worker)
        try:
            down_s = watch_node_down(
                lead,
                worker,
                fault.start,
                not_before_s=budgets.node_not_down_before_s(1.0),
                budget_s=budgets.node_down_budget_s(1.0),
            )
        finally:
            fault.stop()
        swarm_figure("down_after_at_1s_heartbeat_s", round(down_s, 2))
    finally:
        set_dispatcher_heartbeat(swarm_cluster, previous)
    wait_until(
        lambda: True if _state(lead, worker) == "ready" else None,
        what=f"{worker.name} to be ready again",
        timeout_s=30,
        timeout_error=promise_timeout,
    )


def _state(lead: SwarmClient, node: SwarmNode) -> str:
    return next(i.state for i in lead.nodes() if i.id == node.node_id)
