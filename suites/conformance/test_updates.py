"""Service updates: batches and delay, failure actions (pause, rollback), the monitor window,
manual rollback and forced updates.

What is asserted is what the engines run before, during and after the update (image, container
ids, the version each task answers) next to what the managers report (UpdateStatus, task
creation times, `docker events`). Update delays and monitor windows are 0.5-2 s, enough to tell
each behaviour from its absence on a loaded 2-core machine.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from swarmcheck.api import (
    EngineAPIError,
    EngineContainer,
    Recorder,
    RestartPolicy,
    RollbackConfig,
    Stopwatch,
    Swarm,
    SwarmcheckError,
    SwarmClient,
    TaskRecord,
    UpdateConfig,
    UpdateStatus,
    answer_of,
    create_policy_service,
    engine_containers,
    remove_services_settled,
    rollback_service,
    running_images,
    service_attrs,
    set_container_spec,
    task_records,
    update_service,
    update_state_events,
    update_status,
    wait_promise,
    wait_update_state,
    workload_image,
)

ROLLING = "https://docs.docker.com/engine/swarm/swarm-tutorial/rolling-update/"
AUTO_ROLLBACK = (
    "https://docs.docker.com/engine/swarm/services/#automatically-roll-back-if-an-update-fails"
)
ROLLBACK = "https://docs.docker.com/reference/cli/docker/service/rollback/"
CREATE = "https://docs.docker.com/reference/cli/docker/service/create/"
UPDATE = "https://docs.docker.com/reference/cli/docker/service/update/"

V1, V2 = workload_image("v1"), workload_image("v2")
# moby's update tests poll 30 s per batch (defaultReconciliationTimeout) and 15 s for
# UpdateStatus completed (ServicePoll); tasks here start in well under that.
BATCH_BUDGET_S = 30.0
QUICK_RESTART = RestartPolicy("any", delay_s=0.2)
CRASH = ["sh", "-c", "exit 1"]
FAIL_IN_SLOT_1 = ["sh", "-c", '[ "$SLOT" = 1 ] && exit 1; exec /bin/sh /serve.sh']
FLAGS = "/tmp/swarmcheck-flags"


pytestmark = pytest.mark.usefixtures("services_settled")


def running_containers(swarm_cluster: Swarm, service: str) -> list[EngineContainer]:
    return [c for c in engine_containers(swarm_cluster, service) if c.running]


def wait_engines_run(
    swarm_cluster: Swarm, service: str, count: int, image: str, timeout_s: float = BATCH_BUDGET_S
) -> list[EngineContainer]:
    """Wait until exactly ``count`` containers of ``service`` run on the engines, all on
    ``image``; return them."""

    def converged() -> list[EngineContainer] | None:
        running = running_containers(swarm_cluster, service)
        if len(running) == count and all(c.image == image for c in running):
            return running
        return None

    return wait_promise(
        converged,
        what=f"run {count} containers of {service} on {image}",
        timeout_s=timeout_s,
        seen=lambda: str(Counter(c.image for c in running_containers(swarm_cluster, service))),
    )


def assert_answers(swarm_cluster: Swarm, containers: list[EngineContainer], version: str) -> None:
    answers = {c.id[:12]: answer_of(swarm_cluster, c) for c in containers}
    assert set(answers.values()) == {version}, f"the tasks answer {answers}, expected {version}"


@contextlib.contextmanager
def node_folder(swarm_cluster: Swarm, path: str) -> Iterator[str]:
    """A folder on every node (for a bind mount), removed with what it holds afterwards."""
    for node in swarm_cluster.nodes:
        node.exec(["mkdir", "-p", path])
    try:
        yield path
    finally:
        for node in swarm_cluster.nodes:
            with contextlib.suppress(SwarmcheckError):
                node.exec(["rm", "-rf", path])


def wait_events(client: SwarmClient, service_id: str, since: float, last: str) -> list[str]:
    """The service's ``updatestate.new`` events since ``since``, once ``last`` is among them
    (the engine publishes an event just after the state it reports changes)."""

    def arrived() -> list[str] | None:
        events = update_state_events(client, service_id, since)
        return events if events[-1:] == [last] else None

    return wait_promise(
        arrived,
        what=f"publish the update state {last} as a service event",
        timeout_s=5,
        seen=lambda: str(update_state_events(client, service_id, since)),
    )


def new_tasks(client: SwarmClient, service: str, image: str, after: float) -> list[TaskRecord]:
    """Tasks of ``image`` the managers created after ``after`` (epoch s), oldest first."""
    return [t for t in task_records(client, service) if t.image == image and t.created_at > after]


def started_at(swarm_cluster: Swarm, service: str) -> dict[str, float]:
    """When each task's container started, by task id, from the engines."""
    return {
        c.task_id: c.started_at for c in engine_containers(swarm_cluster, service) if c.started_at
    }


