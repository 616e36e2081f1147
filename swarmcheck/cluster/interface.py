"""What every swarm under test offers, whoever made it, and what each kind can do beyond.

Two kinds implement ``Swarm``: ``Cluster`` (cluster/cluster.py), a local swarm of dind nodes
swarmcheck makes, owns and may destroy, and ``ExistingCluster`` (cluster/existing.py), a swarm
it was given and must leave as it found it. Both read the swarm through its managers' engines
(``cluster/view.py``) and reset it between checks. Beyond that, each kind states its
capabilities: a check that needs one (its swarm marker's ``capabilities=``, or what its
markers and fixtures imply) runs only where the swarm offers it, and skips elsewhere, saying
which capability it lacks. Nothing here has behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar, Protocol

import docker

from swarmcheck.client.local import NodeEngine
from swarmcheck.client.swarm import NodeInfo, SwarmClient
from swarmcheck.cluster.health import Health, View
from swarmcheck.spec import ClusterSpec

CAPABILITIES: Mapping[str, str] = {
    "destroy": "a swarm of its own, made for the check and destroyed after it",
    "stop-nodes": "stopping, pausing, killing or restarting its nodes",
    "partition": "cutting its nodes off the network",
    "containers": "its node containers: running commands in them, reading their files",
    "control-plane": "its managers' control plane routed through Toxiproxy (control-plane faults)",
    "engines": "nodes of the engine versions the check names",
    "shape": "the number of managers and workers the check asks for",
}
"""What a kind of swarm may offer a check beyond reading it and managing its own objects."""
EVERY_CAPABILITY = frozenset(CAPABILITIES)


class SwarmNode(Protocol):
    """One node of a swarm under test, reached through its engine."""

    name: str
    role: str
    """The role the node had when the run found or made it: manager or worker."""
    ip: str
    node_id: str

    @property
    def client(self) -> docker.DockerClient:
        """A client of this node's engine, kept for the node's life."""
        ...

    def quick_client(self, timeout_s: float = 5.0) -> docker.DockerClient:
        """A new short-timeout client, for polls that must not hang on a frozen node."""
        ...

    def engine(self, timeout_s: float | None = None) -> NodeEngine:
        """What this node's engine runs itself (containers, local networks, events): through
        the node's kept client, or with ``timeout_s`` a new short-timeout one the facade
        closes (use it in a ``with``)."""
        ...

    def daemon_log_tail(self, lines: int = 40) -> str:
        """The end of the engine's log, where the node can show it (else why not)."""
        ...

    def close(self) -> None: ...


class ContainerNode(SwarmNode, Protocol):
    """A node that is a container swarmcheck runs (a dind swarm's; capability
    ``containers``): commands run in it, its files read, its container stopped and started."""

    api_version: str | None

    @property
    def state(self) -> str:
        """The node container's state: running, paused, exited, ..."""
        ...

    def exec(self, cmd: str | list[str], timeout_s: float = 30.0) -> tuple[int, str]:
        """Run a command in the node (not in a task); its exit code and output."""
        ...

    def stop(self, timeout_s: int = 10) -> None: ...

    def start(self) -> None: ...

    def restart(self, timeout_s: int = 10) -> None: ...

    def wait_engine(self, timeout_s: float = ...) -> str:
        """Wait until the node's engine answers (after a start); its version."""
        ...


class Swarm(Protocol):
    """A swarm under test, as suites and the plugin use it, whatever kind it is."""

    capabilities: ClassVar[frozenset[str]]
    """What this kind offers beyond reading the swarm and managing its own objects."""
    spec: ClusterSpec
    run_id: str
    engine_version: str
    engine_versions: dict[str, str]
    dirty: str | None
    """Why this swarm can no longer be trusted (None while it can)."""

    @property
    def nodes(self) -> Sequence[SwarmNode]: ...

    @property
    def managers(self) -> Sequence[SwarmNode]: ...

    @property
    def workers(self) -> Sequence[SwarmNode]: ...

    def node(self, name_or_id: str) -> SwarmNode: ...

    def names(self) -> list[str]: ...

    def client(self, node: SwarmNode | str, timeout_s: float | None = None) -> SwarmClient:
        """Swarm calls through ``node``'s engine: its kept client, or with ``timeout_s`` a new
        short-timeout one the facade closes (use it in a ``with``)."""
        ...

    def leader_client(self) -> SwarmClient: ...

    def leader(self, timeout_s: float = 5.0) -> SwarmNode: ...

    def wait_leader(self, timeout_s: float = 60.0, exclude: str | None = None) -> SwarmNode: ...

    def node_list(self, via: SwarmNode | None = None, timeout_s: float = 5.0) -> list[NodeInfo]: ...

    def views(self, timeout_s: float = ...) -> dict[str, View]: ...

    def health(self) -> Health: ...

    def health_problems(self) -> list[str]: ...

    def wait_healthy(self, timeout_s: float = ...) -> None: ...

    def wait_control(self, node: SwarmNode, available: bool, timeout_s: float = 30.0) -> None:
        """Wait until a node's own engine says it is (or is no longer) a manager."""
        ...

    def rejoined(self, node: SwarmNode) -> str:
        """Record that ``node`` joined again on purpose: the ID its engine reports is its ID."""
        ...

    def log_tails(self, lines: int = 15) -> str: ...

    def reset(self) -> None:
        """Remove what checks made and put back what they changed, for the next check."""
        ...


class Pool(Protocol):
    """Hands out swarms of the shape a check asks for, and owns their teardown."""

    capabilities: frozenset[str]
    engine_version: str

    @property
    def node_image(self) -> str: ...

    def acquire(self, spec: ClusterSpec, effects: frozenset[str]) -> Swarm:
        """A swarm of ``spec`` for a check with these effects (``catalog.model.EFFECTS``):
        a swarm in use refuses any other effect while the check runs."""
        ...

    def after_test(self, cluster: Swarm) -> None: ...

    def release(self) -> None: ...
