"""Toxiproxy faults on one manager's control plane (needs ``spec.control_plane_proxy``).

A toxic goes on the target manager's proxy, so it acts on every connection made *to* that
manager's swarm port: raft messages other managers send it and their answers, API calls other
managers forward to it, workers' dispatcher sessions. Its own outgoing connections pass
through the other managers' proxies and are untouched. Toxics also act on connections already
open. Latency on both streams adds about twice ``latency_ms`` to a request/answer round trip.
Gossip (7946) and VXLAN do not pass through Toxiproxy, so toxics never touch them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager

from swarmcheck.client.toxiproxy import Stream, ToxicKind
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.controlplane import ControlPlaneProxy, ManagerRoute
from swarmcheck.cluster.node import Node
from swarmcheck.errors import ConfigError, FaultError
from swarmcheck.faults.base import Fault, FaultLog, ParamValue, node_of

BOTH: tuple[Stream, ...] = ("upstream", "downstream")


def _route(cluster: Cluster, node: Node | str) -> tuple[ControlPlaneProxy, ManagerRoute]:
    if cluster.control_plane is None:
        raise ConfigError(
            "Toxiproxy faults need a cluster whose control plane runs through Toxiproxy: "
            "ClusterSpec(control_plane_proxy=True)"
        )
    return cluster.control_plane, cluster.control_plane.route(node_of(cluster, node))


class ToxicFault(Fault):
    """One toxic kind on the target manager's proxy, on the given streams."""

    def __init__(
        self,
        cluster: Cluster,
        node: Node | str,
        toxic: ToxicKind,
        attributes: Mapping[str, int],
        streams: Sequence[Stream] = BOTH,
        log: FaultLog | None = None,
    ) -> None:
        self.proxy, self.route = _route(cluster, node)
        params: dict[str, ParamValue] = {**attributes, "streams": tuple(streams)}
        super().__init__(cluster, (self.route.node,), params, log)
        self.kind = self.toxic = toxic
        self.attributes = dict(attributes)
        self.names = {stream: f"sc-{self.id}-{toxic}-{stream}" for stream in streams}

    def _inject(self) -> None:
        with self.proxy.client() as api:
            for stream, name in self.names.items():
                api.add_toxic(self.route.proxy, self.toxic, self.attributes, stream, name=name)

    def _heal(self) -> None:
        with self.proxy.client() as api:
            present = {t.name for t in api.list_toxics(self.route.proxy)}
            for name in self.names.values():
                if name in present:
                    api.remove_toxic(self.route.proxy, name)
            left = {t.name for t in api.list_toxics(self.route.proxy)} & set(self.names.values())
        if left:
            raise FaultError(f"toxics still present: {sorted(left)}", self.toxic, self.route.node)


class ProxyDown(Fault):
    """The target manager's proxy stops listening and drops its open connections."""

    kind = "proxy_down"

    def __init__(self, cluster: Cluster, node: Node | str, log: FaultLog | None = None) -> None:
        self.proxy, self.route = _route(cluster, node)
        super().__init__(cluster, (self.route.node,), {"proxy": self.route.proxy}, log)

    def _inject(self) -> None:
        with self.proxy.client() as api:
            api.disable(self.route.proxy)

    def _heal(self) -> None:
        with self.proxy.client() as api:
            api.enable(self.route.proxy)


def latency(
    cluster: Cluster,
    node: Node | str,
    latency_ms: int,
    jitter_ms: int = 0,
    log: FaultLog | None = None,
) -> ToxicFault:
    """Delay data both ways by ``latency_ms`` (+/- ``jitter_ms``)."""
    return ToxicFault(
        cluster, node, "latency", {"latency": latency_ms, "jitter": jitter_ms}, BOTH, log
    )


def bandwidth(
    cluster: Cluster, node: Node | str, rate_kb: int, log: FaultLog | None = None
) -> ToxicFault:
    """Limit both ways to ``rate_kb`` KB/s."""
    return ToxicFault(cluster, node, "bandwidth", {"rate": rate_kb}, BOTH, log)


def timeout(
    cluster: Cluster, node: Node | str, timeout_ms: int = 0, log: FaultLog | None = None
) -> ToxicFault:
    """Stop all data and close connections after ``timeout_ms`` (0: hold them open forever,
    a black hole)."""
    return ToxicFault(cluster, node, "timeout", {"timeout": timeout_ms}, BOTH, log)


def reset_peer(
    cluster: Cluster, node: Node | str, timeout_ms: int = 0, log: FaultLog | None = None
) -> ToxicFault:
    """Reset connections (TCP RST) ``timeout_ms`` after data flows (one stream is enough)."""
    return ToxicFault(cluster, node, "reset_peer", {"timeout": timeout_ms}, ("upstream",), log)


def slow_close(
    cluster: Cluster, node: Node | str, delay_ms: int, log: FaultLog | None = None
) -> ToxicFault:
    """Delay closing connections by ``delay_ms``, both ways."""
    return ToxicFault(cluster, node, "slow_close", {"delay": delay_ms}, BOTH, log)


def proxy_down(cluster: Cluster, node: Node | str, log: FaultLog | None = None) -> ProxyDown:
    """Take the manager's proxy down: new connections refused, open ones dropped."""
    return ProxyDown(cluster, node, log)


@contextmanager
def slow_control_plane(
    cluster: Cluster, latency_ms: int, jitter_ms: int = 0, log: FaultLog | None = None
) -> Iterator[list[ToxicFault]]:
    """Latency on every manager's control-plane proxy (``latency_ms`` each way, so round trips
    grow by twice that), healed when the block ends, whatever happens in it."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(latency(cluster, manager, latency_ms, jitter_ms, log=log))
            for manager in cluster.managers
        ]
