"""Global services and jobs: one task per node (also on a node that joins later), a global
service that cannot be scaled, replicated jobs (completions, concurrency, no restarts, a rerun
on a forced update) and global jobs.

Shapes: 3 managers + 1 worker (``swarm(workers=1)``) for the node that joins later; the default
cluster (3 managers) for the rest.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from swarmcheck.api import (
    EngineAPIError,
    Recorder,
    Stopwatch,
    Swarm,
    SwarmClient,
    create_placed_service,
    ensure_worker,
    force_update,
    hold,
    join_worker,
    leave_and_remove,
    promise_timeout,
    task_container,
    update_spec,
    wait_placement,
    wait_until,
)

MODES = "https://docs.docker.com/engine/swarm/services/#replicated-or-global-services"
JOBS = "https://docs.docker.com/reference/cli/docker/service/create/#running-as-a-job"
ACTIVE = frozenset(
    {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"}
)
"""Task states of a task on its way to run or running (swarm-task-states)."""
JOB_BUDGET_S = 60.0
"""moby's job test allows 15 s (ServicePoll) and saw 7 completions take close to it on CI; a
busy 2-core machine running several swarms gets four times that."""
NO_RESTART_WINDOW_S = 3.0
"""How long finished job tasks are watched for restarts: six times the 0.5 s restart delay the
job is created with."""


def _job_tasks(client: SwarmClient, service: str) -> list[dict[str, Any]]:
    """The raw task objects (JobIteration is not in the typed view)."""
    return client.raw_tasks(service)


def _state(task: dict[str, Any]) -> str:
    return str(task["Status"]["State"])


def _iteration(obj: dict[str, Any]) -> int:
    return int((obj.get("JobIteration") or {}).get("Index") or 0)


def _assert_exited_zero(swarm_cluster: Swarm, client: SwarmClient, service: str) -> Counter[str]:
    """Every completed task's container exited 0 on the engine of its node; per node count."""
    per_node: Counter[str] = Counter()
    for task in client.tasks(service):
        assert task.state == "complete", f"task {task.id[:10]} of {service} is {task.state}"
        node, container = task_container(swarm_cluster, task)
        state = container["State"]
        assert state["Status"] == "exited" and state["ExitCode"] == 0, (
            f"the container of completed task {task.id[:10]} on {node.name}: {state['Status']}"
            f" exit {state['ExitCode']}"
        )
        per_node[node.name] += 1
    return per_node


