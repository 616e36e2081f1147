"""Services: replicas converge and spread, service ps, scaling, removal."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from swarmcheck.api import (
    PromiseTimeout,
    Recorder,
    Swarm,
    SwarmClient,
    check_scaled,
    running_containers,
    task_containers,
    wait_converged,
    wait_until,
)

DOCS = "https://docs.docker.com/engine/swarm/swarm-tutorial"


@pytest.mark.swarmcheck(
    id="SC-SVC-001",
    area="services",
    doc=f"{DOCS}/deploy-service/",
    title="N replicas converge to N/N, spread over the nodes, per service ps",
    promise=(
        "A replicated service MUST converge to exactly N running tasks spread over the nodes, "
        "with each node's engine running what `service ps` shows."
    ),
    rows=("svc-converge",),
    effects=("writes",),
)
def test_replicas_converge_and_spread(
    swarm_cluster: Swarm, web: Callable[..., SwarmClient], swarm_figure: Recorder
) -> None:
    replicas = 2 * swarm_cluster.spec.size
    lead = web("web", replicas=replicas)
    running = wait_converged(lead, "web", replicas)
    by_node: dict[str, int] = {}
    for task in running:
        assert task.node_id, f"running task {task.id} has no node in service ps"
        by_node[task.node_id] = by_node.get(task.node_id, 0) + 1
    ids = {n.node_id for n in swarm_cluster.nodes}
    assert set(by_node) == ids, f"tasks per node {by_node}: not every node got a task"
    assert max(by_node.values()) - min(by_node.values()) <= 1, f"uneven spread {by_node}"
    on_nodes = running_containers(swarm_cluster, "web")
    for node in swarm_cluster.nodes:
        assert len(on_nodes[node.name]) == by_node[node.node_id], (
            f"service ps says {by_node[node.node_id]} tasks on {node.name}, its engine runs "
            f"{len(on_nodes[node.name])} containers of the service"
        )
        mine = {t.container_id for t in running if t.node_id == node.node_id}
        assert mine == set(on_nodes[node.name]), (
            f"{node.name} runs {sorted(on_nodes[node.name])}, service ps places {sorted(mine)}"
        )
    swarm_figure("replicas", replicas)


@pytest.mark.swarmcheck(
    id="SC-SVC-002",
    area="services",
    doc=f"{DOCS}/scale-service/",
    title="scale up and down",
    promise=(
        "Scaling a replicated service up or down MUST bring its running tasks to the new count."
    ),
    rows=("svc-scale",),
    effects=("writes",),
)
def test_scale_up_and_down(swarm_cluster: Swarm, web: Callable[..., SwarmClient]) -> None:
    """Scaling changes only the difference, as the engines show: up from 1 to 5 keeps the
    running container and adds 4; down to 2 stops 3 of those 5 and starts none."""
    lead = web("web", replicas=1)
    one = running_containers(swarm_cluster, "web")
    lead.scale("web", 5)
    wait_converged(lead, "web", 5)
    five = running_containers(swarm_cluster, "web")
    check_scaled(one, five, 5).assert_ok()
    lead.scale("web", 2)
    wait_converged(lead, "web", 2)
    two = running_containers(swarm_cluster, "web")
    check_scaled(five, two, 2).assert_ok()
    assert lead.service("web").replicas == 2


@pytest.mark.swarmcheck(
    id="SC-SVC-003",
    area="services",
    doc=f"{DOCS}/delete-service/",
    title="service rm leaves no container on any node",
    promise="Removing a service MUST remove its tasks and their containers from every node.",
    rows=("svc-converge",),
    effects=("writes",),
)
def test_service_rm_leaves_no_container(
    swarm_cluster: Swarm, web: Callable[..., SwarmClient], swarm_figure: Recorder
) -> None:
    lead = web("web", replicas=swarm_cluster.spec.size)
    service_id = lead.service("web").id
    lead.remove_service("web")
    assert not lead.exists("web")

    def gone() -> bool | None:
        left = {
            node: [c.id for c in found]
            for node, found in task_containers(
                swarm_cluster, service_id=service_id, running=False
            ).items()
            if found
        }
        return True if not left else None

    # Docker's own tests wait up to 30 s for a removed service's tasks to go (ServicePoll
    # allows 15 s, defaultReconciliationTimeout 30 s).
    wait_until(
        gone,
        what="every task container of the removed service to go",
        timeout_s=30,
        timeout_error=PromiseTimeout,
    )
