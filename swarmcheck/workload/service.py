"""The versioned web service suites deploy, and waits on what Swarm promises about it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swarmcheck.checkers.convergence import engine_disagreements
from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import SwarmClient, TaskInfo
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.images import WORKLOAD_REPO
from swarmcheck.cluster.node import Node
from swarmcheck.errors import PromiseTimeout
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


def wait_converged(
    client: SwarmClient,
    name: str,
    replicas: int,
    *,
    image: str | None = None,
    timeout_s: float = CONVERGE_TIMEOUT_S,
    check_engines: bool = True,
) -> list[TaskInfo]:
    """Wait until exactly ``replicas`` tasks run (all on ``image`` if given), no other task
    is meant to run, and the engines agree; return the running tasks.

    "Run" means what Swarm does, not only what the managers report: when ``client`` can read
    the engines (clients from ``Cluster.client`` can), every running task's container must be
    running on its node's engine and no engine may run other containers of the service
    (``checkers.convergence.engine_disagreements``). A timeout is a broken promise
    (``PromiseTimeout``) saying what was last seen.
    """
    seen: list[str] = []

    def probe() -> list[TaskInfo] | None:
        tasks = client.tasks(name)
        running = [t for t in tasks if t.state == "running" and t.desired_state == "running"]
        # "ready": a replacement held back (restart delay, or its old task not stopped yet)
        pending = [
            t for t in tasks if t.desired_state in ("running", "ready") and t.state != "running"
        ]
        if len(running) != replicas or pending:
            seen[:] = [_task_summary(running, pending, replicas)]
            return None
        if image is not None and any(t.image != image for t in running):
            images = sorted({t.image for t in running})
            seen[:] = [f"{replicas}/{replicas} running, on {', '.join(images)}"]
            return None
        if check_engines and client.engines is not None:
            disagree = engine_disagreements(running, client.engines(name))
            if disagree:
                seen[:] = [
                    f"{replicas}/{replicas} running per the managers, but " + "; ".join(disagree)
                ]
                return None
        return running

    def broken(what: str, waited_s: float, last_error: str | None) -> PromiseTimeout:
        last = "; ".join([*seen, *([f"last error: {last_error}"] if last_error else [])])
        return PromiseTimeout(what, waited_s, last or None)

    return wait_until(
        probe,
        what=f"service {name} to run {replicas}/{replicas}" + (f" on {image}" if image else ""),
        timeout_s=timeout_s,
        timeout_error=broken,
    )


def _task_summary(running: list[TaskInfo], pending: list[TaskInfo], replicas: int) -> str:
    """ "2/3 running, 1 pending (no suitable node ...)": what a convergence wait last saw."""
    text = f"{len(running)}/{replicas} running"
    if len(running) > replicas:  # which ones: a slot run twice, or a task on a lost node?
        where = ", ".join(
            f"slot {t.slot} task {t.id[:10]} on node {t.node_id[:10]}"
            for t in sorted(running, key=lambda t: (t.slot or 0, t.id))
        )
        text += f" ({where[:600]})"
    if pending:
        states: dict[str, int] = {}
        for t in pending:
            states[t.state] = states.get(t.state, 0) + 1
        errors = sorted({t.error for t in pending if t.error})
        text += ", not yet running: " + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        held = sum(t.desired_state == "ready" for t in pending)
        if held:
            text += f" ({held} held back until their old tasks stop)"
        if errors:
            text += f" ({'; '.join(errors)[:300]})"
    return text


def wait_task_stopped(client: SwarmClient, service: str, task_id: str, timeout_s: float) -> None:
    """Wait until the managers no longer report task ``task_id`` as running (a task gone from
    the history is not running either)."""

    def stopped() -> bool | None:
        state = next((t.state for t in client.tasks(service) if t.id == task_id), None)
        return True if state != "running" else None

    wait_until(
        stopped,
        what=f"the managers to see task {task_id[:10]} stop",
        timeout_s=timeout_s,
        timeout_error=PromiseTimeout,
    )


def wait_write_accepted(client: SwarmClient, service: str, replicas: int, timeout_s: float) -> None:
    """Retry scaling ``service`` through ``client`` until a manager accepts it (a just-elected
    or slow leader refuses for a while; the last refusal is in the timeout message).

    Accepted is not done: callers wait for the new count to run (``wait_converged``)."""

    def attempt() -> bool:
        client.scale(service, replicas)
        return True

    wait_until(
        attempt,
        what=f"a write (scale {service} to {replicas}) to be accepted",
        timeout_s=timeout_s,
        timeout_error=PromiseTimeout,
    )


def running_containers(
    cluster: Cluster, service: str, nodes: Sequence[Node] | None = None
) -> dict[str, frozenset[str]]:
    """Ids of the running containers of ``service``'s tasks, per node name, read from each
    node's own engine (raises EngineAPIError if an engine does not answer)."""
    found: dict[str, frozenset[str]] = {}
    for node in nodes if nodes is not None else cluster.nodes:
        with translated(node.name):
            containers = node.client.containers.list(
                filters={"label": f"com.docker.swarm.service.name={service}", "status": "running"}
            )
        found[node.name] = frozenset(str(c.id) for c in containers)
    return found


def containers_of(
    cluster: Cluster, service: str, service_id: str | None = None, *, running_only: bool = False
) -> dict[str, list[str]]:
    """Container ids of ``service``'s tasks, per node, read from each node's own engine:
    every container (exited ones too) unless ``running_only``."""
    found: dict[str, list[str]] = {}
    service_id = service_id or cluster.leader_client().service(service).id
    filters: dict[str, str] = {"label": f"com.docker.swarm.service.id={service_id}"}
    if running_only:
        filters["status"] = "running"
    for node in cluster.nodes:
        with translated(node.name):
            containers = node.client.containers.list(
                all=not running_only, filters=filters, sparse=True
            )
        found[node.name] = [str(c.id) for c in containers]
    return found
