"""Networking (catalog area ``networking``): what checks of overlays, DNS, publishing and
address pools look at, the engines and not only the managers.

- task addresses and virtual IPs on a network, as the managers allocated them;
- a probe container on an overlay network (DNS answers, HTTP to task addresses);
- TCP from the test host to node addresses (host-mode and ingress-published ports);
- a spare one-node swarm of its own, for what only ``swarm init`` sets or what would damage
  the shared cluster (removing the ingress network, leaving the swarm);
- ingress-published ports judged by the rules the engines program (below).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from swarmcheck import labels
from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import SWARM_PORT, Cluster
from swarmcheck.cluster.interface import ContainerNode, Swarm, SwarmNode
from swarmcheck.errors import (
    EngineAPIError,
    SwarmPromiseBroken,
)
from swarmcheck.machine.images import workload_image
from swarmcheck.operations.promises import promise_timeout
from swarmcheck.operations.services import raw_tasks, task_container
from swarmcheck.steps import step
from swarmcheck.timing import wait_until

WEB_PORT = 8080
"""The port the workload's httpd listens on inside its container."""


def task_network_ids(task: dict[str, Any]) -> set[str]:
    """The networks a task is attached to (its allocated attachments)."""
    return {a["Network"]["ID"] for a in task.get("NetworksAttachments") or []}


def task_address(task: dict[str, Any], network_id: str) -> str | None:
    """The task's IP address on one network (without the prefix length)."""
    for attachment in task.get("NetworksAttachments") or []:
        if attachment["Network"]["ID"] == network_id and attachment.get("Addresses"):
            return str(attachment["Addresses"][0]).split("/")[0]
    return None


def running_addresses(client: SwarmClient, name: str, net_id: str) -> set[str]:
    """The addresses on one network of the service's tasks that run and are meant to."""
    found = set()
    for task in raw_tasks(client, name).values():
        if task["DesiredState"] == "running" and task["Status"]["State"] == "running":
            address = task_address(task, net_id)
            if address:
                found.add(address)
    return found


def service_vips(client: SwarmClient, name: str) -> dict[str, str]:
    """The service's virtual IPs per network ID (no prefix length); empty for DNS-RR."""
    endpoint = client.inspect_service(name).get("Endpoint") or {}
    return {v["NetworkID"]: v["Addr"].split("/")[0] for v in endpoint.get("VirtualIPs") or []}


# -- probes ------------------------------------------------------------------------------------
_ADDRESS = re.compile(r"^Address(?: \d+)?:\s*([0-9.]+)\s*$")


def parse_nslookup(out: str) -> set[str]:
    """The IPv4 answers in busybox ``nslookup`` output (the server's own address, printed
    before any ``Name:`` line, is not an answer)."""
    answers: set[str] = set()
    in_answer = False
    for line in out.splitlines():
        if line.startswith("Name:"):
            in_answer = True
        match = _ADDRESS.match(line)
        if in_answer and match:
            answers.add(match.group(1))
    return answers


@dataclass
class NetProbe:
    """A standalone container on an attachable overlay network: asks DNS, talks to tasks."""

    node: SwarmNode
    container_id: str

    def resolve(self, name: str) -> set[str]:
        """The IPv4 addresses the network's DNS gives for ``name`` (empty: no answer)."""
        _, out = self.node.engine().exec(self.container_id, ["nslookup", name])
        return parse_nslookup(out)

    def http(self, ip: str, port: int = WEB_PORT) -> str | None:
        """The last line of ``GET /`` sent to ip:port over the overlay (None: no answer)."""
        script = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | timeout 3 nc -w 2 "$1" "$2" | tail -n 1'
        _, out = self.node.engine().exec(
            self.container_id, ["sh", "-c", script, "sh", ip, str(port)]
        )
        return out.strip() or None


def wait_resolves(
    probe: NetProbe, name: str, want: Callable[[], set[str]], timeout_s: float = 30.0
) -> set[str]:
    """Wait until the probe's DNS answers ``name`` with exactly the (non-empty) set ``want()``
    gives; return it. A timeout is a broken promise, with the last answer seen."""
    last: dict[str, set[str]] = {}

    def answered() -> set[str] | None:
        last["want"], last["seen"] = want(), probe.resolve(name)
        return last["want"] if last["want"] and last["seen"] == last["want"] else None

    try:
        return wait_until(
            answered,
            what=f"DNS to answer {name} with {sorted(last.get('want', set()))}",
            timeout_s=timeout_s,
            timeout_error=promise_timeout,
        )
    except SwarmPromiseBroken as exc:
        raise SwarmPromiseBroken(
            f"DNS on {probe.node.name} did not answer {name} as expected in {timeout_s:.0f} s",
            expected=str(sorted(last.get("want", set()))),
            seen=str(sorted(last.get("seen", set()))),
        ) from exc


