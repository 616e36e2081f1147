"""A rolling update watched by a client and by the task counts: deploy v1, probe it from inside
the swarm, update to v2 while sampling the running tasks (managers and engines), and return
what was seen (suites judge it with the availability and rolling-update checkers)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from swarmcheck.checkers.availability import AddressProbe, Probe
from swarmcheck.checkers.rolling import Handover, UpdateSample, parse_timestamp
from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import SwarmClient, TaskInfo
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import EngineAPIError, PromiseTimeout, SwarmPromiseBroken
from swarmcheck.timing import Stopwatch, boot_clock, wait_until
from swarmcheck.workload.service import deploy_probed_web, wait_converged, workload_image

FigureRecorder = Callable[[str, float | int | str], None]
LIVE = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running")
"""Task states before a final one (complete, shutdown, failed, rejected, orphaned, remove)."""
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


class UpdateSampler:
    """Counts, every ``interval_s`` (in a thread), the service's running and healthy tasks as
    the managers report them and as every node's engine runs them."""

    def __init__(
        self, cluster: Cluster, service: str, interval_s: float = 0.2, timeout_s: float = 3.0
    ) -> None:
        self.cluster = cluster
        self.service = service
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.samples: list[UpdateSample] = []
        self.incomplete = 0
        """Rounds in which an engine or the managers did not answer (no sample then)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="update-sampler", daemon=True)

    def __enter__(self) -> UpdateSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[UpdateSample]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_s * 3)
        return list(self.samples)

    def _run(self) -> None:
        nodes = list(self.cluster.nodes)
        with ThreadPoolExecutor(max_workers=len(nodes) + 1) as pool:
            while not self._stop.is_set():
                t = boot_clock()
                managers = pool.submit(self._managers, t)
                engines = list(pool.map(self._engine, nodes))
                for sample in (managers.result(), _engines_sample(t, engines)):
                    if sample is None:
                        self.incomplete += 1
                    else:
                        self.samples.append(sample)
                self._stop.wait(self.interval_s)

    def _managers(self, t: float) -> UpdateSample | None:
        for node in self.cluster.managers:
            client = node.quick_client(self.timeout_s)
            try:
                tasks = SwarmClient(node.name, client).tasks(self.service)
            except EngineAPIError:
                continue
            finally:
                client.close()
            running = [x for x in tasks if x.state == "running"]
            # With a healthcheck a task is "starting" until healthy, so running is healthy;
            # serving: running and not told to stop (it left the service's DNS then).
            serving = [x for x in running if x.desired_state == "running"]
            meant = [x for x in tasks if x.desired_state == "running" and x.state in LIVE]
            images = Counter(x.image.split("/")[-1] for x in serving)
            return UpdateSample(
                t, "managers", len(running), len(serving), dict(images), meant=len(meant)
            )
        return None

    def _engine(self, node: Node) -> list[tuple[str, bool]] | None:
        """(image, healthy) of each running container of the service on ``node``."""
        client = node.quick_client(self.timeout_s)
        try:
            with translated(node.name):
                found = client.api.containers(
                    filters={
                        "label": f"com.docker.swarm.service.name={self.service}",
                        "status": "running",
                    }
                )
        except EngineAPIError:
            return None
        finally:
            client.close()
        return [(str(c["Image"]).split("@")[0], "(healthy)" in str(c["Status"])) for c in found]


def _engines_sample(t: float, engines: list[list[tuple[str, bool]] | None]) -> UpdateSample | None:
    if any(e is None for e in engines):
        return None
    containers = [c for e in engines for c in e or []]
    images = Counter(image.split("/")[-1] for image, _ in containers)
    healthy = sum(ok for _, ok in containers)
    return UpdateSample(t, "engines", len(containers), healthy, dict(images))


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
    figure: FigureRecorder,
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
        wait_until(
            lambda: True if sum(p.answer == "v1" for p in probe.results()) >= 10 else None,
            what="10 answers from v1 before the update",
            timeout_s=converge_timeout_s,
            timeout_error=PromiseTimeout,
        )
        before = lead.running_tasks("web")
        v2 = workload_image("v2")
        with UpdateSampler(cluster, "web") as sampler:
            clock = Stopwatch()
            lead.update_image("web", v2)
            wait_until(
                lambda: _update_done(lead, "web"),
                what="the rolling update to complete",
                timeout_s=update_timeout_s,
                timeout_error=PromiseTimeout,
            )
            figure("update_s", clock())
            wait_converged(lead, "web", replicas, image=v2, timeout_s=converge_timeout_s)
            # The last old task's container may be gone before its final state is reported.
            history = wait_until(
                lambda: _replaced(lead, "web", before),
                what="every old task to be reported stopped",
                timeout_s=converge_timeout_s,
                timeout_error=PromiseTimeout,
            )
        run.samples = sampler.samples
        run.handovers = handovers(before, history, v2)
        wait_until(
            lambda: True if sum(p.answer == "v2" for p in probe.results()) >= 10 else None,
            what="10 answers from v2 after the update",
            timeout_s=converge_timeout_s,
            timeout_error=PromiseTimeout,
        )
    finally:
        run.probes = probe.stop()
        run.attempts = probe.attempts
    return run


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
