"""The registry of fault kinds a chaos schedule can hold: read by the planner and the runner.

A :class:`FaultKind` says everything about a kind in one place: its name, the roles it hits by
default (the planner picks one of them), how its parameters are drawn from the schedule's
seeded ``random.Random``, whether it needs the managers' control plane routed through Toxiproxy
or a service to act on, and how the fault is built once the runner has chosen nodes for the
target. ``faults.schedule`` plans from it; ``faults.runner`` builds from it.

Adding a kind is one entry in :data:`KINDS` plus the :class:`~swarmcheck.faults.base.Fault`
that implements it (docs/chaos.md shows an example). The registry's order is part of what a
seed means: the planner draws kinds, targets and parameters in this order, so the same
registry and the same seed give the same schedule byte for byte.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from swarmcheck.cluster.cluster import Cluster
from swarmcheck.errors import ConfigError, EngineAPIError
from swarmcheck.faults import partition, process, toxics
from swarmcheck.faults.base import Fault, FaultLog
from swarmcheck.faults.targets import Target

Param = float | str
"""A planned fault's parameter as a schedule stores it (JSON numbers or strings)."""


@dataclass(frozen=True)
class BuildRequest:
    """What a kind's builder gets: the cluster, the planned target, the nodes the runner chose
    for it just now, the planned parameters, the log to record in, and the service under test."""

    kind: str
    cluster: Cluster
    target: Target
    nodes: tuple[str, ...]
    params: Mapping[str, Param]
    log: FaultLog
    service: str | None = None

    @property
    def node(self) -> str:
        """The first (for most kinds the only) node the target selected."""
        return self.nodes[0]

    def number(self, key: str) -> int:
        """A planned integer parameter (JSON may have made it a float)."""
        return int(float(self._param(key)))

    def text(self, key: str) -> str:
        return str(self._param(key))

    def _param(self, key: str) -> Param:
        try:
            return self.params[key]
        except KeyError:
            raise ConfigError(
                f"the planned {self.kind} fault has no parameter {key!r} "
                f"(it has {sorted(self.params)})"
            ) from None


Builder = Callable[[BuildRequest], Fault]
Drawer = Callable[[random.Random], dict[str, Param]]


def _no_params(rng: random.Random) -> dict[str, Param]:
    return {}


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault, as both the planner and the runner see it."""

    name: str
    targets: tuple[str, ...]
    """Default targets (roles, see ``faults.targets``); the planner picks one at random."""
    build: Builder
    """Builds the (not yet started) fault on the nodes the runner selected."""
    draw: Drawer = _no_params
    """Draws the parameters from the schedule's generator; the only source of randomness."""
    params: tuple[str, ...] = ()
    """The parameter names ``draw`` returns (a loaded schedule must carry exactly these)."""
    needs_proxy: bool = False
    """Needs the managers' control plane routed through Toxiproxy (``swarm(faults=True)``)."""
    needs_service: bool = False
    """Acts on a task of the service under test."""