@contextmanager
def probe_container(
    cluster: Swarm,
    node: SwarmNode,
    network: str,
    name: str = "netprobe",
    command: list[str] | None = None,
) -> Iterator[NetProbe]:
    """A probe container on ``node`` in ``network``, removed on exit (a network a container
    is attached to cannot be removed, so it must go before the reset removes networks).
    By default it only sleeps; ``command=[]`` runs the workload's own web server instead."""
    engine = node.engine()
    container_id = engine.run(
        workload_image(),
        ["sleep", "600"] if command is None else command or None,
        name=name,
        network=network,
        labels=labels.for_run(cluster.run_id, "probe"),
    )
    try:
        yield NetProbe(node=node, container_id=container_id)
    finally:
        with suppress(EngineAPIError):  # gone already, or its node is
            engine.remove_container(container_id)


def container_networks(node: SwarmNode, container_id: str) -> dict[str, dict[str, Any]]:
    """The networks a container is connected to on its node's engine, by network name."""
    attrs = node.engine().container(container_id)
    return dict(attrs["NetworkSettings"]["Networks"] or {})


def wait_listening(node: ContainerNode, port: int, timeout_s: float = 10.0) -> None:
    """Wait until a socket listens on ``port`` in the node's own network namespace (a
    standalone container on the host network started it): the environment, not a promise, so
    a timeout is a ``ReadinessTimeout``."""
    pattern = f":{port:04X} [0-9A-F]+:0000 0A"  # /proc/net/tcp{,6}: port and LISTEN in hex
    wait_until(
        lambda: (
            True
            if node.exec(f"cat /proc/net/tcp /proc/net/tcp6 | grep -Eqi '{pattern}'")[0] == 0
            else None
        ),
        what=f"port {port} to be listening on {node.name}",
        timeout_s=timeout_s,
    )


def http_from_host(ip: str, port: int, timeout_s: float = 2.0) -> str | None:
    """``GET /`` from the test host to ip:port; the last line of the answer, None when the
    connection is refused, times out or closes without an answer."""
    try:
        with socket.create_connection((ip, port), timeout=timeout_s) as conn:
            conn.settimeout(timeout_s)
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            chunks = []
            while chunk := conn.recv(4096):
                chunks.append(chunk)
    except OSError:
        return None
    lines = [line for line in b"".join(chunks).decode(errors="replace").splitlines() if line]
    return lines[-1].strip() if lines else None


# -- a spare one-node swarm --------------------------------------------------------------------
@dataclass(frozen=True)
class Spare:
    """A one-node swarm of its own: its node (a container, capability ``containers``) and a
    client of its engine."""

    node: ContainerNode
    swarm: SwarmClient
    """Swarm calls through the spare node's engine."""


@contextmanager
def spare_swarm(cluster: Cluster, name: str, **init: Any) -> Iterator[Spare]:
    """A one-node swarm of its own on the run's network, initialised with ``init``
    (``SwarmClient.init``'s ``default_addr_pool``, ``subnet_size``, ``data_path_port``,
    ``heartbeat_s``, ``cert_expiry_s``), with the workload images loaded; removed afterwards.
    For what only ``swarm init`` sets, and for checks that would damage the shared cluster.
    Needs a swarm that can make one (capability ``destroy``)."""
    with cluster.spare_node(name) as node:
        with step(f"init a spare one-node swarm on {name}"):
            client = SwarmClient(node.name, node.client)
            client.init(f"{node.ip}:{SWARM_PORT}", data_path_addr=node.ip, **init)
        yield Spare(node, client)


# -- ingress, judged by the engines' rules ----------------------------------------------
# What the engines program for ingress-published ports, judged by their rules, not traffic.
#
# Without IPVS in the kernel the routing mesh carries no traffic (a connection to a published
# port gets nothing), so a traffic check can only skip. The engines still program their part of
# it, and that part is checked here, from inside each node container:
#
# - every node has the ingress sandbox (network namespace ``ingress_sbox``) with an address on
#   the ingress network: the node's entry to the mesh;
# - the service has a virtual IP on the ingress network;
# - every running task's own network namespace redirects each published port to its target port
#   on the task's ingress address (``nat PREROUTING -d <task ingress IP> --dport <published>
#   -j REDIRECT --to-ports <target>``), and no port the service does not publish.
#
# Seen here without IPVS (engine 20.10, every namespace read): the node-level part of the mesh (the
# DOCKER-INGRESS DNAT to the ingress sandbox and its IPVS service) is not programmed at all,
# because the engine gives up at the IPVS step; it is left to the traffic check (SC-NET-004),
# which runs where IPVS exists. The per-task rules checked here are programmed by engines 20.10
# and 26.1 alike (SC-NET-003 passes on both). Parsing is pure (unit-tested); reading runs
# ``nsenter`` and ``iptables`` in the node containers.
INGRESS_SANDBOX = "/var/run/docker/netns/ingress_sbox"


JUDGED_BY_RULES = "rules"


JUDGED_BY_TRAFFIC = "traffic"


JUDGED_BY_ENDPOINT = "endpoint only (an existing swarm: its hosts are not swarmcheck's to inspect)"


_REDIRECT = re.compile(
    r"^-A PREROUTING -d (?P<address>[0-9.]+)(?:/32)? -p (?P<proto>tcp|udp|sctp)"
    r"(?: -m (?:tcp|udp|sctp))? --dport (?P<published>\d+) -j REDIRECT --to-ports (?P<target>\d+)$"
)


