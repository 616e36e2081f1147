"""What the engines program for ingress-published ports, judged by their rules, not traffic.

Without IPVS in the kernel the routing mesh carries no traffic (a connection to a published
port gets nothing), so a traffic check can only skip. The engines still program their part of
it, and that part is checked here, from inside each node container:

- every node has the ingress sandbox (network namespace ``ingress_sbox``) with an address on
  the ingress network: the node's entry to the mesh;
- the service has a virtual IP on the ingress network;
- every running task's own network namespace redirects each published port to its target port
  on the task's ingress address (``nat PREROUTING -d <task ingress IP> --dport <published>
  -j REDIRECT --to-ports <target>``), and no port the service does not publish.

Seen here without IPVS (engine 20.10, every namespace read): the node-level part of the mesh (the
DOCKER-INGRESS DNAT to the ingress sandbox and its IPVS service) is not programmed at all,
because the engine gives up at the IPVS step; it is left to the traffic check (SC-NET-004),
which runs where IPVS exists. The per-task rules checked here are programmed by engines 20.10
and 26.1 alike (SC-NET-003 passes on both). Parsing is pure (unit-tested); reading runs
``nsenter`` and ``iptables`` in the node containers.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import NotOnExistingSwarm
from swarmcheck.workload.tasks import task_container

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


def _in_namespace(node: Node, namespace: str, command: str) -> tuple[int, str]:
    return node.exec(["sh", "-c", f"nsenter --net={shlex.quote(namespace)} {command}"])


def rules_readable(cluster: Cluster) -> bool:
    """Whether the engines' rules can be read: on swarmcheck's own nodes they can; an existing
    swarm's hosts are not swarmcheck's to run commands on."""
    try:
        code, _ = cluster.nodes[0].exec(["true"])
    except NotOnExistingSwarm:
        return False
    return code == 0


def ingress_network(client: SwarmClient) -> tuple[str, ipaddress.IPv4Network]:
    """The ingress network's ID and subnet, as the managers have it."""
    with translated(client.node):
        attrs = client.docker.networks.get("ingress").attrs
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
    with translated(client.node):
        endpoint = client.docker.services.get(service).attrs.get("Endpoint") or {}
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
        node, container = task_container(cluster, task)
        where = f"task {task.id[:10]} on {node.name}"
        settings = container.attrs.get("NetworkSettings") or {}
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
