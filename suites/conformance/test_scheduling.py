"""Scheduling: placement constraints by role and by label, unsatisfiable constraints, spread
preferences, the per-node replica limit, and no rebalancing onto a node that comes back.

Every placement is read twice: from the managers' task list and from the task containers each
node's engine runs (``swarmcheck.operations.scheduling``); a placement counts only when they agree.

Shapes: the default cluster (3 managers) for label rules, spread, limits and pending tasks;
3 managers + 1 worker (``swarm(workers=1)``) where a worker is the point (role constraints,
a worker that goes down and comes back).
"""

from __future__ import annotations

import pytest

from suites import budgets
from swarmcheck.api import (
    Placement,
    Recorder,
    Stopwatch,
    Swarm,
    create_placed_service,
    deploy_web,
    force_update,
    hold,
    hold_placement,
    kill_node,
    not_moved,
    observe,
    promise_timeout,
    wait_placement,
    wait_until,
)

CONSTRAINTS = "https://docs.docker.com/engine/swarm/services/#placement-constraints"
PREFERENCES = "https://docs.docker.com/engine/swarm/services/#placement-preferences"
MAX_PER_NODE = "https://docs.docker.com/reference/cli/docker/service/create/#replicas-max-per-node"
REBALANCE = "https://docs.docker.com/engine/swarm/admin_guide/#force-the-swarm-to-rebalance"
NO_SUITABLE_NODE = "no suitable node"
"""How every unplaceable task's error starts (docker service ps shows it; HOWSVC "pending")."""
MAX_REPLICAS_ERR = "no suitable node (max replicas per node limit exceed)"
"""The documented error of a task the per-node limit keeps pending (compose file v3 reference,
``max_replicas_per_node``; swarmkit's MaxReplicasFilter)."""
STILL_PENDING_S = 5.0
"""How long a pending task is watched to stay pending: moby's test looks after only 250 ms;
5 s spans many scheduler passes (it batches changes every 100 ms or so)."""


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-SCH-001",
    area="scheduling",
    doc=CONSTRAINTS,
    title="node.role==worker places every task on workers, node.role!=worker on managers",
    promise="Swarm MUST place the tasks of a service constrained to node.role==worker only on "
    "workers and those constrained to node.role!=worker only on managers.",
    rows=("sch-constraint-role",),
    needs=(),
    effects=("writes",),
)
def test_role_constraints(swarm_cluster: Swarm) -> None:
    lead = swarm_cluster.leader_client()
    create_placed_service(lead, "on-workers", 3, constraints=["node.role==worker"])
    create_placed_service(lead, "on-managers", 4, constraints=["node.role!=worker"])
    workers = {n.name for n in swarm_cluster.workers}
    managers = {n.name for n in swarm_cluster.managers}
    on_workers = wait_placement(swarm_cluster, lead, "on-workers", 3)
    on_managers = wait_placement(swarm_cluster, lead, "on-managers", 4)
    assert set(on_workers.by_node) <= workers, f"node.role==worker tasks: {on_workers}"
    assert set(on_managers.by_node) <= managers, f"node.role!=worker tasks: {on_managers}"


