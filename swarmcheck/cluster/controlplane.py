"""Routing the managers' control plane through one Toxiproxy, so toxics can slow or cut it.

Why one address per manager, not one port each: Docker uses the swarm advertise address also
as the node's *gossip* address (memberlist / networkdb on 7946, which carries overlay service
discovery and VXLAN peer tables): ``--data-path-addr`` moves only VXLAN. With every manager
advertising ``PROXY_IP:<port>`` they all gossip as ``PROXY_IP`` and cross-node overlay traffic
breaks (seen: ``Adv-addr=<proxy ip>`` on every node, ``tasks.<svc>`` resolving to the local
task only). So:

- one Toxiproxy container runs on the cluster network at ``.5``; a short-lived helper
  container in its network namespace (node image, NET_ADMIN) adds one address per manager
  (``.240 + i``) and NATs gossip (TCP+UDP 7946) sent to that address on to the manager;
- manager i advertises ``<.240+i>:2377``; Toxiproxy listens there and forwards to
  ``<manager ip>:2377``. Raft, API forwarding, dispatcher sessions and joins to manager i go
  through its proxy (and its toxics); gossip passes the same container untouched, VXLAN goes
  node to node (``data_path_addr``). Workers advertise their own address.

Everything carries the run's labels, so removing the run removes it.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import docker

from swarmcheck import labels
from swarmcheck.client.errors import translated
from swarmcheck.client.toxiproxy import ToxiproxyClient
from swarmcheck.config import TOXIPROXY_IMAGE
from swarmcheck.errors import (
    ConfigError,
    EngineAPIError,
    EnvironmentProblem,
    FaultError,
    NotFound,
    ProvisioningError,
)
from swarmcheck.machine.toxiproxy_image import API_PORT, ensure_toxiproxy_image

if TYPE_CHECKING:
    from swarmcheck.cluster.node import Node

PROXY_HOST_INDEX = 5
"""The proxy's own address in the cluster subnet (the gateway is ``.1``, nodes ``.10+``)."""
MANAGER_ADDR_INDEX = 240
"""Manager i is advertised at ``.240 + i``: far above what Docker's IPAM hands out first."""
SWARM_PORT = 2377
GOSSIP_PORT = 7946
READY_TIMEOUT_S = 30.0
SETUP_TIMEOUT_S = 30


@dataclass(frozen=True)
class ManagerRoute:
    """One manager's proxy: its name, the address the manager is advertised at, the upstream."""

    node: str
    proxy: str
    address: str
    upstream_ip: str

    @property
    def listen(self) -> str:
        return f"{self.address}:{SWARM_PORT}"

    @property
    def upstream(self) -> str:
        return f"{self.upstream_ip}:{SWARM_PORT}"


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
        return route.listen if route else f"{node.ip}:{SWARM_PORT}"

    def reset(self) -> None:
        """Remove every toxic and enable every proxy."""
        with self.client() as api:
            api.reset()


def proxy_ip(subnet: str) -> str:
    """The proxy's fixed address in the cluster subnet."""
    return str(ipaddress.ip_network(subnet)[PROXY_HOST_INDEX])


def plan_routes(subnet: str, managers: list[tuple[str, str]]) -> dict[str, ManagerRoute]:
    """Routes for ``(name, ip)`` managers, in order: advertised at .240, .241, ..."""
    net = ipaddress.ip_network(subnet)
    if net.num_addresses < 256:
        raise ConfigError(f"the control-plane proxy needs a /24 or larger, got {subnet}")
    return {
        name: ManagerRoute(name, f"cp-{name}", str(net[MANAGER_ADDR_INDEX + i]), ip)
        for i, (name, ip) in enumerate(managers)
    }


def setup_script(routes: list[ManagerRoute], prefix_len: int) -> str:
    """Shell run in the proxy's network namespace: add the managers' addresses and NAT their
    gossip to the real managers (masqueraded, so TCP replies come back the same way)."""
    lines = ["set -e"]
    for r in routes:
        lines.append(f"ip addr add {r.address}/{prefix_len} dev eth0")
        for proto in ("udp", "tcp"):
            dnat = (
                f"-t nat -A PREROUTING -d {r.address} -p {proto} --dport {GOSSIP_PORT} "
                f"-j DNAT --to-destination {r.upstream_ip}:{GOSSIP_PORT}"
            )
            masq = (
                f"-t nat -A POSTROUTING -d {r.upstream_ip} -p {proto} --dport {GOSSIP_PORT} "
                "-j MASQUERADE"
            )
            lines += [f"iptables -w {dnat}", f"iptables -w {masq}"]
    return "\n".join(lines)


