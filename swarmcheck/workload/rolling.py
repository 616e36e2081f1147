"""A rolling update watched by a client and by the task counts: deploy v1, probe it from inside
the swarm, update to v2 while sampling the running tasks (managers and engines), and return
what was seen (suites judge it with the availability and rolling-update checkers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from swarmcheck.checkers.availability import AddressProbe, Probe
from swarmcheck.checkers.rolling import Handover, UpdateSample, parse_timestamp
from swarmcheck.client.swarm import SwarmClient, TaskInfo
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.errors import PromiseTimeout, SwarmPromiseBroken
from swarmcheck.machine.images import workload_image
from swarmcheck.observe.updates import LIVE, UpdateSampler
from swarmcheck.operations.services import wait_converged
from swarmcheck.recording import Recorder
from swarmcheck.timing import Stopwatch, wait_until
from swarmcheck.workload.probe import ServiceProbe
from swarmcheck.workload.service import deploy_probed_web

UPDATING_STATES = ("updating", "completed", None)
"""UpdateStatus states of an update that goes on (None: not reported yet)."""


@dataclass
class RollingUpdateRun:
    """Everything seen during one rolling update."""

    replicas: int
    parallelism: int
    order: str
    """The order the service was deployed with (what the engine was asked to do)."""
    probes: list[Probe] = field(default_factory=list)
    attempts: list[AddressProbe] = field(default_factory=list)
    samples: list[UpdateSample] = field(default_factory=list)
    handovers: list[Handover] = field(default_factory=list)


def handovers(before: list[TaskInfo], after: list[TaskInfo], image: str) -> list[Handover]:
    """Per slot of the tasks that ran ``before`` the update: when the old task stopped running
    and when the task on ``image`` that runs in that slot now started running."""
    result = []
    for old in sorted(before, key=lambda t: t.slot or 0):
        now = next((t for t in after if t.id == old.id), old)
        new = next(
            (
                t
                for t in after
                if t.slot == old.slot
                and t.image == image
                and t.state == "running"
                and t.desired_state == "running"
            ),
            None,
        )
        result.append(
            Handover(
                slot=old.slot or 0,
                old_task=old.id,
                old_stopped_at=None if now.state == "running" else parse_timestamp(now.timestamp),
                new_task=new.id if new else None,
                new_running_at=parse_timestamp(new.timestamp) if new else None,
            )
        )
    return result


def watched_rolling_update(
    cluster: Cluster,
    figure: Recorder,
    *,
    replicas: int = 3,
    order: str = "start-first",
    parallelism: int = 1,
    via_vip: bool = False,
    update_timeout_s: float = 120.0,
    converge_timeout_s: float = 60.0,
) -> RollingUpdateRun:
    """Deploy web:v1 (healthcheck, ``order``, ``parallelism``), probe it, update it to v2
    while sampling the tasks; return what the probe and the samples saw.

    Waits for 10 answers from v1 before and 10 from v2 after, so the probe demonstrably
    covers the whole update. An update that pauses or rolls back instead of completing is a
    broken promise at once.
    """
    run = RollingUpdateRun(replicas, parallelism, order)
    lead, probe = deploy_probed_web(
        cluster,
        replicas,
        via_vip=via_vip,
        timeout_s=converge_timeout_s,
        update_order=order,
        update_parallelism=parallelism,
    )
    try:
        _answers(probe, "v1", "before the update", converge_timeout_s)
        before = lead.running_tasks("web")
        v2 = workload_image("v2")
        with UpdateSampler(cluster, "web") as sampler:
            history = _update_to(
                lead, v2, before, replicas, figure, update_timeout_s, converge_timeout_s
            )
        run.samples = sampler.samples
        run.handovers = handovers(before, history, v2)
        _answers(probe, "v2", "after the update", converge_timeout_s)
    finally:
        run.probes = probe.stop()
        run.attempts = probe.attempts
    return run


def _answers(probe: ServiceProbe, version: str, when: str, timeout_s: float) -> None:
    """Wait for 10 answers from ``version``: the probe demonstrably covers the update."""
    wait_until(
        lambda: True if sum(p.answer == version for p in probe.results()) >= 10 else None,
        what=f"10 answers from {version} {when}",
        timeout_s=timeout_s,
        timeout_error=PromiseTimeout,
    )


def _update_to(
    lead: SwarmClient,
    image: str,
    before: list[TaskInfo],
    replicas: int,
    figure: Recorder,
    update_timeout_s: float,
    converge_timeout_s: float,
) -> list[TaskInfo]:
    """Roll web to ``image``, wait until the update completes, every replica runs it and no
    task of ``before`` is reported running; the task history then."""
    clock = Stopwatch()
    lead.update_image("web", image)
    wait_until(
        lambda: _update_done(lead, "web"),
        what="the rolling update to complete",
        timeout_s=update_timeout_s,
        timeout_error=PromiseTimeout,
    )
    figure("update_s", clock())
    wait_converged(lead, "web", replicas, image=image, timeout_s=converge_timeout_s)
    # The last old task's container may be gone before its final state is reported.
    return wait_until(
        lambda: _replaced(lead, "web", before),
        what="every old task to be reported stopped",
        timeout_s=converge_timeout_s,
        timeout_error=PromiseTimeout,
    )


def _replaced(client: SwarmClient, service: str, old: list[TaskInfo]) -> list[TaskInfo] | None:
    """The service's task history once none of the ``old`` tasks is reported running."""
    tasks = client.tasks(service)
    ids = {t.id for t in old}
    return None if any(t.id in ids and t.state in LIVE for t in tasks) else tasks


def _update_done(client: SwarmClient, service: str) -> bool | None:
    state = client.update_state(service)
    if state not in UPDATING_STATES:
        raise SwarmPromiseBroken(
            f"the rolling update of {service} stopped in state {state!r}",
            expected="updating, then completed",
            seen=str(state),
        )
    return True if state == "completed" else None
