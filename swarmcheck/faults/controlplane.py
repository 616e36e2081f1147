"""Routing the managers' control plane through one Toxiproxy, so toxics can slow or cut it.

Before the swarm forms, one Toxiproxy container starts on the cluster's network at the fixed
address ``.5`` of its subnet (nodes use ``.10`` and up) with one proxy per manager:
``0.0.0.0:22000+i -> <manager i's IP>:2377``. Managers then init/join with
``--advertise-addr PROXY_IP:22000+i``, so every connection *to* a manager's swarm port (raft
from the other managers, dispatcher sessions from workers, joins) passes through its proxy,
while ``--data-path-addr`` keeps VXLAN (overlay task traffic) direct. Workers advertise their
own address. The container carries the run's labels, so removing the run removes it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import docker

from swarmcheck import labels
from swarmcheck.client.errors import translated
from swarmcheck.cluster.toxiproxy_image import API_PORT, ensure_toxiproxy_image
from swarmcheck.errors import ConfigError, EngineAPIError, FaultError, ProvisioningError
from swarmcheck.faults.toxiproxy import ToxiproxyClient

if TYPE_CHECKING:
    from swarmcheck.cluster.cluster import Cluster
    from swarmcheck.cluster.node import Node

PROXY_HOST_INDEX = 5
"""The proxy's address in the cluster subnet (``.5``; the gateway is ``.1``, nodes ``.10+``)."""
BASE_PORT = 22000
SWARM_PORT = 2377
READY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class ManagerRoute:
    """One manager's proxy: what it is called and where it listens and forwards."""

    node: str
    proxy: str
    port: int
    upstream: str


@dataclass
class ControlPlaneProxy:
    """The Toxiproxy server carrying the managers' control plane, and its routes."""

    container_name: str
    ip: str
    routes: dict[str, ManagerRoute] = field(default_factory=dict)
    api_timeout_s: float = 5.0

    @property
    def api_url(self) -> str:
        return f"http://{self.ip}:{API_PORT}"

    def client(self) -> ToxiproxyClient:
        """A new API client whose calls cannot hang; use it in a ``with`` block."""
        return ToxiproxyClient(self.api_url, timeout_s=self.api_timeout_s)

    def route(self, node: Node | str) -> ManagerRoute:
        name = node if isinstance(node, str) else node.name
        try:
            return self.routes[name]
        except KeyError:
            raise ConfigError(
                f"{name} has no control-plane proxy (only managers do: {sorted(self.routes)})"
            ) from None

    def advertise_addr(self, node: Node) -> str:
        """Where ``node`` advertises its swarm port: its proxy (managers) or itself (workers)."""
        route = self.routes.get(node.name)
        return f"{self.ip}:{route.port}" if route else f"{node.ip}:{SWARM_PORT}"

    def reset(self) -> None:
        """Remove every toxic and enable every proxy."""
        with self.client() as api:
            api.reset()


def proxy_ip(subnet: str) -> str:
    """The proxy's fixed address in the cluster subnet."""
    return str(ipaddress.ip_network(subnet)[PROXY_HOST_INDEX])


def plan_routes(proxy_name_prefix: str, managers: list[tuple[str, str]]) -> dict[str, ManagerRoute]:
    """Routes for ``(name, ip)`` managers, in order: ports 22000, 22001, ..."""
    return {
        name: ManagerRoute(name, f"{proxy_name_prefix}{name}", BASE_PORT + i, f"{ip}:{SWARM_PORT}")
        for i, (name, ip) in enumerate(managers)
    }


def attach_control_plane_proxy(cluster: Cluster, image: str | None = None) -> ControlPlaneProxy:
    """Start the proxy for ``cluster`` and make its managers advertise through it.

    Call after the network exists and the nodes are created, before the swarm forms (the
    cluster does so itself when ``spec.control_plane_proxy`` is set).
    """
    if not cluster.network or not cluster.subnet or not cluster.managers:
        raise ConfigError("attach_control_plane_proxy needs the cluster's network and nodes")
    if cluster.control_plane is not None:
        raise ConfigError(f"cluster {cluster.run_id} already has a control-plane proxy")
    image = image or ensure_toxiproxy_image(cluster.host)
    ip = proxy_ip(cluster.subnet)
    name = f"sc-{cluster.run_id}-toxiproxy"
    try:
        with translated("toxiproxy"):
            cluster.host.containers.run(
                image,
                name=name,
                detach=True,
                labels=labels.for_run(cluster.run_id, "toxiproxy"),
                network=cluster.network,
                networking_config={
                    cluster.network: cluster.host.api.create_endpoint_config(ipv4_address=ip)
                },
            )
    except (EngineAPIError, docker.errors.DockerException) as exc:
        raise ProvisioningError(f"could not start the control-plane proxy {name}: {exc}") from exc
    proxy = ControlPlaneProxy(name, ip)
    proxy.routes = plan_routes("cp-", [(n.name, n.ip) for n in cluster.managers])
    try:
        with proxy.client() as api:
            api.wait_ready(READY_TIMEOUT_S)
            for route in proxy.routes.values():
                api.create_proxy(route.proxy, f"0.0.0.0:{route.port}", route.upstream)
    except FaultError as exc:
        raise ProvisioningError(f"control-plane proxy {name} did not come up: {exc}") from exc
    cluster.control_plane = proxy
    cluster.advertise_addr = proxy.advertise_addr
    return proxy
