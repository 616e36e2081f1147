"""A rolling update's progress, sampled as the managers report it and as the engines run it
(``checkers.rolling`` judges the samples)."""

from __future__ import annotations

from collections import Counter

from swarmcheck.checkers.rolling import UpdateSample
from swarmcheck.client.local import ContainerInfo
from swarmcheck.cluster.interface import Swarm, SwarmNode
from swarmcheck.errors import EngineAPIError
from swarmcheck.observe.sampler import Gap, Sampler

LIVE = ("new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running")
"""Task states before a final one (complete, shutdown, failed, rejected, orphaned, remove)."""


class UpdateSampler(Sampler[UpdateSample]):
    """Counts, every ``interval_s``, the service's running and healthy tasks as the managers
    report them and as every node's engine runs them. A round in which no manager answers,
    or some engine does not, gives a gap for that side."""

    name = "update-sampler"

    def __init__(
        self, cluster: Swarm, service: str, interval_s: float = 0.2, timeout_s: float = 3.0
    ) -> None:
        super().__init__(interval_s, timeout_s * 3, parallel=len(cluster.nodes) + 1)
        self.cluster = cluster
        self.service = service
        self.timeout_s = timeout_s

    def sample(self, t: float) -> list[UpdateSample]:
        managers = self.submit(self._managers, t)
        engines = self.ask_each(t, self.cluster.nodes, self._engine)  # a silent one: a gap
        found = []
        try:
            found.append(managers.result())
        except EngineAPIError as exc:
            self.gaps.append(Gap(t, "managers", str(exc)[:200]))
        if len(engines) == len(self.cluster.nodes):
            containers = [c for listed in engines for c in listed]
            images = Counter(c.image.split("/")[-1] for c in containers)
            healthy = sum(c.healthy for c in containers)
            found.append(UpdateSample(t, "engines", len(containers), healthy, dict(images)))
        return found

    def _managers(self, t: float) -> UpdateSample:
        last: EngineAPIError | None = None
        for node in self.cluster.managers:
            try:
                with self.cluster.client(node, self.timeout_s) as client:
                    tasks = client.tasks(self.service)
            except EngineAPIError as exc:
                last = exc
                continue
            running = [x for x in tasks if x.state == "running"]
            # With a healthcheck a task is "starting" until healthy, so running is healthy;
            # serving: running and not told to stop (it left the service's DNS then).
            serving = [x for x in running if x.desired_state == "running"]
            meant = [x for x in tasks if x.desired_state == "running" and x.state in LIVE]
            images = Counter(x.image.split("/")[-1] for x in serving)
            return UpdateSample(
                t, "managers", len(running), len(serving), dict(images), meant=len(meant)
            )
        raise EngineAPIError(f"no manager answered with the tasks of {self.service}: {last}")

    def _engine(self, node: SwarmNode) -> list[ContainerInfo]:
        with node.engine(self.timeout_s) as engine:
            return engine.task_containers(self.service)