@pytest.mark.swarmcheck(
    id="SC-SCH-002",
    area="scheduling",
    doc="https://docs.docker.com/engine/swarm/how-swarm-mode-works/services/#pending-services",
    title="an unsatisfiable constraint or reservation leaves tasks pending: no suitable node",
    promise="Swarm MUST create the tasks of a service no node can take (an impossible "
    "constraint, an oversized memory reservation) and keep them pending, unassigned and not "
    "running anywhere, with an error that starts 'no suitable node' and names the reason.",
    rows=("sch-constraint-role",),
    needs=(),
    effects=("writes",),
)
def test_unsatisfiable_placement_stays_pending(
    swarm_cluster: Swarm, swarm_figure: Recorder
) -> None:
    lead = swarm_cluster.leader_client()
    nodes = swarm_cluster.spec.size
    reasons = {
        # swarmkit's scheduler explains why no node fits, counting the nodes it tried.
        "no-role": f"scheduling constraints not satisfied on {nodes} nodes",
        "too-big": f"insufficient resources on {nodes} nodes",
    }
    create_placed_service(lead, "no-role", 2, constraints=["node.role==nosuchrole"])
    create_placed_service(lead, "too-big", 2, reserve_memory=2**50)  # 1 PiB: no node has it

    def explained(seen: Placement, service: str) -> bool:
        return all(
            (t.error or "").startswith(NO_SUITABLE_NODE) and reasons[service] in (t.error or "")
            for t in seen.pending
        )

    for service in reasons:
        wait_placement(
            swarm_cluster,
            lead,
            service,
            0,
            pending=2,
            also=lambda seen, s=service: explained(seen, s),
            what=f"{service}'s 2 tasks to be pending: '{NO_SUITABLE_NODE} ({reasons[service]})'",
        )

    def problem() -> str | None:
        for service in reasons:
            seen = observe(swarm_cluster, lead, service)
            if seen.running or seen.engines:
                return f"a task of {service} runs although no node can take it: {seen}"
            if len(seen.pending) != 2 or any(
                t.node_id or t.state != "pending" for t in seen.pending
            ):
                return f"{service}'s tasks are not 2 unassigned pending tasks: {seen.pending}"
            if not explained(seen, service):
                return f"{service}'s pending tasks lost their reason: {seen.pending}"
        return None

    clock = Stopwatch()
    hold(STILL_PENDING_S, problem)
    swarm_figure("watched_pending_s", clock())


@pytest.mark.swarmcheck(
    id="SC-SCH-003",
    area="scheduling",
    doc=CONSTRAINTS,
    title="node label constraints: == and != restrict placement, several are ANDed",
    promise="Swarm MUST place tasks only on nodes whose labels satisfy every one of the "
    "service's node.labels constraints, with == and != as written.",
    rows=("sch-constraint-label",),
    needs=(),
    effects=("writes", "roles"),
)
def test_label_constraints(swarm_cluster: Swarm) -> None:
    lead = swarm_cluster.leader_client()
    m1, m2, m3 = swarm_cluster.managers[:3]
    lead.update_node(m1.node_id, node_labels={"zone": "a", "disk": "ssd"})
    lead.update_node(m2.node_id, node_labels={"zone": "a", "disk": "hdd"})
    lead.update_node(m3.node_id, node_labels={"zone": "b"})
    # Only m1 has both labels: an OR (or ignoring the second rule) would use m2 as well.
    create_placed_service(
        lead, "a-and-ssd", 3, constraints=["node.labels.zone==a", "node.labels.disk==ssd"]
    )
    create_placed_service(lead, "not-a", 3, constraints=["node.labels.zone!=a"])
    both = wait_placement(swarm_cluster, lead, "a-and-ssd", 3)
    assert both.by_node == {m1.name: 3}, f"zone==a AND disk==ssd: only {m1.name} fits; {both}"
    not_a = wait_placement(swarm_cluster, lead, "not-a", 3)
    assert not_a.by_node == {m3.name: 3}, f"zone!=a: only {m3.name} fits; {not_a}"


