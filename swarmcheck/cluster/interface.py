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

    def daemon_log_tail(self, lines: int = 40) -> str:
        """The end of the engine's log, where the node can show it (else why not)."""
        ...

    def close(self) -> None: ...


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

    def client(self, node: SwarmNode | str) -> SwarmClient: ...

    def leader_client(self) -> SwarmClient: ...

    def leader(self, timeout_s: float = 5.0) -> SwarmNode: ...

    def wait_leader(self, timeout_s: float = 60.0, exclude: str | None = None) -> SwarmNode: ...

    def node_list(self, via: SwarmNode | None = None, timeout_s: float = 5.0) -> list[NodeInfo]: ...

    def views(self, timeout_s: float = ...) -> dict[str, View]: ...

    def health(self) -> Health: ...

    def health_problems(self) -> list[str]: ...

    def wait_healthy(self, timeout_s: float = ...) -> None: ...

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
