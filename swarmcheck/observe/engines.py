"""What the nodes' own engines run: the task containers of a service on each node, read
once or sampled over a window (``checkers.containers`` judges the samples)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from swarmcheck.checkers.containers import ContainerSample
from swarmcheck.client.local import ContainerInfo
from swarmcheck.cluster.interface import Swarm, SwarmNode
from swarmcheck.cluster.view import service_containers
from swarmcheck.observe.sampler import Sampler


def task_containers(
    cluster: Swarm,
    service: str | None = None,
    *,
    service_id: str | None = None,
    running: bool = True,
    nodes: Sequence[SwarmNode] | None = None,
) -> dict[str, list[ContainerInfo]]:
    """The containers of a service's tasks (by name or ID) per node name, read from each
    node's own engine: running ones, or every state with ``running=False``. An engine that
    does not answer raises ``EngineAPIError``."""
    return {
        node.name: node.engine().task_containers(service, service_id=service_id, running=running)
        for node in (nodes if nodes is not None else cluster.nodes)
    }


def running_containers(
    cluster: Swarm,
    service: str | None = None,
    *,
    service_id: str | None = None,
    nodes: Sequence[SwarmNode] | None = None,
) -> dict[str, frozenset[str]]:
    """Ids of the running containers of a service's tasks (by name or ID), per node name."""
    found = task_containers(cluster, service, service_id=service_id, nodes=nodes)
    return {name: frozenset(c.id for c in listed) for name, listed in found.items()}


def running_images(
    cluster: Swarm, service: str | None = None, *, service_id: str | None = None
) -> Counter[str]:
    """How many running containers of a service's tasks run each image, over every engine."""
    found = task_containers(cluster, service, service_id=service_id)
    return Counter(c.image for listed in found.values() for c in listed)


class ContainerSampler(Sampler[ContainerSample]):
    """Lists, every ``interval_s``, the running containers of ``service`` on each of
    ``nodes`` through that node's own engine; an engine that does not answer in time gives a
    sample with ``containers=None`` (the checker reads it as "not seen")."""

    name = "container-sampler"

    def __init__(
        self,
        nodes: Sequence[SwarmNode],
        service: str,
        interval_s: float = 2.0,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__(interval_s, timeout_s * 3, parallel=len(nodes))
        self.nodes = list(nodes)
        self.service = service
        self.timeout_s = timeout_s

    def sample(self, t: float) -> list[ContainerSample]:
        return self.ask_each(
            t,
            self.nodes,
            lambda node: ContainerSample(
                t, node.name, service_containers(node, self.service, self.timeout_s)
            ),
        )
