"""The run's own Docker network: a private 10.x /24 nobody else on this engine uses."""

from __future__ import annotations

import ipaddress
import random

import docker
from docker.types import IPAMConfig, IPAMPool

from swarmcheck import labels
from swarmcheck.cache import cache_dir, file_lock
from swarmcheck.client.errors import translated
from swarmcheck.config import SUBNET
from swarmcheck.errors import ConfigError, EngineAPIError, ProvisioningError

CANDIDATES = [f"10.199.{i}.0/24" for i in range(256)]


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks_by_subnet(host: docker.DockerClient) -> dict[Network, str]:
    """The IPv4 subnets of the engine's networks, each with the network's name."""
    used: dict[Network, str] = {}
    with translated():
        for net in host.networks.list():
            for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
                subnet = cfg.get("Subnet", "")
                if subnet and ":" not in subnet:
                    used[ipaddress.ip_network(subnet, strict=False)] = str(net.name)
    return used


def create_network(host: docker.DockerClient, run_id: str, subnet: str | None) -> tuple[str, str]:
    """Create the run's bridge network; return its name and subnet.

    Choosing a free subnet and creating the network happen under one machine-wide lock, so
    runs that start together (pytest-xdist workers, parallel sessions) never pick the same
    one; a network made meanwhile by something else is caught by the engine's own overlap
    check and the next candidate is tried.
    """
    with file_lock(cache_dir() / "subnets.lock"):
        return _create_network(host, run_id, subnet)


def _create_network(host: docker.DockerClient, run_id: str, subnet: str | None) -> tuple[str, str]:
    name = f"sc-{run_id}"
    by_subnet = networks_by_subnet(host)
    used = set(by_subnet)
    if subnet is not None:
        wanted = ipaddress.ip_network(subnet, strict=False)
        taken = sorted(f"{by_subnet[u]} ({u})" for u in used if wanted.overlaps(u))
        if taken:
            raise ConfigError(
                f"{SUBNET.flag}={subnet} is taken on this engine by network "
                f"{', '.join(taken)}: give a free private 10.x /24 (`docker network ls` and "
                f"`docker network inspect` show the used ones), or leave {SUBNET.flag} out "
                "and swarmcheck picks a free one"
            )
        choices = [str(wanted)]
    else:
        choices = [
            c for c in CANDIDATES if not any(ipaddress.ip_network(c).overlaps(u) for u in used)
        ]
        random.shuffle(choices)
    for candidate in choices[:5]:
        net = ipaddress.ip_network(candidate)
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=candidate, gateway=str(net[1]))])
        try:
            with translated():
                host.networks.create(
                    name, driver="bridge", ipam=ipam, labels=labels.for_run(run_id, "network")
                )
            return name, candidate
        except EngineAPIError as exc:  # a concurrent run took it: try the next one
            last = exc
    raise ProvisioningError(f"could not create the run's network {name}: {last}")


def node_ip(subnet: str, index: int) -> str:
    """Node i's fixed address (fixed so a restarted node keeps its swarm address)."""
    return str(ipaddress.ip_network(subnet)[10 + index])