@pytest.mark.swarm(workers=1)
@pytest.mark.swarmcheck(
    id="SC-SVC-004",
    area="services",
    doc=MODES,
    title="a global service runs one task per node, and on a node that joins later",
    promise="Swarm MUST run exactly one task of a global service on every available node, "
    "including a node that joins after the service was created.",
    rows=("svc-global",),
    needs=(),
    effects=("writes", "membership"),
)
def test_global_service_one_per_node(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    lead = swarm_cluster.leader_client()
    worker = swarm_cluster.workers[0]
    create_placed_service(lead, "everywhere", None, mode="global")
    seen = wait_placement(swarm_cluster, lead, "everywhere", swarm_cluster.spec.size)
    assert seen.by_node == {n.name: 1 for n in swarm_cluster.nodes}, f"one task per node: {seen}"
    try:
        leave_and_remove(swarm_cluster, worker)
        clock = Stopwatch()
        join_worker(swarm_cluster, worker)
        # sk global orchestrator: a task for every new node; the catalog allows 30 s.
        joined = wait_placement(
            swarm_cluster,
            lead,
            "everywhere",
            swarm_cluster.spec.size,
            also=lambda p: p.on(worker) == 1,
            what=f"the global service to start a task on {worker.name}, which joined later",
        )
        swarm_figure("task_on_joined_node_s", clock())
        assert joined.by_node == {n.name: 1 for n in swarm_cluster.nodes}, f"one per node: {joined}"
    finally:
        ensure_worker(swarm_cluster, worker)


@pytest.mark.swarmcheck(
    id="SC-SVC-005",
    area="services",
    doc="https://docs.docker.com/reference/cli/docker/service/scale/",
    title="a global service cannot be scaled: the engine refuses to make it replicated",
    promise="Swarm MUST refuse to turn a global service into a replicated one ('service mode "
    "change is not allowed'), so it cannot be scaled, and MUST keep its tasks untouched.",
    rows=("svc-scale",),
    needs=(),
    effects=("writes",),
)
def test_global_service_cannot_be_scaled(swarm_cluster: Swarm) -> None:
    lead = swarm_cluster.leader_client()
    create_placed_service(lead, "everywhere", None, mode="global")
    wait_placement(swarm_cluster, lead, "everywhere", swarm_cluster.spec.size)
    before = {t.id for t in lead.running_tasks("everywhere")}

    def to_replicated(spec: dict[str, Any]) -> None:
        spec["Mode"] = {"Replicated": {"Replicas": 2 * swarm_cluster.spec.size}}

    with pytest.raises(EngineAPIError) as refused:
        update_spec(lead, "everywhere", to_replicated)
    assert "service mode change is not allowed" in refused.value.explanation, refused.value
    after = wait_placement(swarm_cluster, lead, "everywhere", swarm_cluster.spec.size)
    assert {t.id for t in lead.running_tasks("everywhere")} == before, "tasks were replaced"
    assert after.by_node == {n.name: 1 for n in swarm_cluster.nodes}, f"one per node: {after}"


@pytest.mark.swarmcheck(
    id="SC-SVC-006",
    area="services",
    doc=JOBS,
    title="a replicated job runs TotalCompletions tasks, at most MaxConcurrent at once, and "
    "never restarts them",
    promise="Swarm MUST run a replicated job's tasks until exactly TotalCompletions have "
    "completed, never more than MaxConcurrent at once, and MUST NOT restart completed tasks "
    "even with restart condition any.",
    rows=("svc-jobs",),
    needs=(),
    effects=("writes",),
)
def test_replicated_job(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    lead = swarm_cluster.leader_client()
    total, concurrent = 5, 2
    create_placed_service(
        lead,
        "job",
        total,
        mode="replicated-job",
        concurrency=concurrent,
        command=["sleep", "0.5"],  # long enough that concurrent tasks overlap
        restart_condition="any",
    )
    peak = [0]
    clock = Stopwatch()

    def finished() -> bool | None:
        tasks = _job_tasks(lead, "job")
        active = sum(_state(t) in ACTIVE for t in tasks)
        done = sum(_state(t) == "complete" for t in tasks)
        peak[0] = max(peak[0], active)
        # moby's JobComplete invariants, checked at every look.
        if active > concurrent or active + done > total:
            raise AssertionError(
                f"job broke its limits: {active} running at once (max {concurrent}), "
                f"{active + done} tasks for {total} completions"
            )
        return True if done == total and not active else None

    wait_until(
        finished,
        what=f"the job to complete {total} tasks",
        timeout_s=JOB_BUDGET_S,
        interval_s=0.1,
        timeout_error=promise_timeout,
    )
    swarm_figure("job_complete_s", clock())
    swarm_figure("peak_concurrent", peak[0])
    assert peak[0] == concurrent, f"the job never ran {concurrent} tasks at once: peak {peak[0]}"
    assert sum(_assert_exited_zero(swarm_cluster, lead, "job").values()) == total

    def restarted() -> str | None:
        tasks = _job_tasks(lead, "job")
        if len(tasks) != total or any(_state(t) != "complete" for t in tasks):
            states = Counter(_state(t) for t in tasks)
            return f"completed job tasks were restarted or added: {dict(states)}"
        return None

    hold(NO_RESTART_WINDOW_S, restarted)


@pytest.mark.swarmcheck(
    id="SC-SVC-007",
    area="services",
    doc=JOBS,
    title="a forced update runs a finished job again, as a new job iteration",
    promise="Swarm MUST run a completed job again when it is force-updated, with a higher "
    "JobIteration index on the service and on the new tasks.",
    rows=("svc-jobs",),
    needs=(),
    effects=("writes",),
)
def test_job_rerun_on_forced_update(swarm_cluster: Swarm) -> None:
    lead = swarm_cluster.leader_client()
    total = 2
    create_placed_service(
        lead, "job", total, mode="replicated-job", concurrency=total, command=["true"]
    )

    def completed(iteration: int) -> bool | None:
        tasks = [t for t in _job_tasks(lead, "job") if _iteration(t) == iteration]
        return True if len(tasks) == total and all(_state(t) == "complete" for t in tasks) else None

    wait_until(
        lambda: completed(0),
        what="the job's first run to complete",
        timeout_s=JOB_BUDGET_S,
        timeout_error=promise_timeout,
    )
    with_status = lead.inspect_service("job")
    assert _iteration(with_status.get("JobStatus") or {}) == 0, with_status.get("JobStatus")

    force_update(lead, "job")
    wait_until(
        lambda: completed(1),
        what="the forced update to run the job again (JobIteration 1) to completion",
        timeout_s=JOB_BUDGET_S,
        timeout_error=promise_timeout,
    )
    status = lead.inspect_service("job").get("JobStatus") or {}
    assert _iteration(status) == 1, f"JobStatus after the forced update: {status}"
    by_iteration = Counter(_iteration(t) for t in _job_tasks(lead, "job"))
    assert by_iteration == {0: total, 1: total}, f"tasks per job iteration: {dict(by_iteration)}"
    assert sum(_assert_exited_zero(swarm_cluster, lead, "job").values()) == 2 * total


@pytest.mark.swarmcheck(
    id="SC-SVC-008",
    area="services",
    doc=JOBS,
    title="a global job runs one task to completion on every node",
    promise="Swarm MUST run exactly one task of a global job on every node, each to "
    "completion, and MUST NOT run it again.",
    rows=("svc-jobs",),
    needs=(),
    effects=("writes",),
)
def test_global_job(swarm_cluster: Swarm) -> None:
    lead = swarm_cluster.leader_client()
    create_placed_service(lead, "gjob", None, mode="global-job", command=["true"])
    nodes = swarm_cluster.spec.size

    def done() -> bool | None:
        tasks = _job_tasks(lead, "gjob")
        return True if len(tasks) == nodes and all(_state(t) == "complete" for t in tasks) else None

    wait_until(
        done,
        what=f"the global job to complete one task on each of {nodes} nodes",
        timeout_s=JOB_BUDGET_S,
        timeout_error=promise_timeout,
    )
    per_node = _assert_exited_zero(swarm_cluster, lead, "gjob")
    assert per_node == {n.name: 1 for n in swarm_cluster.nodes}, (
        f"completed tasks per node: {per_node}"
    )

    def again() -> str | None:
        count = len(_job_tasks(lead, "gjob"))
        return f"the global job ran again: {count} tasks" if count != nodes else None

    hold(NO_RESTART_WINDOW_S / 2, again)
