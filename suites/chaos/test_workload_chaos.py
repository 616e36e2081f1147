"""Workloads under faults: lost workers, slow control planes, degraded rolling updates."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

import pytest

from suites import budgets
from suites.conftest import RollingJudge
from swarmcheck.api import (
    FaultLog,
    Placement,
    PromiseTimeout,
    Recorder,
    ReplicaSample,
    Stopwatch,
    Swarm,
    SwarmClient,
    SwarmNode,
    SwarmPromiseBroken,
    boot_clock,
    check_converged,
    create_placed_service,
    hold_placement,
    process,
    toxics,
    wait_agent_session,
    wait_converged,
    wait_placement,
    wait_task_stopped,
    wait_until,
    watched_rolling_update,
)

HOWSVC = "https://docs.docker.com/engine/swarm/how-swarm-mode-works/services/"
SLOW_HEAL_S = 90.0
"""Loose on purpose, for +500 ms on every control-plane round trip. Undisturbed, a killed task
is replaced in about 1.5 s (SC-HEAL-001; Docker's budget is 30 s). Here every step crosses a
slow link: the agent's report of the dead task, the raft commits of the new task and of its
assignment, the assignment pushed to the agent, its running state reported and committed;
and the agents' sessions run through the same proxies. Measured here: 26, 35 and 36 s in
three runs (the report's time_to_heal_s). 90 s is two and a half times the slowest; a
replacement that does not come in that time is not a slow network."""
SLOW_UPDATE_S = 90.0
"""Loose on purpose, for +200 ms (+/-100) per control-plane round trip: three start-first
batches each need a task placed, started, healthy and reported. Measured here: 26-27 s in
three runs (7-9 s undisturbed); about three times that."""
GLOBAL_NOT_REPLACED_S = 5.0
"""How long a lost node's global task is watched not to be replaced elsewhere: the docs give
no time; the global orchestrator acts on a node's change at once, so 5 s spans many passes."""
SLOW_CONVERGE_S = 60.0
"""The same latency: N/N reached and seen on the engines after the update completed."""


@pytest.mark.swarm(workers=1, capabilities=("stop-nodes",))
@pytest.mark.swarmcheck(
    id="SC-CHAOS-006",
    area="chaos/workload",
    doc=HOWSVC,
    title="a lost worker's replicated tasks are rescheduled on the other nodes (every manager "
    "and engine agreeing), its global task is not replaced elsewhere",
    promise=(
        "A lost worker's replicated tasks MUST be rescheduled on the remaining nodes within "
        "Docker's budget, as every manager reports and every remaining engine runs, and its "
        "global-service task MUST NOT be replaced on another node."
    ),
    rows=("heal-node-loss",),
    effects=("writes", "stops"),
)
def test_lost_worker_tasks_rescheduled(
    swarm_cluster: Swarm,
    web: Callable[..., SwarmClient],
    swarm_fault_log: FaultLog,
    swarm_figure: Recorder,
) -> None:
    replicas = 2 * swarm_cluster.spec.size
    lead = web("web", replicas=replicas)
    create_placed_service(lead, "agent", None, mode="global")
    wait_placement(swarm_cluster, lead, "agent", swarm_cluster.spec.size)
    worker = swarm_cluster.workers[0]
    on_worker = [t for t in lead.running_tasks("web") if t.node_id == worker.node_id]
    assert on_worker, f"no task of web landed on {worker.name}"
    samples: list[ReplicaSample] = []  # tasks running off the lost worker, over time
    wait_agent_session(worker)  # its heartbeats flow: they end when it is killed, not before
    clock = Stopwatch()
    with process.kill_node(swarm_cluster, worker, log=swarm_fault_log):
        killed_at = boot_clock()

        def moved() -> bool | None:
            running = lead.running_tasks("web")
            elsewhere = [t for t in running if t.node_id != worker.node_id]
            samples.append(ReplicaSample(boot_clock(), "web", replicas, len(elsewhere)))
            return True if len(elsewhere) == replicas == len(running) else None

        wait_until(
            moved,
            what=f"{replicas} tasks running off {worker.name} (judged against the "
            f"{budgets.RESCHEDULED_S:g} s budget; waited longer to measure)",
            timeout_s=budgets.RESCHEDULED_S + 30,  # judged below against the budget
            timeout_error=PromiseTimeout,
        )
        swarm_figure("rescheduled_s", clock())
        time.sleep(3)  # and they stay there
        moved()
        lost_node_views(swarm_cluster, worker, replicas)
    verdict = check_converged(samples, healed_at=killed_at, deadline_s=budgets.RESCHEDULED_S)
    swarm_figure("moved_tasks", len(on_worker))
    verdict.assert_ok()
    # Not too early either: the managers learn of a killed node from its missing heartbeats,
    # so its tasks cannot all be replaced before the heartbeat grace.
    whole_s = next(s.t for s in samples if s.converged) - killed_at
    not_before_s = budgets.node_not_down_before_s(lead.heartbeat_period_s())
    if whole_s < not_before_s:
        raise SwarmPromiseBroken(
            f"the lost node's tasks were all replaced {whole_s:.1f} s after it was killed, "
            "before the managers could know it was down",
            expected=f"not before the heartbeat grace ({not_before_s:g} s), within "
            f"{budgets.RESCHEDULED_S:g} s (catalog heal-node-loss)",
            seen=f"{whole_s:.1f} s",
        )


def lost_node_views(swarm_cluster: Swarm, lost: SwarmNode, replicas: int) -> None:
    """While ``lost`` is down: every remaining engine runs exactly the replicated tasks the
    managers report (none on the lost node), every manager reports the same placement, and
    the global service runs once on each remaining node, never a second task in the lost
    node's stead, over a few seconds of looks."""
    lead = swarm_cluster.leader_client()
    web = wait_placement(
        swarm_cluster,
        lead,
        "web",
        replicas,
        also=lambda p: p.on(lost) == 0 and lost.name in p.silent,
        what=f"the engines to run the {replicas} tasks of web the managers report, none on "
        f"{lost.name}",
        timeout_s=10,
    )
    names = {i.id: i.hostname for i in swarm_cluster.node_list()}
    for manager in swarm_cluster.managers:
        seen = Counter(names[t.node_id] for t in swarm_cluster.client(manager).running_tasks("web"))
        assert dict(seen) == web.by_node, f"{manager.name} reports web as {dict(seen)}, not {web}"
    others = [n.name for n in swarm_cluster.nodes if n.name != lost.name]

    def global_problem(p: Placement) -> str | None:
        if p.on(lost) or any(p.on(n) != 1 for n in others) or not p.agrees or p.pending:
            return f"the global service is not once on each remaining node and none on {lost.name}"
        return None

    wait_placement(
        swarm_cluster,
        lead,
        "agent",
        len(others),
        also=lambda p: global_problem(p) is None,
        what=f"the global service to run once on each node but {lost.name}",
        timeout_s=10,
    )
    hold_placement(swarm_cluster, lead, "agent", GLOBAL_NOT_REPLACED_S, global_problem)


@pytest.mark.swarm(faults=True)
@pytest.mark.swarmcheck(
    id="SC-CHAOS-007",
    area="chaos/workload",
    doc=HOWSVC,
    title="a killed task is replaced while the control plane is slow (+500 ms round trip)",
    promise="A killed task MUST be replaced even while the control plane is slow.",
    rows=("heal-task-replace",),
    effects=("writes", "stops"),
)
def test_self_healing_with_slow_control_plane(
    swarm_cluster: Swarm,
    web: Callable[..., SwarmClient],
    swarm_fault_log: FaultLog,
    swarm_figure: Recorder,
) -> None:
    lead = web("web", replicas=3)
    with toxics.slow_control_plane(swarm_cluster, 250, 25, log=swarm_fault_log):
        victim = process.kill_task_container(swarm_cluster, "web", log=swarm_fault_log)
        task_id = str(victim.params["task_id"])
        clock = Stopwatch()
        victim.start()
        wait_task_stopped(lead, "web", task_id, timeout_s=SLOW_HEAL_S)
        swarm_figure("task_stopped_s", clock())
        running = wait_converged(lead, "web", 3, timeout_s=SLOW_HEAL_S - clock())
        swarm_figure("time_to_heal_s", clock())
        assert task_id not in {t.id for t in running}


@pytest.mark.swarm(faults=True)
@pytest.mark.swarmcheck(
    id="SC-CHAOS-008",
    area="chaos/workload",
    doc="https://docs.docker.com/engine/swarm/swarm-tutorial/rolling-update/",
    title="a rolling update keeps answering while the control plane is degraded "
    "(+200 ms round trip, jittered)",
    promise=(
        "A start-first rolling update MUST keep a service answering while the control plane "
        "is degraded."
    ),
    rows=("upd-start-first",),
    effects=("writes", "stops"),
)
def test_rolling_update_with_degraded_control_plane(
    swarm_cluster: Swarm,
    swarm_fault_log: FaultLog,
    swarm_figure: Recorder,
    judge_rolling: RollingJudge,
) -> None:
    """SC-UPD-001's check (zero failed probes, start-first kept per the managers and the
    engines) while every control-plane round trip is 200 ms (+/-100) slower."""
    with toxics.slow_control_plane(swarm_cluster, 100, 50, log=swarm_fault_log):
        run = watched_rolling_update(
            swarm_cluster,
            swarm_figure,
            replicas=3,
            order="start-first",
            update_timeout_s=SLOW_UPDATE_S,
            converge_timeout_s=SLOW_CONVERGE_S,
        )
    judge_rolling(run, "web v1 -> v2 with +200 ms control-plane round trips")