def start_control_plane_proxy(
    host: docker.DockerClient,
    *,
    run_id: str,
    network: str,
    subnet: str,
    managers: Sequence[Node],
    helper_image: str,
    image: str | None = None,
) -> ControlPlaneProxy:
    """Start the proxy of a cluster's control plane on its ``network``, with one route per
    manager; ``image`` is a Toxiproxy server image (None: the one swarmcheck builds).

    Call after the network exists and the nodes are created, before the swarm forms; the
    managers then advertise at ``proxy.advertise_addr(node)`` (the cluster does so itself when
    ``spec.control_plane_proxy`` is set). ``helper_image`` (the node image: iptables, ip) sets
    up the proxy's addresses and gossip NAT.
    """
    if not network or not subnet or not managers:
        raise ConfigError("a control-plane proxy needs the cluster's network and managers")
    image = image or ensure_toxiproxy_image(host)
    _need_local_image(host, image)
    ip = proxy_ip(subnet)
    name = f"sc-{run_id}-toxiproxy"
    proxy = ControlPlaneProxy(name, ip)
    proxy.routes = plan_routes(subnet, [(n.name, n.ip) for n in managers])
    try:
        with translated("toxiproxy"):
            host.containers.run(
                image,
                name=name,
                detach=True,
                labels=labels.for_run(run_id, "toxiproxy"),
                network=network,
                networking_config={network: host.api.create_endpoint_config(ipv4_address=ip)},
                sysctls={"net.ipv4.ip_forward": "1"},
            )
        script = setup_script(list(proxy.routes.values()), ipaddress.ip_network(subnet).prefixlen)
        _setup_namespace(host, run_id, name, helper_image, script)
    except EngineAPIError as exc:
        raise ProvisioningError(f"could not start the control-plane proxy {name}: {exc}") from exc
    _open_routes(proxy, image)
    return proxy


def _open_routes(proxy: ControlPlaneProxy, image: str) -> None:
    """Wait for the proxy's API, then open one proxy per manager route."""
    try:
        with proxy.client() as api:
            api.wait_ready(READY_TIMEOUT_S)
            for route in proxy.routes.values():
                api.create_proxy(route.proxy, route.listen, route.upstream)
    except FaultError as exc:
        raise ProvisioningError(
            f"control-plane proxy {proxy.container_name} (image {image}) did not come up: "
            f"{exc}. The image must run a Toxiproxy 2.x server with its API on port 8474: give "
            f"such an image, or drop {TOXIPROXY_IMAGE.flag} to build one"
        ) from exc


def _need_local_image(host: docker.DockerClient, image: str) -> None:
    """A user's Toxiproxy image must already be in the engine: nothing can be pulled here."""
    try:
        with translated("the host"):
            host.images.get(image)
    except NotFound:
        raise EnvironmentProblem(
            f"the Toxiproxy image {image} is not in the local engine and no registry can be "
            f"reached here: `docker load` it first, or drop {TOXIPROXY_IMAGE.flag} to build one"
        ) from None


def _setup_namespace(
    host: docker.DockerClient, run_id: str, proxy_container: str, helper_image: str, script: str
) -> None:
    """Run ``script`` in the proxy's network namespace from a throw-away helper."""
    with translated("toxiproxy"):
        helper = host.containers.run(
            helper_image,
            entrypoint=["/bin/sh", "-c", script],
            name=f"{proxy_container}-setup",
            detach=True,
            labels=labels.for_run(run_id, "toxiproxy-setup"),
            network_mode=f"container:{proxy_container}",
            cap_add=["NET_ADMIN", "NET_RAW"],
        )
        try:
            code = int(helper.wait(timeout=SETUP_TIMEOUT_S).get("StatusCode", -1))
            output = helper.logs().decode(errors="replace").strip()
        finally:
            helper.remove(force=True)
    if code != 0:
        raise ProvisioningError(
            f"setting up addresses and gossip NAT in {proxy_container} failed (exit {code}): "
            f"{output[-500:]}\nscript:\n{shlex.quote(script)}"
        )
