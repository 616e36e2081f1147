"""The versioned web service suites deploy, and waits on what Swarm promises about it."""

from __future__ import annotations

from typing import Any

from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import SwarmClient, TaskInfo
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.images import WORKLOAD_REPO
from swarmcheck.cluster.node import Node
from swarmcheck.timing import wait_until
from swarmcheck.workload.probe import ServiceProbe

CONVERGE_TIMEOUT_S = 60.0
PROBE_NETWORK = "probe-net"


def workload_image(version: str = "v1") -> str:
    return f"{WORKLOAD_REPO}:{version}"


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
    lead = cluster.client(cluster.leader())
    lead.create_service(name, workload_image(version), replicas, **options)
    if wait:
        wait_converged(lead, name, replicas, timeout_s=timeout_s)
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
    lead = cluster.client(cluster.leader())
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


def wait_converged(
    client: SwarmClient,
    name: str,
    replicas: int,
    *,
    image: str | None = None,
    timeout_s: float = CONVERGE_TIMEOUT_S,
) -> list[TaskInfo]:
    """Wait until exactly ``replicas`` tasks run (all on ``image`` if given) and no other task
    is meant to run; return the running tasks."""

    def probe() -> list[TaskInfo] | None:
        tasks = client.tasks(name)
        running = [t for t in tasks if t.state == "running" and t.desired_state == "running"]
        pending = [t for t in tasks if t.desired_state == "running" and t.state != "running"]
        if len(running) != replicas or pending:
            return None
        if image is not None and any(t.image != image for t in running):
            return None
        return running

    return wait_until(
        probe,
        what=f"service {name} to run {replicas}/{replicas}" + (f" on {image}" if image else ""),
        timeout_s=timeout_s,
    )


def wait_task_stopped(client: SwarmClient, service: str, task_id: str, timeout_s: float) -> None:
    """Wait until the managers no longer report task ``task_id`` as running."""

    def stopped() -> bool | None:
        state = next(t.state for t in client.tasks(service) if t.id == task_id)
        return True if state != "running" else None

    wait_until(stopped, what=f"the managers to see task {task_id[:10]} stop", timeout_s=timeout_s)


def wait_write_accepted(client: SwarmClient, service: str, replicas: int, timeout_s: float) -> None:
    """Retry scaling ``service`` through ``client`` until a manager accepts it (a just-elected
    or slow leader refuses for a while; the last refusal is in the timeout message)."""

    def attempt() -> bool:
        client.scale(service, replicas)
        return True

    wait_until(
        attempt, what=f"a write (scale {service} to {replicas}) to be accepted", timeout_s=timeout_s
    )


def containers_of(
    cluster: Cluster, service: str, service_id: str | None = None
) -> dict[str, list[str]]:
    """Container ids of ``service``'s tasks, per node, read from each node's own engine."""
    found: dict[str, list[str]] = {}
    service_id = service_id or cluster.client(cluster.leader()).service(service).id
    for node in cluster.nodes:
        with translated(node.name):
            containers = node.client.containers.list(
                all=True, filters={"label": f"com.docker.swarm.service.id={service_id}"}
            )
        found[node.name] = [str(c.id) for c in containers]
    return found