# -- parameters ------------------------------------------------------------------------------
# Each drawer makes the same generator calls in the same order as long as the kind exists:
# changing one changes every later draw of a seed's schedule.
def _draw_latency(rng: random.Random) -> dict[str, Param]:
    latency = rng.randint(100, 1000)
    return {"latency_ms": latency, "jitter_ms": rng.randint(0, latency // 4)}


def _draw_direction(rng: random.Random) -> dict[str, Param]:
    return {"direction": rng.choice(("inbound", "outbound"))}


# -- builders ----------------------------------------------------------------------------------
def _on_node(make: Callable[..., Fault]) -> Builder:
    """A builder for faults made as ``make(cluster, node, log=...)`` on the selected node."""
    return lambda r: make(r.cluster, r.node, log=r.log)


def _one_knob_toxic(
    name: str,
    targets: tuple[str, ...],
    make: Callable[..., Fault],
    knob: str,
    low: int,
    high: int,
) -> FaultKind:
    """A Toxiproxy fault on the selected manager with one knob (ms, or KB/s) drawn uniformly
    from ``low..high``."""
    return FaultKind(
        name,
        targets,
        lambda r: make(r.cluster, r.node, r.number(knob), log=r.log),
        lambda rng: {knob: rng.randint(low, high)},
        (knob,),
        needs_proxy=True,
    )


def _one_way(req: BuildRequest) -> Fault:
    """Cut one direction between the target and the leader (or, when the target is the
    leader, another node): ``outbound`` drops what the target sends, ``inbound`` what it gets."""
    try:
        leader = req.cluster.leader(timeout_s=3).name
    except EngineAPIError:  # no leader known right now: any other node will do
        leader = ""
    others = [n.name for n in req.cluster.nodes if n.name not in req.nodes]
    peer = leader if leader and leader not in req.nodes else others[0]
    direction = req.text("direction")
    if direction not in ("inbound", "outbound"):
        raise ConfigError(f"partition_oneway direction must be inbound or outbound: {direction!r}")
    src, dst = (req.node, peer) if direction == "outbound" else (peer, req.node)
    return partition.one_way(req.cluster, src, dst, log=req.log)


def _kill_task(req: BuildRequest) -> Fault:
    if req.service is None:
        raise ConfigError("kill_task needs the service whose task it removes")
    return process.kill_task_container(
        req.cluster, req.service, node=req.node, task_id=req.target.task_id, log=req.log
    )


_REGISTRY: tuple[FaultKind, ...] = (
    FaultKind(
        "latency",
        ("follower", "leader"),
        lambda r: toxics.latency(
            r.cluster, r.node, r.number("latency_ms"), r.number("jitter_ms"), log=r.log
        ),
        _draw_latency,
        ("latency_ms", "jitter_ms"),
        needs_proxy=True,
    ),
    _one_knob_toxic("bandwidth", ("follower", "leader"), toxics.bandwidth, "rate_kb", 16, 256),
    _one_knob_toxic("timeout", ("follower",), toxics.timeout, "timeout_ms", 1000, 5000),
    _one_knob_toxic("reset_peer", ("follower",), toxics.reset_peer, "timeout_ms", 0, 2000),
    _one_knob_toxic("slow_close", ("follower",), toxics.slow_close, "delay_ms", 500, 5000),
    FaultKind(
        "proxy_down",
        ("follower", "leader"),
        _on_node(toxics.proxy_down),
        needs_proxy=True,
    ),
    FaultKind(
        "partition_isolate",
        ("follower", "leader"),
        _on_node(partition.isolate),
    ),
    FaultKind(
        "partition_split",
        ("minority",),
        lambda r: partition.split(r.cluster, list(r.nodes), log=r.log),
    ),
    FaultKind(
        "partition_oneway",
        ("follower",),
        _one_way,
        _draw_direction,
        ("direction",),
    ),
    FaultKind(
        "kill_node", ("follower",), lambda r: process.kill_node(r.cluster, r.node, log=r.log)
    ),
    FaultKind(
        "stop_node",
        ("follower", "leader"),
        _on_node(process.stop_node),
    ),
    FaultKind(
        "restart_node",
        ("leader", "follower"),
        _on_node(process.restart_node),
    ),
    FaultKind(
        "pause_node",
        ("leader", "follower"),
        _on_node(process.pause_node),
    ),
    FaultKind(
        "kill_dockerd",
        ("follower", "leader"),
        _on_node(process.kill_dockerd),
    ),
    FaultKind("kill_task", ("task",), _kill_task, needs_service=True),
)

KINDS: Mapping[str, FaultKind] = {kind.name: kind for kind in _REGISTRY}
"""Every fault kind by name, in registry order."""
FAULT_KINDS: tuple[str, ...] = tuple(KINDS)
"""The names of every fault kind, in registry order."""


def fault_kind(name: str) -> FaultKind:
    """The registered kind called ``name``; ConfigError listing the valid kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(
            f"unknown fault kind {name!r}; valid kinds: {', '.join(FAULT_KINDS)}"
        ) from None
