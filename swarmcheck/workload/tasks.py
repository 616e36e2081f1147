"""Reaching a task where it runs: its node, its container on that node's engine, a command in it.

Checks assert what the engines run, not only what the managers report: these helpers go from a
task (as `docker service ps` shows it) to the container on the node that runs it.
"""

from __future__ import annotations

from docker.models.containers import Container

from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import TaskInfo
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import SwarmPromiseBroken


def node_of_task(cluster: Cluster, task: TaskInfo) -> Node:
    """The node the managers placed ``task`` on."""
    for info in cluster.node_list():
        if info.id == task.node_id:
            return cluster.node(info.hostname)
    raise SwarmPromiseBroken(
        f"task {task.id[:10]} of {task.service} is on node {task.node_id[:10]}, "
        "which no manager lists"
    )


def task_container(cluster: Cluster, task: TaskInfo) -> tuple[Node, Container]:
    """The node running ``task`` and the task's container, read from that node's engine."""
    node = node_of_task(cluster, task)
    if not task.container_id:
        raise SwarmPromiseBroken(f"task {task.id[:10]} of {task.service} has no container yet")
    with translated(node.name):
        container = node.client.containers.get(task.container_id)
    return node, container


def exec_in_task(cluster: Cluster, task: TaskInfo, cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd`` inside the task's container on its node; return (exit code, output)."""
    node, container = task_container(cluster, task)
    with translated(node.name):
        result = container.exec_run(cmd, demux=False)
    out = result.output.decode(errors="replace") if result.output else ""
    return int(result.exit_code or 0), out


def running_task_containers(cluster: Cluster, service_id: str) -> dict[str, list[str]]:
    """Ids of the RUNNING containers of a service's tasks, per node, from each node's engine."""
    found: dict[str, list[str]] = {}
    for node in cluster.nodes:
        with translated(node.name):
            containers = node.client.containers.list(
                filters={"label": f"com.docker.swarm.service.id={service_id}", "status": "running"}
            )
        found[node.name] = [str(c.id) for c in containers]
    return found
