"""Self-healing: a task whose container disappears is replaced."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from suites import budgets
from swarmcheck.api import (
    Recorder,
    Stopwatch,
    Swarm,
    SwarmClient,
    running_containers,
    wait_converged,
    wait_task_stopped,
)


@pytest.mark.swarmcheck(
    id="SC-HEAL-001",
    area="self-healing",
    doc="https://docs.docker.com/engine/swarm/how-swarm-mode-works/services/",
    title="a force-removed task container is replaced; the failed task stays in history",
    promise=(
        "A task whose container is removed MUST be replaced until the service runs N/N again, "
        "with the failed task kept in the task history."
    ),
    rows=("heal-task-replace",),
    effects=("writes",),
)
def test_removed_task_container_is_replaced(
    swarm_cluster: Swarm, web: Callable[..., SwarmClient], swarm_figure: Recorder
) -> None:
    lead = web("web", replicas=3)
    victim = lead.running_tasks("web")[0]
    node = swarm_cluster.node(next(n.hostname for n in lead.nodes() if n.id == victim.node_id))
    before = running_containers(swarm_cluster, "web")
    clock = Stopwatch()
    assert victim.container_id, f"task {victim.id[:10]} has no container"
    node.engine().remove_container(victim.container_id)
    wait_task_stopped(lead, "web", victim.id, timeout_s=budgets.TASK_REPLACED_S)
    running = wait_converged(lead, "web", 3, timeout_s=budgets.TASK_REPLACED_S)  # engines agree
    swarm_figure("time_to_heal_s", clock())
    assert victim.id not in {t.id for t in running}, "the killed task still counts as running"
    others = frozenset().union(*before.values()) - {victim.container_id}
    after = frozenset().union(*running_containers(swarm_cluster, "web").values())
    assert others <= after, f"other tasks' containers were touched: {sorted(others - after)}"
    history = {t.id: t for t in lead.tasks("web")}
    assert victim.id in history, "the failed task vanished from the service's task history"
    assert history[victim.id].desired_state == "shutdown"
    assert history[victim.id].state in ("failed", "shutdown", "rejected", "complete"), (
        f"the replaced task is {history[victim.id].state}"
    )
    assert len(history) == 4, f"expected 3 running + 1 failed task, service ps shows {len(history)}"
