"""Workloads under faults: lost workers, slow control planes, degraded rolling updates."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from suites import budgets
from suites.conftest import RollingJudge
from swarmcheck.checkers.convergence import ReplicaSample, check_converged
from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.errors import PromiseTimeout
from swarmcheck.faults import process, toxics
from swarmcheck.faults.base import FaultLog
from swarmcheck.plugin.fixtures import Recorder
from swarmcheck.timing import Stopwatch, boot_clock, wait_until
from swarmcheck.workload.rolling import watched_rolling_update
from swarmcheck.workload.service import wait_converged, wait_task_stopped

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
SLOW_CONVERGE_S = 60.0
"""The same latency: N/N reached and seen on the engines after the update completed."""


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-CHAOS-006",
    area="chaos/workload",
    doc=HOWSVC,
    title="a lost worker's tasks are rescheduled on the other nodes",
    promise=(
        "A lost worker's tasks MUST be rescheduled on the remaining nodes within Docker's budget."
    ),
    rows=("heal-node-loss",),
)
def test_lost_worker_tasks_rescheduled(
    cluster: Cluster, web: Callable[..., SwarmClient], fault_log: FaultLog, figure: Recorder
) -> None:
    replicas = 2 * cluster.spec.size
    lead = web("web", replicas=replicas)
    worker = cluster.workers[0]
    on_worker = [t for t in lead.running_tasks("web") if t.node_id == worker.node_id]
    assert on_worker, f"no task of web landed on {worker.name}"
    samples: list[ReplicaSample] = []  # tasks running off the lost worker, over time
    clock = Stopwatch()
    with process.kill_node(cluster, worker, log=fault_log):
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
        figure("rescheduled_s", clock())
        time.sleep(3)  # and they stay there
        moved()
    verdict = check_converged(samples, healed_at=killed_at, deadline_s=budgets.RESCHEDULED_S)
    figure("moved_tasks", len(on_worker))
    verdict.assert_ok()


@pytest.mark.swarm(faults=True)
@pytest.mark.swarmcheck(
    id="SC-CHAOS-007",
    area="chaos/workload",
    doc=HOWSVC,
    title="a killed task is replaced while the control plane is slow (+500 ms round trip)",
    promise="A killed task MUST be replaced even while the control plane is slow.",
    rows=("heal-task-replace",),
)
def test_self_healing_with_slow_control_plane(
    cluster: Cluster, web: Callable[..., SwarmClient], fault_log: FaultLog, figure: Recorder
) -> None:
    lead = web("web", replicas=3)
    with toxics.slow_control_plane(cluster, 250, 25, log=fault_log):
        victim = process.kill_task_container(cluster, "web", log=fault_log)
        task_id = str(victim.params["task_id"])
        clock = Stopwatch()
        victim.start()
        wait_task_stopped(lead, "web", task_id, timeout_s=SLOW_HEAL_S)
        figure("task_stopped_s", clock())
        running = wait_converged(lead, "web", 3, timeout_s=SLOW_HEAL_S - clock())
        figure("time_to_heal_s", clock())
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
)
def test_rolling_update_with_degraded_control_plane(
    cluster: Cluster, fault_log: FaultLog, figure: Recorder, judge_rolling: RollingJudge
) -> None:
    """SC-UPD-001's check (zero failed probes, start-first kept per the managers and the
    engines) while every control-plane round trip is 200 ms (+/-100) slower."""
    with toxics.slow_control_plane(cluster, 100, 50, log=fault_log):
        run = watched_rolling_update(
            cluster,
            figure,
            replicas=3,
            order="start-first",
            update_timeout_s=SLOW_UPDATE_S,
            converge_timeout_s=SLOW_CONVERGE_S,
        )
    judge_rolling(run, "web v1 -> v2 with +200 ms control-plane round trips")
