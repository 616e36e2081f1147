"""Networking: the ingress network, published ports (ingress and host mode), DNS-RR, service
discovery and VIPs, service networks, the address pool and attachable overlays.

What a client sees is checked from where a client would be: DNS answers and HTTP from a probe
container on the overlay, TCP from the test host to the node addresses (the run's own
containers). The routing mesh and traffic through a VIP need IPVS in the kernel: those checks
are complete and skip with the reason they detect where it is missing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

import pytest

from swarmcheck.api import (
    JUDGED_BY_ENDPOINT,
    JUDGED_BY_RULES,
    JUDGED_BY_TRAFFIC,
    WEB_PORT,
    EndpointSpec,
    EngineAPIError,
    Port,
    PromiseTimeout,
    Recorder,
    Swarm,
    SwarmClient,
    UpdateConfig,
    container_networks,
    create_service,
    feature_missing,
    http_from_host,
    ingress_problems,
    node_of_task,
    probe_container,
    promise_timeout,
    raw_tasks,
    refused,
    rules_readable,
    run_labels,
    running_addresses,
    service_vips,
    spare_swarm,
    task_address,
    task_container,
    task_network_ids,
    update_service_spec,
    wait_converged,
    wait_resolves,
    wait_tasks,
    wait_until,
    workload_image,
)

NET = "https://docs.docker.com/engine/swarm/networking/"
MESH = "https://docs.docker.com/engine/swarm/ingress/"
SERVICES = "https://docs.docker.com/engine/swarm/services/"

DNS_TIMEOUT_S = 30.0  # moby's NetworkPoll: 30 s
MESH_TIMEOUT_S = 30.0  # moby polls the routing mesh up to 30 s
REDEPLOY_TIMEOUT_S = 30.0  # moby's defaultReconciliationTimeout
PROGRAM_TIMEOUT_S = 10.0  # net-publish is immediate on the manager; the engines follow
NETWORK_RM_TIMEOUT_S = 60.0  # moby retries an in-use network's removal for up to 1 min

FAILED_ATTACH = ("Address already in use", "context deadline exceeded")
"""How a second container asking for a static IP already taken on an attachable overlay is
refused: the address conflict itself, or (engines 20.10 and 26.1, seen here) the engine's 20 s
wait for the network attachment running out because the allocator cannot give that address."""
NO_INGRESS = "service needs ingress network, but no ingress network is present"
DNSRR_INGRESS = "port published with ingress mode can't be used with dnsrr mode"


def wait_programmed(
    swarm_cluster: Swarm, lead: SwarmClient, service: str, published: dict[int, int]
) -> None:
    """Every engine has programmed ``service``'s published ports (published -> target): the
    ingress sandbox on every node, the service's ingress VIP, each running task's redirects."""
    problems: list[str] = []

    def programmed() -> bool | None:
        problems[:] = ingress_problems(swarm_cluster, lead, service, published)
        return None if problems else True

    def broken(what: str, waited: float, last: str | None) -> PromiseTimeout:
        return PromiseTimeout(what, waited, "; ".join(problems) or last)

    wait_until(
        programmed,
        what=f"the engines to program {service}'s published ports {published} (catalog "
        f"net-publish: allocation is immediate; every engine given {PROGRAM_TIMEOUT_S:g} s)",
        timeout_s=PROGRAM_TIMEOUT_S,
        timeout_error=broken,
    )


def lead_of(swarm_cluster: Swarm) -> SwarmClient:
    return swarm_cluster.leader_client()


def ingress_port(published: int | None, target: int = WEB_PORT) -> dict[str, Any]:
    port: dict[str, Any] = {"Protocol": "tcp", "TargetPort": target, "PublishMode": "ingress"}
    if published is not None:
        port["PublishedPort"] = published
    return port


def host_port(published: int, target: int = WEB_PORT) -> dict[str, Any]:
    return {
        "Protocol": "tcp",
        "TargetPort": target,
        "PublishedPort": published,
        "PublishMode": "host",
    }


def on_host(published: int) -> EndpointSpec:
    """The web port published on the nodes running a task (host mode)."""
    return EndpointSpec(ports=[Port(WEB_PORT, published, mode="host")])


def endpoint_ports(client: SwarmClient, name: str) -> list[dict[str, Any]]:
    """The ports Swarm allocated for the service (``Endpoint.Ports``)."""
    endpoint = client.inspect_service(name).get("Endpoint") or {}
    return list(endpoint.get("Ports") or [])


def allocated_ports(client: SwarmClient, name: str) -> list[dict[str, Any]]:
    """The service's published ports once allocated (allocation follows the create call)."""
    return wait_until(
        lambda: endpoint_ports(client, name) or None,
        what=f"{name} to get its published ports",
        timeout_s=10,
        timeout_error=promise_timeout,
    )


def skip_without_ipvs(swarm_cluster: Swarm) -> None:
    missing = feature_missing("ipvs", swarm_cluster.managers[0])
    if missing:
        pytest.skip(missing)