_INET = re.compile(r"\binet (?P<address>[0-9.]+)/\d+")


@dataclass(frozen=True)
class Redirect:
    """One ingress port redirect a task's namespace holds."""

    address: str
    proto: str
    published: int
    target: int


def parse_redirects(rules: str) -> set[Redirect]:
    """The REDIRECT rules of ``iptables -t nat -S`` output (other lines are ignored)."""
    found = set()
    for line in rules.splitlines():
        match = _REDIRECT.match(line.strip())
        if match:
            found.add(
                Redirect(
                    match["address"],
                    match["proto"],
                    int(match["published"]),
                    int(match["target"]),
                )
            )
    return found


def parse_addresses(ip_addr: str) -> set[str]:
    """IPv4 addresses in ``ip -4 -o addr`` output."""
    return {m["address"] for m in _INET.finditer(ip_addr)}


def redirect_problems(
    where: str, address: str, seen: Iterable[Redirect], published: Mapping[int, int]
) -> list[str]:
    """What is wrong with a task's redirects: a published port (tcp) not redirected to its
    target on the task's ingress address, or a redirect of a port the service does not
    publish."""
    seen = set(seen)
    wanted = {Redirect(address, "tcp", p, t) for p, t in published.items()}
    problems = [
        f"{where}: no redirect of published port {r.published} to {r.target} on {address}"
        for r in sorted(wanted - seen, key=lambda r: r.published)
    ]
    problems += [
        f"{where}: redirects port {r.published} to {r.target}, which the service does not publish"
        for r in sorted(seen - wanted, key=lambda r: r.published)
    ]
    return problems


def _in_namespace(node: ContainerNode, namespace: str, command: str) -> tuple[int, str]:
    return node.exec(["sh", "-c", f"nsenter --net={shlex.quote(namespace)} {command}"])


def rules_readable(cluster: Swarm) -> bool:
    """Whether the engines' rules can be read: on swarmcheck's own nodes (capability
    ``containers``) they can; an existing swarm's hosts are not swarmcheck's to run commands
    on."""
    return "containers" in cluster.capabilities


def ingress_network(client: SwarmClient) -> tuple[str, ipaddress.IPv4Network]:
    """The ingress network's ID and subnet, as the managers have it."""
    attrs = client.networks.inspect("ingress")
    return str(attrs["Id"]), ipaddress.IPv4Network(attrs["IPAM"]["Config"][0]["Subnet"])


def sandbox_problems(cluster: Cluster, subnet: ipaddress.IPv4Network) -> list[str]:
    """Nodes without an ingress sandbox holding an address on the ingress network."""
    problems = []
    for node in cluster.nodes:
        code, out = _in_namespace(node, INGRESS_SANDBOX, "ip -4 -o addr show")
        if code != 0:
            problems.append(f"{node.name}: no ingress sandbox ({out.strip()[:200]})")
            continue
        if not any(ipaddress.IPv4Address(a) in subnet for a in parse_addresses(out)):
            problems.append(f"{node.name}: its ingress sandbox has no address in {subnet}")
    return problems


def vip_problems(client: SwarmClient, service: str, ingress_id: str) -> list[str]:
    """The service's endpoint must hold a virtual IP on the ingress network."""
    endpoint = client.inspect_service(service).get("Endpoint") or {}
    vips = [v for v in endpoint.get("VirtualIPs") or [] if v.get("NetworkID") == ingress_id]
    return [] if vips else [f"{service} has no virtual IP on the ingress network: {endpoint}"]


def task_problems(
    cluster: Cluster, client: SwarmClient, service: str, published: Mapping[int, int]
) -> list[str]:
    """Every running task's namespace must redirect exactly the published ports."""
    problems = []
    tasks = client.running_tasks(service)
    if not tasks:
        return [f"{service} runs no task"]
    for task in tasks:
        found, container = task_container(cluster, task)
        node = cluster.node(found.name)  # a node container: its namespaces can be entered
        where = f"task {task.id[:10]} on {node.name}"
        settings = container.get("NetworkSettings") or {}
        address = ((settings.get("Networks") or {}).get("ingress") or {}).get("IPAddress")
        if not address:
            problems.append(f"{where}: not attached to the ingress network")
            continue
        code, out = _in_namespace(node, str(settings.get("SandboxKey")), "iptables -w -t nat -S")
        if code != 0:
            problems.append(f"{where}: cannot read its rules ({out.strip()[:200]})")
            continue
        problems += redirect_problems(where, address, parse_redirects(out), published)
    return problems


def ingress_problems(
    cluster: Cluster, client: SwarmClient, service: str, published: Mapping[int, int]
) -> list[str]:
    """Everything the engines have not programmed for ``service``'s ingress-published ports
    (``published``: published port -> target port), judged by rules: the nodes' ingress
    sandboxes, the service's ingress virtual IP and every running task's redirects."""
    ingress_id, subnet = ingress_network(client)
    return [
        *sandbox_problems(cluster, subnet),
        *vip_problems(client, service, ingress_id),
        *task_problems(cluster, client, service, published),
    ]