# -- rolling batches -------------------------------------------------------------------------
@pytest.mark.swarmcheck(
    id="SC-UPD-003",
    area="updates",
    doc=ROLLING,
    title="a rolling update replaces Parallelism tasks at a time, Delay apart",
    promise=(
        "Swarm MUST update at most Parallelism tasks at a time, MUST wait Delay after a task is "
        "updated before updating the next, and MUST move every task to the new spec."
    ),
    rows=("upd-rolling-batches",),
    needs=(),
    effects=("writes",),
)
def test_rolling_update_batches(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    replicas, parallelism, delay_s = 4, 2, 1.0
    lead = swarm_cluster.leader_client()
    create_policy_service(
        lead,
        "web",
        replicas=replicas,
        update=UpdateConfig(parallelism=parallelism, delay_s=delay_s, monitor_s=0.5),
        restart=QUICK_RESTART,
    )
    wait_engines_run(swarm_cluster, "web", replicas, V1)
    samples: list[Counter[str]] = []
    began = time.time()
    clock = Stopwatch()
    update_service(lead, "web", set_container_spec(Image=V2), "image v1 -> v2")

    def converged() -> bool | None:
        samples.append(running_images(swarm_cluster, "web"))
        return True if samples[-1] == Counter({V2: replicas}) else None

    # Completion (one monitor period later) is SC-UPD-009's subject: converged is enough here.
    wait_promise(
        converged,
        what=f"run {replicas} v2 tasks after the rolling update",
        timeout_s=BATCH_BUDGET_S * replicas / parallelism,
        seen=lambda: f"running images {dict(samples[-1]) if samples else '?'}",
    )
    swarm_figure("update_s", clock())
    assert_answers(swarm_cluster, wait_engines_run(swarm_cluster, "web", replicas, V2), "v2")

    # What the engines ran, sampled through the update: never more than Parallelism tasks
    # down, old ones only going, new ones only coming.
    for before, after in itertools.pairwise(samples):
        assert after[V1] <= before[V1] and after[V2] >= before[V2], (
            f"the image histogram went back: {dict(before)} -> {dict(after)}"
        )
    down = max(replicas - s[V1] - s[V2] for s in samples)
    assert down <= parallelism, f"{down} tasks were down at once (parallelism {parallelism})"
    assert any(0 < s[V2] < replicas for s in samples), "no sample caught the update half-way"

    # When the managers created each new task, and when its container started on its engine.
    tasks = new_tasks(lead, "web", V2, began)
    assert len(tasks) == replicas, f"{len(tasks)} v2 tasks for {replicas} replicas"
    starts = started_at(swarm_cluster, "web")
    created = [t.created_at for t in tasks]
    first_up = min(starts[t.id] for t in tasks[:parallelism])
    assert created[parallelism - 1] < first_up, (
        f"the first {parallelism} tasks were not updated together: the last was created "
        f"{created[parallelism - 1] - first_up:+.2f} s after the first came up"
    )
    for i in range(parallelism, replicas):
        assert created[i] >= first_up + delay_s, (
            f"task {i + 1} was created {created[i] - first_up:.2f} s after the first batch came "
            f"up; the update delay is {delay_s} s"
        )
        assert created[i] - created[i - parallelism] >= delay_s, (
            f"tasks {i - parallelism + 1} and {i + 1} were created "
            f"{created[i] - created[i - parallelism]:.2f} s apart (delay {delay_s} s)"
        )


# -- failure action pause ----------------------------------------------------------------------
@pytest.mark.swarmcheck(
    id="SC-UPD-004",
    area="updates",
    doc=ROLLING,
    title="failures above MaxFailureRatio pause the update (the default action); an update resumes",
    promise=(
        "Swarm MUST pause an update (by default) once the failed fraction of updated tasks "
        "exceeds MaxFailureRatio, with the message naming the failed task, leaving the "
        "remaining old tasks running, and a new spec update MUST resume it."
    ),
    rows=("upd-failure-pause",),
    needs=(),
    effects=("writes",),
)
def test_failed_update_pauses(swarm_cluster: Swarm) -> None:
    replicas = 4
    lead = swarm_cluster.leader_client()
    # No FailureAction: pause is the documented default (UpdateConfig sends "continue" unless
    # told otherwise). 1 failure in 4 (0.25) is tolerated, the second is over the ratio.
    create_policy_service(
        lead,
        "web",
        replicas=replicas,
        update=UpdateConfig(
            parallelism=1, monitor_s=2, max_failure_ratio=0.25, failure_action=None
        ),
        restart=QUICK_RESTART,
    )
    originals = {c.id for c in wait_engines_run(swarm_cluster, "web", replicas, V1)}
    began = time.time()
    # The failing version keeps the v1 image (its tasks are told apart by creation time), so
    # only the working v2 the update resumes with runs v2 containers.
    update_service(lead, "web", set_container_spec(Command=CRASH), "a version that exits 1")
    status = wait_update_state(lead, "web", "paused", timeout_s=2 * BATCH_BUDGET_S)

    failing = new_tasks(lead, "web", V1, began)
    named = [t for t in failing if t.id in status.message]
    assert named and status.message == (
        f"update paused due to failure or early termination of task {named[0].id}"
    ), f"pause message: {status.message!r}"
    assert named[0].state in ("failed", "complete"), f"the named task is {named[0].state}"
    # The first failure is within the ratio: the task that paused the update is in another
    # slot than the first task of the failing version that failed (restarts there are not the
    # updater's).
    first_failure = min(
        (t for t in failing if t.state in ("failed", "complete")), key=lambda t: t.status_at or 0
    )
    assert named[0].slot != first_failure.slot, (
        f"the update paused at its first failure (task {first_failure.id} in slot "
        f"{first_failure.slot}), but MaxFailureRatio 0.25 over {replicas} tasks tolerates one"
    )
    # The slots the update did not reach keep their original v1 task and container.
    updated = {t.slot for t in failing}
    kept = [
        t
        for t in task_records(lead, "web")
        if t.created_at < began and t.desired_state == "running" and t.slot not in updated
    ]
    running = {c.id for c in running_containers(swarm_cluster, "web")}
    assert kept and len(kept) == replicas - len(updated), (
        f"the update touched slots {sorted(s or 0 for s in updated)} of {replicas}, and "
        f"{len(kept)} v1 tasks are still meant to run"
    )
    for task in kept:
        assert task.container_id in originals and task.container_id in running, (
            f"slot {task.slot}: the old task's container {task.container_id} does not run "
            "on its engine any more"
        )

    def resume(spec: dict[str, Any]) -> None:
        set_container_spec(Image=V2, Command=None)(spec)
        spec["UpdateConfig"]["Parallelism"] = 0  # the rest at once

    update_service(lead, "web", resume, "v2 that works")
    resumed = wait_update_state(lead, "web", "completed", timeout_s=2 * BATCH_BUDGET_S)
    assert resumed.started_at and status.started_at and resumed.started_at > status.started_at, (
        "the new update did not reset UpdateStatus"
    )
    assert_answers(swarm_cluster, wait_engines_run(swarm_cluster, "web", replicas, V2), "v2")


# -- rollback ---------------------------------------------------------------------------------
@pytest.mark.swarmcheck(
    id="SC-UPD-005",
    area="updates",
    doc=AUTO_ROLLBACK,
    title="failure action rollback restores the previous spec: rollback_completed, v1 answers",
    promise=(
        "Swarm MUST roll a failing update back when its failure action is rollback: state "
        "rollback_started with the failed task named, then rollback_completed with every task "
        "running the previous spec."
    ),
    rows=("upd-auto-rollback",),
    needs=(),
    effects=("writes",),
)
def test_failed_update_rolls_back(swarm_cluster: Swarm) -> None:
    replicas = 3
    lead = swarm_cluster.leader_client()
    service_id = create_policy_service(
        lead,
        "web",
        replicas=replicas,
        update=UpdateConfig(parallelism=0, monitor_s=1, failure_action="rollback"),
        # rollback_started lasts while the rollback replaces tasks, then its 3 s monitor window,
        # so a status poll (every 0.1 s, each slower under load) sees it.
        rollback=RollbackConfig(parallelism=0, monitor_s=3),
        restart=QUICK_RESTART,
    )
    wait_engines_run(swarm_cluster, "web", replicas, V1)
    began = time.time()
    # v2 fails in slot 1 only, and every slot gets it at once: when the rollback starts, the
    # other slots run v2, so it has tasks to replace. A rollback that finds every task already
    # on the previous spec completes at once (swarmkit's updater: "abort immediately if all
    # tasks are clean"), and rollback_started is then too short for any poll: it happened when
    # every v2 task crashed and the restarts, racing the rollback, made v1 tasks.
    update_service(
        lead,
        "web",
        set_container_spec(Image=V2, Env=["SLOT={{.Task.Slot}}"], Command=FAIL_IN_SLOT_1),
        "v2 that exits 1 in slot 1",
    )
    seen: list[UpdateStatus] = []

    def rolled_back() -> UpdateStatus | None:
        status = update_status(lead, "web")
        if not seen or seen[-1] != status:
            seen.append(status)
        return status if status.state == "rollback_completed" else None

    wait_promise(
        rolled_back,
        what="roll the failed update back",
        timeout_s=2 * BATCH_BUDGET_S,
        seen=lambda: " -> ".join(str(s) for s in seen),
    )
    started = [s for s in seen if s.state == "rollback_started"]
    failed = [t for t in new_tasks(lead, "web", V2, began) if t.slot == 1]
    assert started, f"rollback_started was never seen: {[str(s) for s in seen]}"
    assert any(
        started[0].message
        == f"update rolled back due to failure or early termination of task {t.id}"
        for t in failed
    ), f"rollback message {started[0].message!r} does not name a failed v2 task of slot 1"
    events = wait_events(lead, service_id, began, "rollback_completed")
    assert events == ["updating", "rollback_started", "rollback_completed"], f"events: {events}"
    spec = service_attrs(lead, "web")["Spec"]["TaskTemplate"]["ContainerSpec"]
    assert spec.get("Image", "").split("@")[0] == V1 and not {"Command", "Env"} & set(spec), (
        f"the service spec after the rollback: {spec}"
    )
    assert_answers(swarm_cluster, wait_engines_run(swarm_cluster, "web", replicas, V1), "v1")


@pytest.mark.swarm(capabilities=("containers",))
@pytest.mark.swarmcheck(
    id="SC-UPD-006",
    area="updates",
    doc=AUTO_ROLLBACK,
    title="a rollback that fails pauses (rollback_paused) and is never itself rolled back",
    promise=(
        "Swarm MUST pause a rollback whose tasks fail (rollback failure action pause, the "
        "default) in state rollback_paused, keeping the previous spec, and MUST NOT roll it "
        "back again."
    ),
    rows=("upd-auto-rollback",),
    needs=(),
    effects=("writes",),
)
def test_failed_rollback_pauses(swarm_cluster: Swarm) -> None:
    replicas = 2
    lead = swarm_cluster.leader_client()
    # The previous version runs until a flag file appears on the nodes; from then on its new
    # containers exit 1 at once (its environment broke), those already running keep running.
    old_command = ["sh", "-c", "[ -e /flags/broken ] && exit 1; exec sleep 600"]
    with node_folder(swarm_cluster, FLAGS) as flags:
        service_id = create_policy_service(
            lead,
            "web",
            replicas=replicas,
            command=old_command,
            mounts=[f"{flags}:/flags:ro"],
            update=UpdateConfig(parallelism=0, monitor_s=3, failure_action="rollback"),
            # No FailureAction: pause is the documented default for rollbacks too.
            rollback=RollbackConfig(parallelism=0, monitor_s=3, failure_action=None),
            restart=QUICK_RESTART,
        )
        wait_engines_run(swarm_cluster, "web", replicas, V1)
        for node in swarm_cluster.nodes:
            node.exec(["touch", f"{flags}/broken"])
        began = time.time()
        # The new version fails in slot 1 only: the other slots run it when the rollback
        # starts, so the rollback has tasks to replace, and its replacements fail.
        new_command = ["sh", "-c", '[ "$SLOT" = 1 ] && exit 1; exec sleep 600']
        update_service(
            lead,
            "web",
            set_container_spec(Env=["SLOT={{.Task.Slot}}"], Command=new_command),
            "a version that fails in slot 1",
        )
        status = wait_update_state(lead, "web", "rollback_paused", timeout_s=3 * BATCH_BUDGET_S)
        rollback_tasks = [
            t for t in new_tasks(lead, "web", V1, began) if list(t.command) == old_command
        ]
        named = [t for t in rollback_tasks if t.id in status.message]
        assert named, f"rollback_paused message {status.message!r} names no task of the rollback"
        assert status.message.endswith(
            f"due to failure or early termination of task {named[0].id}"
        ), f"rollback_paused message: {status.message!r}"
        time.sleep(1)  # a rollback of the rollback would follow at once
        events = update_state_events(lead, service_id, began)
        assert events == ["updating", "rollback_started", "rollback_paused"], (
            f"update states after the rollback failed: {events}"
        )
        final = update_status(lead, "web")
        assert final.state == "rollback_paused", f"the paused rollback moved on: {final}"
        spec = service_attrs(lead, "web")["Spec"]["TaskTemplate"]["ContainerSpec"]
        assert spec.get("Command") == old_command, f"the spec is not the previous one: {spec}"
        remove_services_settled(swarm_cluster)  # before the folder the tasks mount goes


@pytest.mark.swarmcheck(
    id="SC-UPD-007",
    area="updates",
    doc=ROLLBACK,
    title="docker service rollback restores PreviousSpec with RollbackConfig and swaps the specs",
    promise=(
        "Swarm MUST, on a manual rollback, restore the previous spec on the server "
        "(rollback_started, 'manually requested rollback', then rollback_completed) following "
        "RollbackConfig, and swap Spec and PreviousSpec so a second rollback returns."
    ),
    rows=("upd-manual-rollback",),
    needs=(),
    effects=("writes",),
)
def test_manual_rollback(swarm_cluster: Swarm) -> None:
    replicas = 2
    lead = swarm_cluster.leader_client()
    # One at a time forward, all at once back: which config a rollback follows shows.
    create_policy_service(
        lead,
        "web",
        replicas=replicas,
        update=UpdateConfig(parallelism=1, monitor_s=0.5),
        rollback=RollbackConfig(parallelism=replicas, monitor_s=0.5),
        restart=QUICK_RESTART,
    )
    wait_engines_run(swarm_cluster, "web", replicas, V1)
    began = time.time()
    update_service(lead, "web", set_container_spec(Image=V2), "image v1 -> v2")
    wait_update_state(lead, "web", "completed", timeout_s=replicas * BATCH_BUDGET_S)
    wait_engines_run(swarm_cluster, "web", replicas, V2)
    forward = new_tasks(lead, "web", V2, began)
    starts = started_at(swarm_cluster, "web")
    assert forward[1].created_at >= starts[forward[0].id], (
        "with update parallelism 1 the second task was created before the first came up"
    )

    back_began = time.time()
    rollback_service(lead, "web")
    status = update_status(lead, "web")
    assert (status.state, status.message) == ("rollback_started", "manually requested rollback"), (
        f"right after `docker service rollback`: {status}"
    )
    wait_update_state(lead, "web", "rollback_completed", timeout_s=BATCH_BUDGET_S)
    assert_answers(swarm_cluster, wait_engines_run(swarm_cluster, "web", replicas, V1), "v1")
    back = new_tasks(lead, "web", V1, back_began)
    starts = started_at(swarm_cluster, "web")
    assert len(back) == replicas, f"{len(back)} tasks made by the rollback"
    assert back[-1].created_at < min(starts[t.id] for t in back), (
        f"with rollback parallelism {replicas} every task is replaced at once; the rollback "
        "followed another config"
    )
    attrs = service_attrs(lead, "web")
    images = [
        attrs[key]["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0]
        for key in ("Spec", "PreviousSpec")
    ]
    # Swapped: a second `docker service rollback` would return to v2.
    assert images == [V1, V2], f"Spec and PreviousSpec after the rollback: {images}"


@pytest.mark.swarmcheck(
    id="SC-UPD-008",
    area="updates",
    doc=ROLLBACK,
    title="rolling back a service that was never updated is refused: no previous spec",
    promise=(
        "Swarm MUST refuse a rollback of a service without a previous spec with 'service <id> "
        "does not have a previous spec' and leave the service unchanged."
    ),
    rows=("upd-manual-rollback",),
    needs=(),
    effects=("writes",),
)
def test_rollback_without_previous_spec_refused(swarm_cluster: Swarm) -> None:
    lead = swarm_cluster.leader_client()
    service_id = create_policy_service(lead, "web", replicas=0)
    before = service_attrs(lead, "web")
    with pytest.raises(EngineAPIError) as refused:
        rollback_service(lead, "web")
    # swarmkit answers FailedPrecondition, which the engine maps to 400.
    assert refused.value.status_code == 400, f"status {refused.value.status_code}"
    assert refused.value.explanation.endswith(
        f"service {service_id} does not have a previous spec"
    ), f"refusal: {refused.value.explanation!r}"
    after = service_attrs(lead, "web")
    assert after["Version"] == before["Version"] and after["Spec"] == before["Spec"]
    assert after.get("UpdateStatus") is None, f"UpdateStatus: {after.get('UpdateStatus')}"


# -- monitor window ---------------------------------------------------------------------------
@pytest.mark.swarmcheck(
    id="SC-UPD-009",
    area="updates",
    doc=CREATE,
    title="only failures within Monitor of a task's start count; completed comes Monitor later",
    promise=(
        "Swarm MUST count an updated task's failure against the update only within the Monitor "
        "period after it starts, and MUST report the update completed no sooner than one "
        "Monitor period after the last task started."
    ),
    rows=("upd-monitor-window",),
    needs=(),
    effects=("writes",),
)
def test_update_monitor_window(swarm_cluster: Swarm) -> None:
    monitor_s = 2.0
    lead = swarm_cluster.leader_client()
    crash_after = {"early": 0.2, "late": 2 * monitor_s}  # seconds a new task lives
    for name in crash_after:
        create_policy_service(
            lead,
            name,
            update=UpdateConfig(parallelism=1, monitor_s=monitor_s, failure_action="pause"),
            restart=QUICK_RESTART,
        )
    for name in crash_after:
        wait_engines_run(swarm_cluster, name, 1, V1)
    began = time.time()
    for name, after_s in crash_after.items():
        update_service(
            lead,
            name,
            set_container_spec(Command=["sh", "-c", f"sleep {after_s}; exit 1"]),
            f"a version that exits 1 after {after_s} s",
        )
    early = wait_update_state(lead, "early", "paused", timeout_s=BATCH_BUDGET_S)
    late = wait_update_state(lead, "late", "completed", timeout_s=BATCH_BUDGET_S)
    (early_task, *_) = new_tasks(lead, "early", V1, began)
    assert early.message.endswith(early_task.id), f"pause message: {early.message!r}"

    late_task = new_tasks(lead, "late", V1, began)[0]
    late_start = started_at(swarm_cluster, "late")[late_task.id]
    assert late.completed_at is not None
    assert late.completed_at - late_start >= monitor_s, (
        f"completed {late.completed_at - late_start:.2f} s after the last task started; the "
        f"monitor period is {monitor_s} s"
    )

    def crashed() -> TaskRecord | None:
        now = {t.id: t for t in task_records(lead, "late")}.get(late_task.id)
        return now if now and now.state == "failed" else None

    wait_promise(
        crashed,
        what="fail the late task (its command exits 1)",
        timeout_s=BATCH_BUDGET_S,
        seen=lambda: str([t.state for t in task_records(lead, "late")]),
    )
    after_crash = update_status(lead, "late")
    assert after_crash.state == "completed", (
        f"a failure {crash_after['late']} s after the start, outside the {monitor_s} s monitor "
        f"window, changed the update to {after_crash}"
    )


# -- force ------------------------------------------------------------------------------------
@pytest.mark.swarmcheck(
    id="SC-UPD-010",
    area="updates",
    doc=UPDATE,
    title="a forced update with no change replaces every task with a new container",
    promise=(
        "Swarm MUST replace every task of a service whose ForceUpdate is incremented with no "
        "other change, with new containers on the engines, reporting updating then completed."
    ),
    rows=("upd-force",),
    needs=(),
    effects=("writes",),
)
def test_force_update_replaces_every_task(swarm_cluster: Swarm) -> None:
    replicas = 3
    lead = swarm_cluster.leader_client()
    service_id = create_policy_service(
        lead,
        "web",
        replicas=replicas,
        update=UpdateConfig(parallelism=0, monitor_s=0.5),
        restart=QUICK_RESTART,
    )
    before = {c.id for c in wait_engines_run(swarm_cluster, "web", replicas, V1)}
    old_tasks = {t.id for t in task_records(lead, "web")}
    spec_before = service_attrs(lead, "web")["Spec"]
    began = time.time()

    def force(spec: dict[str, Any]) -> None:
        spec["TaskTemplate"]["ForceUpdate"] = int(spec["TaskTemplate"].get("ForceUpdate", 0)) + 1

    update_service(lead, "web", force, "force (docker service update --force)")
    wait_update_state(lead, "web", "completed", timeout_s=BATCH_BUDGET_S)
    after = wait_engines_run(swarm_cluster, "web", replicas, V1)
    assert not before & {c.id for c in after}, "an old container still runs after --force"
    running = {t.id for t in task_records(lead, "web") if t.state == "running"}
    assert len(running) == replicas and not running & old_tasks, "a task was not replaced"
    assert {c.task_id for c in after} == running, "the engines run other tasks than the managers"
    spec_after = service_attrs(lead, "web")["Spec"]
    spec_before["TaskTemplate"]["ForceUpdate"] = spec_after["TaskTemplate"]["ForceUpdate"]
    assert spec_after == spec_before, "the forced update changed more than ForceUpdate"
    events = wait_events(lead, service_id, began, "completed")
    assert events == ["updating", "completed"], f"updatestate events: {events}"