@pytest.mark.swarmcheck(
    id="SC-SCH-004",
    area="scheduling",
    doc=CONSTRAINTS,
    title="relabelling a node schedules pending tasks there, and moves running tasks off "
    "a node that stops matching",
    promise="Swarm MUST schedule tasks pending on a label constraint as soon as a node is "
    "relabelled to match, and MUST shut down and reschedule elsewhere the running tasks of a "
    "node that no longer matches.",
    rows=("sch-constraint-label",),
    needs=(),
    effects=("writes", "roles"),
)
def test_relabelling_moves_tasks(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    lead = swarm_cluster.leader_client()
    _, m2, m3 = swarm_cluster.managers[:3]
    create_placed_service(lead, "gpu", 2, constraints=["node.labels.gpu==yes"])
    wait_placement(
        swarm_cluster,
        lead,
        "gpu",
        0,
        pending=2,
        also=lambda seen: all((t.error or "").startswith(NO_SUITABLE_NODE) for t in seen.pending),
        what="gpu's 2 tasks to wait for a node labelled gpu=yes",
    )
    clock = Stopwatch()
    lead.update_node(m2.node_id, node_labels={"gpu": "yes"})
    placed = wait_placement(swarm_cluster, lead, "gpu", 2, what="the pending tasks to run on m2")
    swarm_figure("pending_to_running_s", clock())
    assert placed.by_node == {m2.name: 2}, f"after labelling {m2.name} gpu=yes: {placed}"

    clock = Stopwatch()
    lead.update_node(m3.node_id, node_labels={"gpu": "yes"})
    lead.update_node(m2.node_id, node_labels={"gpu": "no"})
    moved = wait_placement(
        swarm_cluster,
        lead,
        "gpu",
        2,
        also=lambda seen: seen.by_node == {m3.name: 2},
        what=f"the constraint enforcer to move both tasks from {m2.name} to {m3.name}",
    )
    swarm_figure("enforced_move_s", clock())
    assert moved.engines == {m3.name: 2}, f"{m2.name} still runs tasks it no longer matches"


@pytest.mark.swarmcheck(
    id="SC-SCH-005",
    area="scheduling",
    doc=PREFERENCES,
    title="spread preference: even over label values; unlabelled nodes form one group",
    promise="Swarm SHOULD spread a service's tasks evenly over the values of its spread "
    "preference's node label, counting the nodes that lack the label as one more group.",
    rows=("sch-spread-pref",),
    needs=(),
    effects=("writes", "roles"),
)
def test_spread_preference(swarm_cluster: Swarm) -> None:
    lead = swarm_cluster.leader_client()
    m1, m2, m3 = swarm_cluster.managers[:3]
    # rack: a = {m1}, b = {m2, m3}.  zone: x = {m1}, unlabelled = {m2, m3}.
    lead.update_node(m1.node_id, node_labels={"rack": "a", "zone": "x"})
    lead.update_node(m2.node_id, node_labels={"rack": "b"})
    lead.update_node(m3.node_id, node_labels={"rack": "b"})
    create_placed_service(lead, "by-rack", 6, spread=["rack"])
    create_placed_service(lead, "by-zone", 6, spread=["zone"])
    # Without the preference 6 tasks spread 2/2/2; with it half go to the one-node group.
    for service in ("by-rack", "by-zone"):
        seen = wait_placement(swarm_cluster, lead, service, 6)
        assert seen.on(m1) == 3, f"{service}: the group of {m1.name} alone gets half; {seen}"
        assert {seen.on(m2), seen.on(m3)} == {1, 2}, (
            f"{service}: the other group's 3 tasks spread over {m2.name} and {m3.name}; {seen}"
        )


@pytest.mark.swarmcheck(
    id="SC-SCH-006",
    area="scheduling",
    doc=MAX_PER_NODE,
    title="max replicas per node: never more than k per node, the excess pending with the "
    "documented message",
    promise="Swarm MUST NOT run more than MaxReplicas tasks of a service on any node and MUST "
    "keep the tasks that do not fit pending with 'no suitable node (max replicas per node "
    "limit exceed)'.",
    rows=("sch-max-replicas",),
    needs=(),
    effects=("writes",),
)
def test_max_replicas_per_node(swarm_cluster: Swarm) -> None:
    lead = swarm_cluster.leader_client()
    nodes = swarm_cluster.spec.size
    create_placed_service(lead, "one-each", nodes + 1, max_per_node=1)
    seen = wait_placement(
        swarm_cluster,
        lead,
        "one-each",
        nodes,
        pending=1,
        also=lambda p: bool(p.pending) and p.pending[0].error == MAX_REPLICAS_ERR,
        what=f"{nodes} tasks, one per node, and one pending with '{MAX_REPLICAS_ERR}'",
    )
    assert seen.by_node == {n.name: 1 for n in swarm_cluster.nodes}, f"one task per node: {seen}"

    def problem(p: Placement) -> str | None:
        crowded = {n: c for n, c in {**p.by_node, **p.engines}.items() if c > 1}
        if crowded:
            return f"more than one task per node: {crowded}"
        if len(p.pending) != 1 or p.pending[0].error != MAX_REPLICAS_ERR:
            return f"the excess task is not pending with {MAX_REPLICAS_ERR!r}: {p.pending}"
        return None

    hold_placement(swarm_cluster, lead, "one-each", STILL_PENDING_S / 2, problem)


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-SCH-007",
    area="scheduling",
    doc=REBALANCE,
    title="a node that comes back gets none of the running tasks; a forced update "
    "rebalances onto it",
    promise="Swarm MUST NOT move running tasks to a node that comes back after being down "
    "(only new tasks may go there), and a forced service update MUST spread the tasks onto it.",
    rows=("sch-no-rebalance",),
    needs=(),
    effects=("writes", "stops"),
)
def test_no_rebalance_after_node_returns(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    worker = swarm_cluster.workers[0]
    replicas = swarm_cluster.spec.size
    # All tasks replaced at once by the forced update (parallelism 0), so the rebalance is one
    # scheduling decision; a short restart delay so the lost task is replaced quickly.
    lead = deploy_web(swarm_cluster, "web", replicas, update_parallelism=0, restart_delay_s=0.2)
    start = wait_placement(swarm_cluster, lead, "web", replicas)
    assert start.on(worker) == 1, f"one task per node to begin with: {start}"

    clock = Stopwatch()
    crash = kill_node(swarm_cluster, worker).start()  # the worker's engine dies with its containers
    try:
        # Its task is replaced on a manager once the worker is marked down.
        wait_placement(
            swarm_cluster,
            lead,
            "web",
            replicas,
            also=lambda p: p.on(worker) == 0,
            what=f"the task of the dead {worker.name} to be replaced on the managers",
            timeout_s=60,
        )
        swarm_figure("replaced_after_kill_s", clock())
    finally:
        crash.stop()
    clock = Stopwatch()

    def ready() -> bool | None:
        info = next(i for i in lead.nodes() if i.id == worker.node_id)
        return True if info.state == "ready" else None

    # NODES: a node that reconnects is ready again (the agent retries its session with a
    # backoff of up to 8 s; its engine restarts first).
    wait_until(
        ready,
        what=f"{worker.name} to be ready again",
        timeout_s=60,
        timeout_error=promise_timeout,
    )
    swarm_figure("back_ready_s", clock())
    settled = {t.id for t in lead.running_tasks("web")}
    problem = not_moved(lead, "web", worker)

    # ADMIN: "the swarm does not automatically give a workload to the idle node", watched
    # for the catalog's whole window (observe >= 30 s), every look on every engine.
    window_s = budgets.bound("sch-no-rebalance", "not-moved").low or 30
    clock = Stopwatch()
    hold_placement(swarm_cluster, lead, "web", window_s, problem)
    swarm_figure("not_moved_held_s", round(clock(), 1))

    force_update(lead, "web")
    spread = wait_placement(
        swarm_cluster,
        lead,
        "web",
        replicas,
        also=lambda p: (
            p.on(worker) >= 1 and not settled & {t.id for t in lead.running_tasks("web")}
        ),
        what=f"the forced update to replace every task and give {worker.name} a task",
    )
    assert max(spread.by_node.values()) == 1, f"a forced update spreads one per node: {spread}"
