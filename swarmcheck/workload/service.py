"""The versioned web service suites deploy, and waits on what Swarm promises about it."""

from __future__ import annotations

from typing import Any

from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.machine.images import workload_image
from swarmcheck.operations.services import CONVERGE_TIMEOUT_S, wait_converged
from swarmcheck.workload.probe import ServiceProbe

PROBE_NETWORK = "probe-net"


def deploy_web(
    cluster: Cluster,
    name: str = "web",
    replicas: int = 3,
    version: str = "v1",
    *,
    wait: bool = True,
    timeout_s: float = CONVERGE_TIMEOUT_S,
    **options: Any,
) -> SwarmClient:
    """Create the web service through the leader; by default wait until it runs N/N.

    Returns the leader's SwarmClient, which suites keep using for the service.
    """
    lead = cluster.leader_client()
    lead.create_service(name, workload_image(version), replicas, **options)
    if wait:
        wait_converged(lead, name, replicas, timeout_s=timeout_s)
    return lead


def deploy_web_for_probes(
    cluster: Cluster,
    replicas: int = 3,
    *,
    via_vip: bool = False,
    timeout_s: float = CONVERGE_TIMEOUT_S,
    **options: Any,
) -> SwarmClient:
    """The health-checked web service on the attachable probe network (DNS-RR, or a VIP with
    ``via_vip``), converged; the leader's client."""
    lead = cluster.leader_client()
    lead.create_network(PROBE_NETWORK)
    deploy_web(
        cluster,
        "web",
        replicas,
        endpoint_mode="vip" if via_vip else "dnsrr",
        networks=[PROBE_NETWORK],
        healthcheck=True,
        timeout_s=timeout_s,
        **options,
    )
    return lead


def deploy_probed_web(
    cluster: Cluster,
    replicas: int = 3,
    *,
    via_vip: bool = False,
    pause_s: float = 0.05,
    timeout_s: float = CONVERGE_TIMEOUT_S,
    probe_on: Node | None = None,
    **options: Any,
) -> tuple[SwarmClient, ServiceProbe]:
    """The web service on an attachable overlay network, and a started probe requesting it
    from inside that network (through ``tasks.web``, or the VIP with ``via_vip``), on
    ``probe_on`` (default: the first manager)."""
    lead = deploy_web_for_probes(cluster, replicas, via_vip=via_vip, timeout_s=timeout_s, **options)
    probe = ServiceProbe(
        node=probe_on or cluster.managers[0],
        network=PROBE_NETWORK,
        service="web",
        image=workload_image("v1"),
        run_id=cluster.run_id,
        via_vip=via_vip,
        pause_s=pause_s,
    ).start()
    return lead, probe