# -- the ingress network -----------------------------------------------------------------------
@pytest.mark.swarmcheck(
    id="SC-NET-001",
    area="networking",
    doc=f"{NET}#customize-ingress",
    title="one ingress overlay; a second is refused; it cannot go while a service publishes",
    promise=(
        "Swarm MUST run exactly one swarm-scoped overlay network with Ingress=true named "
        'ingress, MUST refuse a second one ("is already present") and MUST refuse to remove it '
        "while a service publishes ports through it."
    ),
    rows=("net-ingress",),
    needs=(),
    effects=("writes",),
)
def test_ingress_network(swarm_cluster: Swarm) -> None:
    lead = lead_of(swarm_cluster)
    ingresses = [n for n in lead.networks.list(swarm_scope=False) if n.get("Ingress")]
    assert [n["Name"] for n in ingresses] == ["ingress"], f"ingress networks: {ingresses}"
    attrs = ingresses[0]
    assert (attrs["Driver"], attrs["Scope"]) == ("overlay", "swarm"), attrs
    # What every node's engine knows, not only the managers' view.
    for node in swarm_cluster.nodes:
        local = node.engine().network("ingress")
        assert (local["Id"], local["Ingress"]) == (attrs["Id"], True), f"{node.name}: {local}"

    second = refused(
        lambda: lead.networks.create("ingress-2", attachable=None, ingress=True),
        "a second ingress network",
    )
    assert f"ingress network ({attrs['Id']}) is already present" in second.explanation, second

    service_id = create_service(lead, "pub", 1, endpoint=EndpointSpec(ports={30901: 8080}))
    removal = refused(
        lambda: lead.networks.remove(attrs["Id"]), "removing the ingress while pub publishes a port"
    )
    assert (
        f"ingress network cannot be removed because service {service_id} depends on it"
        in removal.explanation
    ), removal.explanation
    assert lead.networks.inspect("ingress")["Id"] == attrs["Id"], "the refused removal removed it"


@pytest.mark.swarm(capabilities=("destroy",))
@pytest.mark.swarmcheck(
    id="SC-NET-002",
    area="networking",
    doc=f"{NET}#customize-ingress",
    title="without ingress: publishing refused, other services run; --ingress recreates it",
    promise=(
        "With no ingress network Swarm MUST refuse to create or update a service that publishes "
        f'ingress ports ("{NO_INGRESS}") while running services that publish nothing and DNS-RR '
        "services, and MUST accept a new overlay created with --ingress as the ingress."
    ),
    rows=("net-ingress", "net-dnsrr"),
    needs=(),
    effects=("reads",),
)
def test_no_ingress_network(swarm_cluster: Swarm) -> None:
    # Removing the ingress of a swarm whose nodes ran ingress tasks leaves a stale ingress
    # sandbox on them (seen on 20.10 without IPVS): this runs on a spare swarm of its own.
    with spare_swarm(swarm_cluster, "noingress") as own:
        spare = own.swarm
        spare.networks.remove("ingress")
        for name, spec in (
            ("pub", EndpointSpec(ports={30902: 8080})),
            ("pub-auto", EndpointSpec(ports={None: 8080})),
        ):
            err = refused(
                lambda s=spec, n=name: create_service(spare, n, 1, endpoint=s),
                f"creating {name}, which publishes an ingress port, with no ingress network",
            )
            assert NO_INGRESS in err.explanation, err.explanation
        create_service(spare, "plain", 1)
        create_service(spare, "rr", 1, endpoint=EndpointSpec(mode="dnsrr"))
        wait_converged(spare, "plain", 1)
        wait_converged(spare, "rr", 1)

        def publish(spec: dict[str, Any]) -> None:
            spec["EndpointSpec"] = {"Mode": "vip", "Ports": [ingress_port(30903)]}

        err = refused(
            lambda: update_service_spec(spare, "plain", publish, "publish 30903"),
            "publishing an ingress port on plain with no ingress network",
        )
        assert NO_INGRESS in err.explanation, err.explanation

        new = spare.networks.create("my-ingress", attachable=None, ingress=True)
        attrs = spare.networks.inspect(new)
        assert attrs["Ingress"] is True, attrs
        create_service(spare, "pub", 1, endpoint=EndpointSpec(ports={30902: 8080}))
        ports = allocated_ports(spare, "pub")
        assert [(p["PublishedPort"], p["PublishMode"]) for p in ports] == [(30902, "ingress")]
        vips = service_vips(spare, "pub")
        assert new in vips, f"pub has no VIP on the new ingress: {vips}"


