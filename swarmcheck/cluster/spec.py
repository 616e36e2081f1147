"""What cluster to build: pure data plus validation with messages that say how to fix input."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from swarmcheck.errors import ConfigError

MAX_NODES = 9


@dataclass(frozen=True)
class ClusterSpec:
    """The shape of a swarm: node counts, the engine under test and network ranges."""

    managers: int = 3
    workers: int = 0
    debian_suite: str = "bookworm"
    engine_image: str | None = None
    """A user's dind-capable image; None builds the node image from Debian's packages."""
    toxiproxy_image: str | None = None
    """A user's Toxiproxy server image; None builds one (Go) for control-plane faults."""
    subnet: str | None = None
    """The node network (a private 10.x /24); None picks a free one."""
    addr_pool: str = "10.201.0.0/16"
    """The swarm's default address pool for overlay networks (private 10.x)."""
    heartbeat_s: float = 5.0
    """Dispatcher heartbeat period: Docker's default. A shorter one (1 s, used until
    2026-11-26) showed node loss sooner, but a new leader gives nodes 6 heartbeats to report,
    and 6 s is shorter than an agent's reconnect backoff (up to 8 s): healthy nodes were marked
    down on leader changes, and twice one stayed down while heartbeating (its registration
    raced the marking). Swarm's promises are made for the default."""
    control_plane_proxy: bool = False
    """Advertise each manager through its own Toxiproxy proxy (faults on the control plane)."""
    engines: tuple[str, ...] = ()
    """Per-node engines in node order (managers, then workers), each a Debian suite or a
    dind image: a mixed-version swarm. Empty: every node runs the run's engine."""

    def __post_init__(self) -> None:
        problems = []
        if self.managers < 1:
            problems.append(f"managers={self.managers}: a swarm needs at least 1 manager")
        if self.workers < 0:
            problems.append(f"workers={self.workers}: cannot be negative")
        if self.managers + self.workers > MAX_NODES:
            problems.append(
                f"{self.managers + self.workers} nodes: at most {MAX_NODES} fit on one machine"
            )
        if self.engines and len(self.engines) != self.managers + self.workers:
            problems.append(
                f"engines={self.engines}: give one engine per node ({self.managers} managers "
                f"then {self.workers} workers), e.g. engines=('bookworm', 'bookworm', 'trixie')"
            )
        if any(not isinstance(e, str) or not e.strip() for e in self.engines):
            problems.append(f"engines={self.engines}: each engine is a Debian suite or an image")
        for name, prefix in (("subnet", 24), ("addr_pool", None)):
            value = getattr(self, name)
            if value is not None:
                problem = _private_range_problem(value, prefix)
                if problem:
                    problems.append(f"{name}={value}: {problem}")
        if problems:
            raise ConfigError("bad cluster spec: " + "; ".join(problems))

    @property
    def size(self) -> int:
        return self.managers + self.workers

    @property
    def engine(self) -> str:
        """The run's engine: the dind image given, else the Debian suite of the built image."""
        return self.engine_image or self.debian_suite

    def node_engines(self) -> tuple[str, ...]:
        """Each node's engine, in node order (the run's engine where none is given)."""
        return self.engines or (self.engine,) * self.size

    @property
    def mixed(self) -> bool:
        """Whether the nodes run more than one engine."""
        return len(set(self.node_engines())) > 1

    def node_names(self) -> list[str]:
        """Stable node names: manager1..N then worker1..M."""
        return [f"manager{i + 1}" for i in range(self.managers)] + [
            f"worker{i + 1}" for i in range(self.workers)
        ]


PRIVATE_10 = ipaddress.IPv4Network("10.0.0.0/8")


def _private_range_problem(value: str, prefix: int | None) -> str | None:
    """Why ``value`` is not a usable private 10.x range (None when it is)."""
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return "not a network in CIDR form; use e.g. 10.199.7.0/24"
    if not isinstance(net, ipaddress.IPv4Network) or not net.subnet_of(PRIVATE_10):
        return "use a private 10.x range (e.g. 10.199.7.0/24)"
    if prefix is not None and net.prefixlen != prefix:
        return f"use a /{prefix} (e.g. 10.199.7.0/{prefix})"
    return None
