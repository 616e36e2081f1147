"""What cluster to build and which engines it runs: pure data, with validation whose messages
say how to fix the input.

An engine is named by one string everywhere: a Debian suite (its docker.io package, built into
the node image here) or a dind-capable image. A run tests one engine (``ClusterSpec.engine``);
mixed-version swarms and rolling engine upgrades name several, ordered older to newer.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from swarmcheck.errors import ConfigError

MAX_NODES = 9
DEBIAN_ENGINES = {"bookworm": "20.10", "trixie": "26.1", "sid": "28.5"}
"""Debian suite -> the Docker engine version its docker.io package brings."""
DEBIAN_ORDER = ("bookworm", "trixie", "sid")
"""Debian suites from the oldest Docker engine to the newest (20.10, 26.1, 28.5)."""
DEFAULT_ENGINE = "bookworm"
NO_OLDER_ENGINE = "no older engine than the one under test"
"""How the skip of a check that needs an older engine (mixed versions, upgrades) begins when
the run has none: a property of the run, not a behaviour of its engine (the matrix does not
count it as a difference)."""


def is_debian(engine: str) -> bool:
    return engine in DEBIAN_ENGINES


def describe(engine: str) -> str:
    """``bookworm (Docker 20.10)`` for a Debian suite, the image reference otherwise."""
    if is_debian(engine):
        return f"{engine} (Docker {DEBIAN_ENGINES[engine]})"
    return engine


def previous_engine(engine: str) -> str | None:
    """The Debian suite whose engine precedes ``engine``'s (None: none known)."""
    if engine not in DEBIAN_ORDER:
        return None
    index = DEBIAN_ORDER.index(engine)
    return DEBIAN_ORDER[index - 1] if index > 0 else None


def parse_engines(text: str, what: str) -> tuple[str, ...]:
    """``bookworm,trixie,my/dind:28`` -> the engines; ConfigError naming ``what`` when empty."""
    engines = tuple(e.strip() for e in text.split(",") if e.strip())
    if not engines:
        raise ConfigError(
            f"{what} is empty: give Debian suites ({', '.join(DEBIAN_ORDER)}) or dind images, "
            "separated by commas"
        )
    return engines


def looks_like_engine(engine: str) -> bool:
    """A Debian suite we know, or something shaped like an image reference (repo[:tag])."""
    return is_debian(engine) or "/" in engine or ":" in engine


@dataclass(frozen=True)
class ClusterSpec:
    """The shape of a swarm: node counts, the engine under test and network ranges."""

    managers: int = 3
    workers: int = 0
    engine: str = DEFAULT_ENGINE
    """The engine under test: a Debian suite (the node image is built from its packages) or a
    user's dind-capable image."""
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
        if not isinstance(self.engine, str) or not self.engine.strip():
            problems.append(f"engine={self.engine!r}: a Debian suite or an image")
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

    @property
    def label(self) -> str:
        """The engine this cluster tests, as reports name it: ``trixie (Docker 26.1)``, an
        image, or each node's engine for a mixed-version cluster."""
        if self.mixed:
            return ", ".join(describe(e) for e in self.node_engines())
        return describe(self.engine)


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