# -- published ports ---------------------------------------------------------------------------
@pytest.mark.swarmcheck(
    id="SC-NET-003",
    area="networking",
    doc=f"{SERVICES}#publish-ports",
    title="published ports: endpoint record, 30000-32767 for unnumbered, conflicts refused; "
    "every engine programs them (ingress sandbox, VIP, task redirects), after scale and update",
    promise=(
        "Swarm MUST record published ports in the service endpoint, MUST give an unnumbered one "
        "a port from 30000-32767, MUST refuse one published port for two targets and a port "
        'another service publishes ("is already in use by service"), MUST replace the '
        "mapping on update, releasing the old port, and its engines MUST program each published "
        "port for every running task, after a scale and an update too."
    ),
    rows=("net-publish",),
    needs=(),
    effects=("writes",),
)
def test_published_ports(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    # Judged by the rules the engines program (works without IPVS); the traffic through the
    # mesh is SC-NET-004's, where the kernel has IPVS.
    rules = rules_readable(swarm_cluster)
    swarm_figure("judged_by", JUDGED_BY_RULES if rules else JUDGED_BY_ENDPOINT)
    lead = lead_of(swarm_cluster)
    first_id = create_service(lead, "first", 1, endpoint=EndpointSpec(ports={30911: 8080}))
    create_service(lead, "auto", 1, endpoint=EndpointSpec(ports={None: 8080}))
    wait_converged(lead, "first", 1)

    record = [
        (p["Protocol"], p["TargetPort"], p["PublishedPort"], p["PublishMode"])
        for p in allocated_ports(lead, "first")
    ]
    assert record == [("tcp", 8080, 30911, "ingress")], f"first's Endpoint.Ports: {record}"
    auto = allocated_ports(lead, "auto")
    assert len(auto) == 1 and 30000 <= auto[0].get("PublishedPort", 0) <= 32767, (
        f"an unnumbered port got {auto}"
    )

    taken = refused(
        lambda: create_service(lead, "second", 1, endpoint=EndpointSpec(ports={30911: 8080})),
        "a second service on published port 30911",
    )
    assert (
        f"port '30911' is already in use by service 'first' ({first_id}) as an ingress port"
        in taken.explanation
    ), taken.explanation
    auto_port = auto[0]["PublishedPort"]
    wait_converged(lead, "auto", 1)
    lead.scale("first", 3)
    wait_converged(lead, "first", 3)
    if rules:  # the new tasks too
        wait_programmed(swarm_cluster, lead, "first", {30911: 8080})
        wait_programmed(swarm_cluster, lead, "auto", {auto_port: 8080})
    taken = refused(
        lambda: create_service(lead, "second", 1, endpoint=EndpointSpec(ports={auto_port: 8080})),
        f"a second service on the dynamically assigned port {auto_port}",
    )
    assert "is already in use by service 'auto'" in taken.explanation, taken.explanation
    twice = refused(
        lambda: create_service(
            lead,
            "twice",
            1,
            endpoint=EndpointSpec(
                ports=[Port(8080, 30912, mode="ingress"), Port(8081, 30912, mode="ingress")]
            ),
        ),
        "one published port for two targets",
    )
    assert "EndpointSpec: duplicate published ports provided" in twice.explanation, twice

    # Re-adding the same mapping changes nothing; a new mapping replaces the old one.
    def same(spec: dict[str, Any]) -> None:
        spec["EndpointSpec"] = {"Mode": "vip", "Ports": [ingress_port(30911)]}

    update_service_spec(lead, "first", same, "publish 30911:8080 again")
    assert endpoint_ports(lead, "first") == [ingress_port(30911)]

    def move(spec: dict[str, Any]) -> None:
        spec["EndpointSpec"] = {"Mode": "vip", "Ports": [ingress_port(30913)]}

    update_service_spec(lead, "first", move, "publish 30913:8080 instead of 30911")
    wait_until(
        lambda: True if endpoint_ports(lead, "first") == [ingress_port(30913)] else None,
        what="first's endpoint to show only 30913",
        timeout_s=10,
        timeout_error=promise_timeout,
    )
    wait_converged(lead, "first", 3)
    if rules:  # and no redirect of 30911 left
        wait_programmed(swarm_cluster, lead, "first", {30913: 8080})
    create_service(lead, "second", 1, endpoint=EndpointSpec(ports={30911: 8080}))
    assert [p["PublishedPort"] for p in allocated_ports(lead, "second")] == [30911]


@pytest.mark.swarmcheck(
    id="SC-NET-004",
    area="networking",
    doc=f"{MESH}#publish-a-port-for-a-service",
    title="routing mesh: every node answers on a published port, across moves and port changes",
    promise=(
        "Every node MUST accept connections on an ingress-published port and hand them to a "
        "running task, including nodes that run none, after the task moves and after a port "
        "change (the old port released), and MUST release the port when the service is removed."
    ),
    rows=("net-routing-mesh",),
    needs=("ipvs",),
    effects=("writes", "roles"),
)
def test_routing_mesh(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    skip_without_ipvs(swarm_cluster)
    swarm_figure("judged_by", JUDGED_BY_TRAFFIC)
    lead = lead_of(swarm_cluster)
    create_service(lead, "mesh", 1, endpoint=EndpointSpec(ports={30921: 8080}))
    task = wait_converged(lead, "mesh", 1)[0]

    def everywhere(port: int, answer: str | None) -> dict[str, str | None] | None:
        seen = {n.name: http_from_host(n.ip, port) for n in swarm_cluster.nodes}
        return seen if all(a == answer for a in seen.values()) else None

    def expect(port: int, answer: str | None, what: str) -> None:
        wait_until(
            lambda: everywhere(port, answer),
            what=what,
            timeout_s=MESH_TIMEOUT_S,
            timeout_error=promise_timeout,
        )

    expect(30921, "v1", "every node to answer v1 on 30921, one running a task")
    first = node_of_task(swarm_cluster, task)
    lead.update_node(first.node_id, availability="drain")
    moved = wait_converged(lead, "mesh", 1)[0]
    assert moved.node_id != first.node_id, "the drained node still runs the task"
    expect(30921, "v1", f"every node to answer on 30921 after the task left {first.name}")

    def move(spec: dict[str, Any]) -> None:
        spec["EndpointSpec"] = {"Mode": "vip", "Ports": [ingress_port(30922)]}

    update_service_spec(lead, "mesh", move, "publish 30922 instead of 30921")
    expect(30922, "v1", "every node to answer on the new port 30922")
    expect(30921, None, "the old port 30921 to be released on every node")
    lead.remove_service("mesh")
    expect(30922, None, "port 30922 to be released on every node after service rm")


@pytest.mark.swarmcheck(
    id="SC-NET-005",
    area="networking",
    doc=f"{MESH}#bypass-the-routing-mesh",
    title="host-mode publish binds on the task's node only; one such task per node",
    promise=(
        "A host-mode published port MUST be bound on the nodes running a task of the service "
        "(0.0.0.0:<port> on the task container) and on no other node, and Swarm MUST NOT place "
        "two tasks with the same host port on one node."
    ),
    rows=("net-host-mode",),
    needs=(),
    effects=("writes",),
)
def test_host_mode_publish(swarm_cluster: Swarm) -> None:
    lead = lead_of(swarm_cluster)
    size = swarm_cluster.spec.size
    replicas = size - 1  # leaves a node without a task
    create_service(lead, "edge", replicas, endpoint=on_host(30931))
    tasks = wait_converged(lead, "edge", replicas)
    assert endpoint_ports(lead, "edge") == [host_port(30931)]
    with_task = set()
    for task in tasks:
        node, container = task_container(swarm_cluster, task)
        with_task.add(node.name)
        bindings = container["NetworkSettings"]["Ports"].get("8080/tcp") or []
        assert {"HostIp": "0.0.0.0", "HostPort": "30931"} in bindings, (
            f"task {task.id[:10]} on {node.name}: port bindings {bindings}"
        )
    assert len(with_task) == replicas, f"two tasks with host port 30931 on one node: {with_task}"

    def answers() -> dict[str, str | None] | None:
        seen = {n.name: http_from_host(n.ip, 30931) for n in swarm_cluster.nodes}
        wanted = {n.name: "v1" if n.name in with_task else None for n in swarm_cluster.nodes}
        return seen if seen == wanted else None

    wait_until(
        answers,
        what=f"port 30931 to answer on {sorted(with_task)} and nowhere else",
        timeout_s=10,
        timeout_error=promise_timeout,
    )

    # One more task than nodes: it cannot be placed (only one task per node for the port).
    lead.scale("edge", size + 1)

    def stuck() -> list[dict[str, Any]] | None:
        tasks = [t for t in raw_tasks(lead, "edge").values() if t["DesiredState"] == "running"]
        pending = [t for t in tasks if t["Status"]["State"] == "pending"]
        running = [t for t in tasks if t["Status"]["State"] == "running"]
        errors = " ".join(t["Status"].get("Err", "") for t in pending)
        if len(running) == size and len(pending) == 1 and "host-mode port" in errors:
            return pending
        return None

    pending = wait_until(
        stuck,
        what=f"{size} running tasks and 1 pending with a host-mode port conflict",
        timeout_s=REDEPLOY_TIMEOUT_S,
        timeout_error=promise_timeout,
    )
    assert f"host-mode port already in use on {size} nodes" in pending[0]["Status"]["Err"]
    per_node = [t.node_id for t in lead.running_tasks("edge")]
    assert len(per_node) == len(set(per_node)) == size, f"tasks per node: {per_node}"


# -- DNS-RR, discovery and VIPs ----------------------------------------------------------------
@pytest.mark.swarmcheck(
    id="SC-NET-006",
    area="networking",
    doc=f"{MESH}#configure-an-external-load-balancer-with-dnsrr",
    title="a DNS-RR service gets no VIP; DNS-RR with an ingress port is refused",
    promise=(
        "Swarm MUST allocate no virtual IP to a DNS-RR service on a network where a VIP service "
        f'gets one, MUST refuse DNS-RR with an ingress-published port ("{DNSRR_INGRESS}"), and '
        "MUST accept DNS-RR with a host-mode published port."
    ),
    rows=("net-dnsrr",),
    needs=(),
    effects=("writes",),
)
def test_dnsrr_has_no_vip(swarm_cluster: Swarm) -> None:
    lead = lead_of(swarm_cluster)
    err = refused(
        lambda: create_service(
            lead, "rr-pub", 1, endpoint=EndpointSpec(mode="dnsrr", ports={30941: 8080})
        ),
        "a DNS-RR service with an ingress-published port",
    )
    assert err.status_code == 400 and DNSRR_INGRESS in err.explanation, err
    net = lead.create_network("app-net")
    create_service(lead, "rr", 1, networks=["app-net"], endpoint=EndpointSpec(mode="dnsrr"))
    create_service(lead, "vip", 1, networks=["app-net"])
    wait_until(
        lambda: service_vips(lead, "vip") or None,
        what="the VIP service to get its virtual IP",
        timeout_s=10,
        timeout_error=promise_timeout,
    )
    assert net in service_vips(lead, "vip")
    # Once rr's task has its address on app-net, the allocator has been through rr too.
    wait_until(
        lambda: any(task_address(t, net) for t in raw_tasks(lead, "rr").values()) or None,
        what="rr's task to get its address on app-net",
        timeout_s=10,
        timeout_error=promise_timeout,
    )
    rr_vips = service_vips(lead, "rr")
    assert rr_vips == {}, f"the DNS-RR service has VIPs: {rr_vips}"
    rr_host = EndpointSpec("dnsrr", [Port(WEB_PORT, 30942, mode="host")])
    create_service(lead, "rr-host", 1, endpoint=rr_host)
    wait_until(
        lambda: True if endpoint_ports(lead, "rr-host") == [host_port(30942)] else None,
        what="the DNS-RR service rr-host to publish 30942 in host mode",
        timeout_s=10,
        timeout_error=promise_timeout,
    )


@pytest.mark.swarmcheck(
    id="SC-NET-007",
    area="networking",
    doc=f"{NET}#configure-service-discovery",
    title="DNS: name -> VIP, tasks.<name> -> running task IPs; tasks reachable across nodes",
    promise=(
        "On a shared overlay the embedded DNS MUST resolve a VIP service's name to its VIP, a "
        "DNS-RR service's name and tasks.<service> to exactly the running tasks' addresses "
        "(following scaling), and a container on another node MUST reach every task address."
    ),
    rows=("net-discovery",),
    needs=(),
    effects=("writes",),
)
def test_service_discovery(swarm_cluster: Swarm) -> None:
    lead = lead_of(swarm_cluster)
    net = lead.create_network("disc")
    probe_node = swarm_cluster.nodes[0]
    elsewhere = [f"node.hostname!={probe_node.name}"]
    create_service(lead, "web", 2, networks=["disc"], constraints=elsewhere)
    create_service(
        lead,
        "rr",
        2,
        networks=["disc"],
        constraints=elsewhere,
        endpoint=EndpointSpec(mode="dnsrr"),
    )
    # The probe attaches while the tasks start (an attach takes seconds too).
    with probe_container(swarm_cluster, probe_node, "disc") as probe:
        wait_converged(lead, "web", 2)
        wait_converged(lead, "rr", 2)
        vip = service_vips(lead, "web")[net]

        def tasks_of(service: str) -> Callable[[], set[str]]:
            return lambda: running_addresses(lead, service, net)

        web_tasks = wait_resolves(probe, "tasks.web", tasks_of("web"), DNS_TIMEOUT_S)
        assert len(web_tasks) == 2, web_tasks
        wait_resolves(probe, "web", lambda: {vip}, DNS_TIMEOUT_S)
        rr_tasks = wait_resolves(probe, "rr", tasks_of("rr"), DNS_TIMEOUT_S)
        wait_resolves(probe, "tasks.rr", tasks_of("rr"), DNS_TIMEOUT_S)
        # The probe's node runs no task: every answer crossed the overlay to another node.
        for address in sorted(web_tasks | rr_tasks):
            assert probe.http(address) == "v1", f"no answer from task {address} over the overlay"

        # Scaled down, the removed task's record goes (a stale record would send clients to
        # an address nobody answers on).
        lead.scale("web", 1)
        wait_converged(lead, "web", 1)
        seen = wait_resolves(probe, "tasks.web", tasks_of("web"), DNS_TIMEOUT_S)
        assert len(seen) == 1, f"tasks.web after scaling to 1: {seen}"


@pytest.mark.swarmcheck(
    id="SC-NET-008",
    area="networking",
    doc=f"{NET}#configure-service-discovery",
    title="a service's VIP and its DNS answer stay the same across a rolling update",
    promise=(
        "A service's virtual IP on a network MUST be allocated once and stay the same, in the "
        "service endpoint and in DNS, across a rolling update that replaces every task."
    ),
    rows=("net-vip-stable",),
    needs=(),
    effects=("writes",),
)
def test_vip_stable_across_update(swarm_cluster: Swarm) -> None:
    lead = lead_of(swarm_cluster)
    net = lead.create_network("app-net")
    create_service(lead, "web", 1, networks=["app-net"])
    wait_converged(lead, "web", 1)
    before = service_vips(lead, "web")
    vip = before.get(net)
    assert vip, f"web has no VIP on app-net: {before}"
    old = {t.container_id for t in lead.running_tasks("web")}

    def to_v2(spec: dict[str, Any]) -> None:
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = workload_image("v2")

    def replaced(task: dict[str, Any]) -> bool:
        image = str(task["Spec"]["ContainerSpec"]["Image"])
        new = task["Status"]["ContainerStatus"]["ContainerID"] not in old
        return new and image.startswith(workload_image("v2"))

    with probe_container(swarm_cluster, swarm_cluster.nodes[0], "app-net") as probe:
        wait_resolves(probe, "web", lambda: {vip}, DNS_TIMEOUT_S)
        update_service_spec(lead, "web", to_v2, "image v2")
        wait_tasks(
            lead,
            "web",
            1,
            "web's task replaced by a v2 task",
            replaced,
            timeout_s=REDEPLOY_TIMEOUT_S,
        )
        after = service_vips(lead, "web")
        assert after == before, f"VIPs before the update {before}, after {after}"
        wait_resolves(probe, "web", lambda: {vip}, DNS_TIMEOUT_S)


@pytest.mark.swarmcheck(
    id="SC-NET-009",
    area="networking",
    doc=f"{NET}#configure-service-discovery",
    title="connections to the VIP reach the tasks, before and after an update (needs IPVS)",
    promise=(
        "Connections to a service's virtual IP MUST be answered by its running tasks, by the "
        "old version before a rolling update and the new one after it, through the same VIP."
    ),
    rows=("net-vip-stable", "net-discovery"),
    needs=("ipvs",),
    effects=("writes",),
)
def test_vip_traffic_across_update(swarm_cluster: Swarm) -> None:
    # Continuous availability through the VIP during the update is SC-UPD-002.
    skip_without_ipvs(swarm_cluster)
    lead = lead_of(swarm_cluster)
    net = lead.create_network("app-net")
    create_service(
        lead,
        "web",
        2,
        networks=["app-net"],
        update=UpdateConfig(order="start-first", monitor_s=0.5),
    )
    with probe_container(swarm_cluster, swarm_cluster.nodes[0], "app-net") as probe:
        wait_converged(lead, "web", 2)
        vip = service_vips(lead, "web")[net]

        def answers(version: str) -> bool | None:
            return True if all(probe.http(vip) == version for _ in range(4)) else None

        wait_until(
            lambda: answers("v1"),
            what=f"the VIP {vip} to answer v1",
            timeout_s=MESH_TIMEOUT_S,
            timeout_error=promise_timeout,
        )

        def to_v2(spec: dict[str, Any]) -> None:
            spec["TaskTemplate"]["ContainerSpec"]["Image"] = workload_image("v2")

        update_service_spec(lead, "web", to_v2, "image v2")
        wait_converged(lead, "web", 2, image=workload_image("v2"))
        wait_until(
            lambda: answers("v2"),
            what=f"the VIP {vip} to answer v2 after the update",
            timeout_s=MESH_TIMEOUT_S,
            timeout_error=promise_timeout,
        )
        assert service_vips(lead, "web")[net] == vip, "the VIP changed across the update"


# -- service networks, pool, attachable --------------------------------------------------------
@pytest.mark.swarmcheck(
    id="SC-NET-010",
    area="networking",
    doc=f"{SERVICES}#connect-the-service-to-an-overlay-network",
    title="network-add/rm redeploys tasks on exactly the new networks; in-use removal refused",
    promise=(
        "Adding or removing a service network MUST redeploy the tasks attached to exactly the "
        "new set (and drop the VIP on a removed network), and Swarm MUST refuse to remove an "
        'overlay a service uses ("is in use by") until its tasks are gone.'
    ),
    rows=("net-service-networks",),
    needs=(),
    effects=("writes",),
)
def test_service_networks_add_remove(swarm_cluster: Swarm) -> None:
    lead = lead_of(swarm_cluster)
    nets = {name: lead.create_network(name) for name in ("a", "b")}
    service_id = create_service(lead, "web", 1, networks=["a"])
    tasks = wait_converged(lead, "web", 1)

    def set_networks(names: list[str]) -> Callable[[dict[str, Any]], None]:
        def change(spec: dict[str, Any]) -> None:
            spec["TaskTemplate"]["Networks"] = [{"Target": nets[n]} for n in names]

        return change

    def redeployed(want: set[str], old: set[str | None]) -> Callable[[dict[str, Any]], bool]:
        def accept(task: dict[str, Any]) -> bool:
            new = task["Status"]["ContainerStatus"]["ContainerID"] not in old
            return new and task_network_ids(task) == want

        return accept

    for names in (["a", "b"], ["b"]):
        old = {t.container_id for t in tasks}
        update_service_spec(lead, "web", set_networks(names), f"networks {names}")
        want = {nets[n] for n in names}
        tasks = wait_tasks(
            lead,
            "web",
            1,
            f"web's task redeployed on exactly networks {names}",
            redeployed(want, old),
            timeout_s=REDEPLOY_TIMEOUT_S,
        )
        for task in tasks:  # what the engines run
            node = node_of_task(swarm_cluster, task)
            attached = set(container_networks(node, task.container_id or ""))
            assert attached == set(names), f"task {task.id[:10]} on {node.name}: {attached}"
        wait_until(
            lambda w=want: True if set(service_vips(lead, "web")) == w else None,
            what=f"web's VIPs to be on exactly networks {names}",
            timeout_s=10,
            timeout_error=promise_timeout,
        )

    in_use = refused(lambda: lead.networks.remove("b"), "removing b while web uses it")
    assert f"network {nets['b']} is in use by service {service_id}" in in_use.explanation, in_use

    def removed(name: str) -> bool | None:
        try:
            lead.networks.remove(name)
        except EngineAPIError as exc:
            if "is in use by" not in exc.explanation:
                raise
            return None
        return True

    # a: no longer in the service; removable once the old tasks' attachments are released.
    wait_until(
        lambda: removed("a"),
        what="network a to become removable after web left it",
        timeout_s=NETWORK_RM_TIMEOUT_S,
        timeout_error=promise_timeout,
    )
    lead.remove_service("web")
    wait_until(
        lambda: removed("b"),
        what="network b to become removable after web was removed",
        timeout_s=NETWORK_RM_TIMEOUT_S,
        timeout_error=promise_timeout,
    )


@pytest.mark.swarmcheck(
    id="SC-NET-011",
    area="networking",
    doc=f"{NET}#customize-the-default-address-pool",
    title="ingress and overlay subnets come from the init address pool with its subnet size",
    promise=(
        "Swarm MUST carve the ingress and every overlay subnet, and the addresses of tasks on "
        "them, from the default address pool with the subnet size given at init, and report "
        "both (and the default data path port 4789) in the cluster info."
    ),
    rows=("net-addr-pool",),
    needs=(),
    effects=("writes",),
)
def test_address_pool(swarm_cluster: Swarm) -> None:
    lead = lead_of(swarm_cluster)
    pool = ipaddress.ip_network(swarm_cluster.spec.addr_pool)
    swarm = lead.info()["Cluster"]
    assert swarm.get("DefaultAddrPool") == [str(pool)], swarm
    assert swarm.get("SubnetSize") == 24, swarm
    assert swarm.get("DataPathPort") == 4789, swarm

    def subnet(name: str) -> ipaddress.IPv4Network | None:
        configs = lead.networks.inspect(name)["IPAM"].get("Config") or []
        return ipaddress.IPv4Network(configs[0]["Subnet"]) if configs else None

    ingress = subnet("ingress")
    assert ingress and ingress.subnet_of(pool) and ingress.prefixlen == 24, ingress
    lead.create_network("pooled")
    create_service(lead, "web", 1, networks=["pooled"])
    # The subnet is allocated lazily, once a service attaches.
    pooled = wait_until(
        lambda: subnet("pooled"),
        what="the pooled network to get a subnet",
        timeout_s=10,
        timeout_error=promise_timeout,
    )
    assert pooled.subnet_of(pool) and pooled.prefixlen == 24, f"pooled got {pooled}"
    assert not pooled.overlaps(ingress), f"pooled {pooled} overlaps ingress {ingress}"
    task = wait_converged(lead, "web", 1)[0]
    container = task_container(swarm_cluster, task)[1]
    address = container["NetworkSettings"]["Networks"]["pooled"]["IPAddress"]
    assert ipaddress.ip_address(address) in pooled, f"task address {address} not in {pooled}"


@pytest.mark.swarm(capabilities=("destroy",))
@pytest.mark.swarmcheck(
    id="SC-NET-012",
    area="networking",
    doc="https://docs.docker.com/reference/cli/docker/swarm/init/",
    title="init with a custom pool, subnet size and data path port: subnets in order, VXLAN port",
    promise=(
        "A swarm initialised with --default-addr-pool, --default-addr-pool-mask-length and "
        "--data-path-port MUST report them, MUST give the ingress the pool's first subnet and "
        "the next overlay the one after it, and MUST carry overlay traffic on that UDP port."
    ),
    rows=("net-addr-pool",),
    needs=(),
    effects=("reads",),
)
def test_init_address_pool_and_data_path_port(swarm_cluster: Swarm) -> None:
    with spare_swarm(
        swarm_cluster,
        "pool",
        default_addr_pool=["10.203.0.0/16"],
        subnet_size=26,
        data_path_port=7777,
    ) as own:
        spare, node = own.swarm, own.node
        swarm = spare.info()["Cluster"]
        assert (swarm["DefaultAddrPool"], swarm["SubnetSize"], swarm["DataPathPort"]) == (
            ["10.203.0.0/16"],
            26,
            7777,
        ), swarm
        ingress = spare.networks.inspect("ingress")["IPAM"]["Config"][0]["Subnet"]
        assert ingress == "10.203.0.0/26", f"ingress got {ingress}"
        spare.create_network("next")
        create_service(spare, "web", 1, networks=["next"])
        task = wait_converged(spare, "web", 1)[0]
        subnet = spare.networks.inspect("next")["IPAM"]["Config"][0]["Subnet"]
        assert subnet == "10.203.0.64/26", f"the next overlay got {subnet}"
        # The engine's VXLAN device for the overlay sends to the configured port.
        _, out = node.exec(
            "for ns in /run/docker/netns/*; do nsenter --net=$ns ip -d link show type vxlan; "
            "done 2>/dev/null"
        )
        ports = {int(p) for p in re.findall(r"dstport (\d+)", out)}
        assert ports == {7777}, f"VXLAN devices use ports {ports or 'none'} (task {task.id[:10]})"


@pytest.mark.swarmcheck(
    id="SC-NET-013",
    area="networking",
    doc=f"{NET}#attach-a-standalone-container-to-an-overlay-network",
    title="attachable overlay: standalone containers on two nodes join it and reach each other",
    promise=(
        "An overlay created attachable MUST accept standalone containers on any node, which "
        "MUST reach each other over it by address and by name, and it MUST stay attachable."
    ),
    rows=("net-attachable",),
    needs=(),
    effects=("writes",),
)
def test_attachable_overlay(swarm_cluster: Swarm) -> None:
    lead = lead_of(swarm_cluster)
    lead.create_network("att", attachable=True)
    first, second = swarm_cluster.nodes[0], swarm_cluster.nodes[1]
    with (
        probe_container(swarm_cluster, second, "att", name="att-server", command=[]) as server,
        probe_container(swarm_cluster, first, "att", name="att-client") as client,
    ):
        address = container_networks(second, server.container_id)["att"]["IPAddress"]
        wait_until(
            lambda: client.http(address),
            what=f"a standalone container on {first.name} to reach one on {second.name}",
            timeout_s=DNS_TIMEOUT_S,
            timeout_error=promise_timeout,
        )
        assert client.http(address) == "v1"
        wait_resolves(client, "att-server", lambda: {address}, DNS_TIMEOUT_S)
        for node in (first, second):
            attrs = node.engine().network("att")
            assert attrs["Attachable"] is True, f"{node.name}: {attrs}"
        assert lead.networks.inspect("att")["Attachable"] is True


@pytest.mark.swarm(capabilities=("destroy",))
@pytest.mark.swarmcheck(
    id="SC-NET-014",
    area="networking",
    doc=f"{NET}#attach-a-standalone-container-to-an-overlay-network",
    title="after a forced swarm leave, standalone containers are off the attachable overlay",
    promise=(
        "When a node leaves the swarm, standalone containers it attached to an attachable "
        "overlay MUST be disconnected from it and the network MUST be gone from that node."
    ),
    rows=("net-attachable",),
    needs=(),
    effects=("reads",),
)
def test_attachable_overlay_after_leave(swarm_cluster: Swarm) -> None:
    with spare_swarm(swarm_cluster, "leaver") as own:
        node = own.node
        own.swarm.networks.create("att")
        with probe_container(swarm_cluster, node, "att", name="att-leaver") as probe:
            assert "att" in container_networks(node, probe.container_id)
            own.swarm.leave(force=True)

            def detached() -> bool | None:
                networks = container_networks(node, probe.container_id)
                local = node.engine().networks(names=["att"])
                return True if "att" not in networks and not local else None

            wait_until(
                detached,
                what="the container to be off att and att gone from the node",
                timeout_s=10,
                timeout_error=promise_timeout,
            )
            node.engine().remove_container(probe.container_id)


@pytest.mark.swarmcheck(
    id="SC-NET-015",
    area="networking",
    doc=f"{NET}#attach-a-standalone-container-to-an-overlay-network",
    title="a standalone attach refused for a duplicate static IP leaves the network removable",
    promise=(
        "An attach to an attachable overlay that fails because its static IP is taken MUST "
        "fail and MUST release what it took, so the network can be removed once the holder "
        "of the address is gone."
    ),
    rows=("net-attachable",),
    needs=(),
    effects=("writes",),
)
def test_failed_attach_releases_resources(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    # moby's TestOverlayAttachableReleaseResourcesOnFailure: the second `docker run` fails,
    # the first container is removed, and the network must then be removable although the
    # failed container is left as it is. The refusal comes after the engine's 20 s wait for
    # the network attachment on 20.10: this check costs about 20 s by design.
    lead = lead_of(swarm_cluster)
    first = swarm_cluster.nodes[0]
    lead.networks.create("fixed", subnet="10.212.0.0/24")
    engine = first.engine()

    def run_at(name: str, ip: str) -> str:
        return engine.run(
            workload_image(),
            ["sleep", "600"],
            name=name,
            network="fixed",
            ipv4_address=ip,
            labels=run_labels(swarm_cluster.run_id, "probe"),
        )

    holder = run_at("fixed-1", "10.212.0.33")
    failed = refused(lambda: run_at("fixed-2", "10.212.0.33"), "a second container on 10.212.0.33")
    swarm_figure("attach_refusal", failed.explanation[:120])
    assert any(text in failed.explanation for text in FAILED_ATTACH), (
        f"the duplicate address was refused for another reason: {failed.explanation!r}"
    )
    # What the failed attach left: at most a container that does not run and holds no
    # endpoint on the network. It stays: removing it would hide a leak.
    left = [engine.container(c.id) for c in engine.containers(running=False, name="^/fixed-2$")]
    for container in left:
        attached = (container.get("NetworkSettings") or {}).get("Networks") or {}
        endpoint = (attached.get("fixed") or {}).get("EndpointID")
        status = container["State"]["Status"]
        assert status != "running" and not endpoint, (
            f"the failed container is {status} with endpoint {endpoint!r} on fixed"
        )
    swarm_figure("failed_container_left", len(left))
    engine.remove_container(holder)

    def removable() -> bool | None:
        try:
            lead.networks.remove("fixed")
        except EngineAPIError:
            return None
        return True

    wait_until(
        removable,
        what="the fixed network to be removable after the failed attach (its holder removed, "
        "the failed container left as it is)",
        timeout_s=NETWORK_RM_TIMEOUT_S,
        timeout_error=promise_timeout,
    )
