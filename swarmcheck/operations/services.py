"""Services (catalog area ``services``): creating one with fast timings, changing it by
read-modify-write of its whole spec, its tasks as the API returns them, and the waits on what
Swarm promises about them (convergence, a stopped task, an accepted write).

Checks assert what the engines run, not only what the managers report: these helpers also go
from a task (as `docker service ps` shows it) to the container on the node that runs it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from swarmcheck.checkers.convergence import engine_disagreements
from swarmcheck.client.specs import RestartPolicy, UpdateConfig
from swarmcheck.client.swarm import SwarmClient, TaskInfo
from swarmcheck.cluster.interface import Swarm, SwarmNode
from swarmcheck.errors import EngineAPIError, PromiseTimeout, SwarmPromiseBroken
from swarmcheck.machine.images import workload_image
from swarmcheck.operations.promises import promise_timeout
from swarmcheck.steps import step
from swarmcheck.timing import wait_until


def node_of_task(cluster: Swarm, task: TaskInfo) -> SwarmNode:
    """The node the managers placed ``task`` on."""
    for info in cluster.node_list():
        if info.id == task.node_id:
            return cluster.node(info.hostname)
    raise SwarmPromiseBroken(
        f"task {task.id[:10]} of {task.service} is on node {task.node_id[:10]}, "
        "which no manager lists"
    )


def task_container(cluster: Swarm, task: TaskInfo) -> tuple[SwarmNode, dict[str, Any]]:
    """The node running ``task`` and the task's container (`docker inspect`), read from that
    node's own engine."""
    node = node_of_task(cluster, task)
    if not task.container_id:
        raise SwarmPromiseBroken(f"task {task.id[:10]} of {task.service} has no container yet")
    return node, node.engine().container(task.container_id)


def exec_in_task(cluster: Swarm, task: TaskInfo, cmd: list[str]) -> tuple[int, str]:
    """Run ``cmd`` inside the task's container on its node; return (exit code, output)."""
    node = node_of_task(cluster, task)
    if not task.container_id:
        raise SwarmPromiseBroken(f"task {task.id[:10]} of {task.service} has no container yet")
    return node.engine().exec(task.container_id, cmd)


CONVERGE_TIMEOUT_S = 60.0


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


# -- services ----------------------------------------------------------------------------------
QUICK_RESTART = RestartPolicy("any", delay_s=0.5)
QUICK_UPDATE = UpdateConfig(parallelism=0, delay_s=0, monitor_s=0.5)
QUICK_STOP_S = 0.2


def create_service(
    client: SwarmClient, name: str, replicas: int = 1, *, version: str = "v1", **options: Any
) -> str:
    """Create a replicated workload service with short timings; return its ID.

    Restart after 0.5 s, stop grace 0.2 s, updates of every task at once with a 0.5 s monitor:
    the checks wait on Swarm's behaviour, not on Docker's default delays. ``options`` are
    ``SwarmClient.create``'s (secrets, configs, networks, endpoint, env, ...) and win over
    those defaults.
    """
    chosen: dict[str, Any] = {
        "restart": QUICK_RESTART,
        "update": QUICK_UPDATE,
        "stop_grace_s": QUICK_STOP_S,
        **options,
    }
    return client.create(
        name,
        workload_image(version),
        replicas=replicas,
        title=f"create service {name}: {replicas} x {version}",
        **chosen,
    )


def update_service_spec(
    client: SwarmClient, name: str, change: Callable[[dict[str, Any]], None], what: str
) -> None:
    """Change a service by read-modify-write of its whole spec (keeps everything not changed).

    Swarm bumps a service's version on its own too (the update status of a rollout that just
    ended): a write that lost that race ("update out of sequence") is read and made again.
    """
    with step(f"update service {name}: {what}"):
        for attempt in range(3):
            try:
                attrs = client.inspect_service(name)
                spec = copy.deepcopy(attrs["Spec"])
                change(spec)
                client.update_service_raw(attrs["ID"], attrs["Version"]["Index"], spec)
                return
            except EngineAPIError as exc:
                if "update out of sequence" not in str(exc) or attempt == 2:
                    raise


def raw_tasks(client: SwarmClient, name: str) -> dict[str, dict[str, Any]]:
    """The service's tasks as the API returns them (network attachments included), by ID."""
    return {t["ID"]: t for t in client.raw_tasks(name)}


def wait_tasks(
    client: SwarmClient,
    name: str,
    replicas: int,
    what: str,
    accept: Callable[[dict[str, Any]], bool] = lambda task: True,
    *,
    timeout_s: float = 30.0,
) -> list[TaskInfo]:
    """Wait until exactly ``replicas`` tasks run, every one passing ``accept`` (given the raw
    task), and no other task is meant to run; a timeout is a broken promise."""

    def probe() -> list[TaskInfo] | None:
        raw = raw_tasks(client, name)
        tasks = client.tasks(name)
        meant = [t for t in tasks if t.desired_state == "running"]
        running = [t for t in meant if t.state == "running"]
        if len(running) != replicas or len(meant) != replicas:
            return None
        if not all(t.id in raw and accept(raw[t.id]) for t in running):
            return None
        return running

    return wait_until(probe, what=what, timeout_s=timeout_s, timeout_error=promise_timeout)
