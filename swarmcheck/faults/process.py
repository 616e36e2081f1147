"""Node process faults, made through the host engine that runs the node containers.

Healing a node fault brings the node's container back and waits until its engine answers
(``Node.wait_engine``); it does not wait for the swarm to be whole again: that is what
checkers and suites measure.

``kill_dockerd``: in swarmcheck's node image dockerd is PID 1 of the container (the entrypoint
``exec``s it). The kernel ignores SIGKILL sent to a namespace's init from inside it (``docker
exec NODE kill -9 1`` does nothing), so the signal is sent from outside: to dockerd's host PID
when this process can see it, otherwise through ``docker kill --signal KILL``. Either way the
container's init dies, the kernel kills everything else in it (containerd, shims, tasks) and
the container exits with 137: like ``kill_node``, but what is killed is verified to be
dockerd. With an image where dockerd is not PID 1 it is killed inside and the container stays
up without an engine. Healing starts (or restarts) the container.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from docker.models.containers import Container

from swarmcheck.client.errors import translated
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import EngineAPIError, FaultError
from swarmcheck.faults.base import Fault, FaultLog, node_of
from swarmcheck.timing import wait_until

STOP_GRACE_S = 10
EXIT_WAIT_S = 15.0
DOWN_STATES = ("exited", "created", "dead")
FREEZE_ATTEMPTS = 3
UNABLE_TO_FREEZE = "unable to freeze"
"""runc's refusal when the freezer did not reach FROZEN in time (it thaws the container)."""


class NodeFault(Fault):
    """A fault on one node's container; healing makes it run with an answering engine."""

    def __init__(
        self,
        cluster: Cluster,
        node: Node | str,
        params: dict[str, str | int | float | bool] | None = None,
        log: FaultLog | None = None,
        grace_s: int = STOP_GRACE_S,
    ) -> None:
        self.node = node_of(cluster, node)
        self.grace_s = grace_s
        """Seconds between SIGTERM and SIGKILL for stop and restart."""
        super().__init__(cluster, (self.node.name,), params, log)

    @contextmanager
    def _engine_call(self, what: str) -> Iterator[None]:
        """Host-engine errors leave as FaultError naming the fault and the node."""
        try:
            with translated(self.node.name):
                yield
        except EngineAPIError as exc:
            raise FaultError(f"{what} failed: {exc}", self.kind, self.node.name) from exc

    def _container(self) -> Container:
        with self._engine_call("inspecting the node container"):
            container = self.node.container
        return container

    def _wait_status(self, wanted: tuple[str, ...], timeout_s: float = EXIT_WAIT_S) -> None:
        seen: list[str] = []

        def reached() -> bool | None:
            seen[:] = [self._container().status]
            return True if seen[0] in wanted else None

        def stuck(what: str, waited_s: float, last_error: str | None) -> Exception:
            return FaultError(
                f"container is {seen[0] if seen else '?'!r}, not {'/'.join(wanted)}, after "
                f"{waited_s:g}s" + (f" (last error: {last_error})" if last_error else ""),
                self.kind,
                self.node.name,
            )

        wait_until(
            reached,
            what=f"{self.node.name}'s container to be {'/'.join(wanted)}",
            timeout_s=timeout_s,
            interval_s=0.05,
            transient=(),  # _container() already turns engine errors into FaultError
            timeout_error=stuck,
        )

    def _heal(self) -> None:
        """Unpause or start the container as needed, then wait for its engine."""
        container = self._container()
        with self._engine_call("bringing the node back"):
            if container.status == "paused":
                container.unpause()
            elif container.status in DOWN_STATES:
                container.start()
            elif container.status == "restarting":
                pass  # the engine is bringing it back already
        self.node.close()  # its pooled connections point at the old engine
        self.node.wait_engine()


class KillNode(NodeFault):
    """SIGKILL the node container (a machine losing power)."""

    kind = "kill_node"

    def _inject(self) -> None:
        with self._engine_call("docker kill"):
            self._container().kill(signal="SIGKILL")
        self._wait_status(DOWN_STATES)


class StopNode(NodeFault):
    """``docker stop`` the node: SIGTERM to dockerd (a clean shutdown), SIGKILL after grace."""

    kind = "stop_node"

    def _inject(self) -> None:
        with self._engine_call("docker stop"):
            self._container().stop(timeout=self.grace_s)
        self._wait_status(DOWN_STATES)


class RestartNode(NodeFault):
    """``docker restart`` the node; start() returns once the container runs again (its engine
    may still be starting); stop() waits for the engine."""

    kind = "restart_node"

    def _inject(self) -> None:
        with self._engine_call("docker restart"):
            self._container().restart(timeout=self.grace_s)


class PauseNode(NodeFault):
    """Freeze every process of the node (cgroup freezer): it neither answers nor times out."""

    kind = "pause_node"

    def _inject(self) -> None:
        container = self._container()
        for attempt in range(1, FREEZE_ATTEMPTS + 1):
            try:
                with self._engine_call("docker pause"):
                    container.pause()
                return
            except FaultError as exc:
                if attempt == FREEZE_ATTEMPTS or not could_not_freeze(exc):
                    raise


def could_not_freeze(exc: BaseException) -> bool:
    """The runtime's cgroup-v1 freezer gave up (it thawed the container, which runs on): it
    polls for FROZEN a bounded number of times, and a loaded machine's freeze can take longer,
    so the freeze is tried again. Seen here with several swarms paused and resumed at once."""
    return UNABLE_TO_FREEZE in str(exc)


class KillDockerd(NodeFault):
    """SIGKILL the node's dockerd (see the module docstring for what that means here)."""

    kind = "kill_dockerd"

    def _inject(self) -> None:
        container = self._container()
        init_pid = int(container.attrs["State"]["Pid"])
        hostname = str(container.attrs["Config"]["Hostname"])
        with self._engine_call("docker top"):
            processes = container.top()
        pids = [int(row[1]) for row in processes.get("Processes") or [] if _is_dockerd(row[-1])]
        if not pids:
            raise FaultError("no dockerd process in the node container", self.kind, self.node.name)
        is_init = init_pid in pids
        if _signal_host_pid(init_pid if is_init else pids[0], hostname):
            method = "host-signal"
        elif is_init:  # the same signal to the same process, delivered by the host engine
            method = "engine-kill"
            with self._engine_call("docker kill"):
                container.kill(signal="SIGKILL")
        else:
            method = "exec-kill"
            code, out = self.node.exec("kill -9 $(pidof dockerd)")
            if code != 0:
                raise FaultError(
                    f"kill -9 dockerd failed: {out.strip()}", self.kind, self.node.name
                )
        self._add_params(method=method, dockerd_is_pid1=is_init)
        if is_init:  # the kernel ends every process of the container with its init
            self._wait_status(DOWN_STATES)

    def _heal(self) -> None:
        container = self._container()
        if container.status == "running" and not self._engine_answers():
            with self._engine_call("docker restart"):
                container.restart(timeout=STOP_GRACE_S)
        super()._heal()

    def _engine_answers(self) -> bool:
        try:
            with translated(self.node.name):
                client = self.node.quick_client(2.0)
                try:
                    client.version()
                finally:
                    client.close()
        except EngineAPIError:
            return False
        return True


class KillTaskContainer(Fault):
    """Force-remove one running task's container; nothing to heal: Swarm must replace it."""

    kind = "kill_task"

    def __init__(
        self,
        cluster: Cluster,
        node: Node,
        service: str,
        task_id: str,
        container_id: str,
        log: FaultLog | None = None,
    ) -> None:
        params = {"service": service, "task_id": task_id, "container_id": container_id}
        super().__init__(cluster, (node.name,), params, log)
        self.node = node
        self.container_id = container_id

    def _inject(self) -> None:
        try:
            with translated(self.node.name):
                self.node.client.containers.get(self.container_id).remove(force=True)
        except EngineAPIError as exc:
            raise FaultError(
                f"removing the task container failed: {exc}", self.kind, self.node.name
            ) from exc

    def _heal(self) -> None:
        pass


def kill_node(cluster: Cluster, node: Node | str, log: FaultLog | None = None) -> KillNode:
    return KillNode(cluster, node, log=log)


def stop_node(
    cluster: Cluster, node: Node | str, grace_s: int = STOP_GRACE_S, log: FaultLog | None = None
) -> StopNode:
    return StopNode(cluster, node, {"grace_s": grace_s}, log, grace_s)


def restart_node(
    cluster: Cluster, node: Node | str, grace_s: int = STOP_GRACE_S, log: FaultLog | None = None
) -> RestartNode:
    return RestartNode(cluster, node, {"grace_s": grace_s}, log, grace_s)


def pause_node(cluster: Cluster, node: Node | str, log: FaultLog | None = None) -> PauseNode:
    return PauseNode(cluster, node, log=log)


def kill_dockerd(cluster: Cluster, node: Node | str, log: FaultLog | None = None) -> KillDockerd:
    return KillDockerd(cluster, node, log=log)


def kill_task_container(
    cluster: Cluster,
    service: str,
    *,
    node: Node | str | None = None,
    task_id: str | None = None,
    log: FaultLog | None = None,
) -> KillTaskContainer:
    """A fault removing the container of one running task of ``service`` (the lowest slot, or
    ``task_id``, optionally only on ``node``). Raises FaultError if no task matches."""
    manager = cluster.wait_leader(timeout_s=30)
    names = {info.id: info.hostname for info in cluster.node_list(via=manager)}
    want = node_of(cluster, node).name if node is not None else None
    try:
        tasks = cluster.client(manager).running_tasks(service)
    except EngineAPIError as exc:
        raise FaultError(f"cannot list the tasks of {service}: {exc}", "kill_task") from exc
    matches = sorted(
        (
            t
            for t in tasks
            if t.container_id
            and (task_id is None or t.id == task_id)
            and (want is None or names.get(t.node_id) == want)
        ),
        key=lambda t: (t.slot or 0, t.id),
    )
    if not matches:
        raise FaultError(
            f"no running task of {service!r} matches (task_id={task_id}, node={want})",
            "kill_task",
        )
    task = matches[0]
    assert task.container_id is not None
    return KillTaskContainer(
        cluster, cluster.node(names[task.node_id]), service, task.id, task.container_id, log
    )


def _is_dockerd(command: str) -> bool:
    first = command.split()[0] if command.split() else ""
    return Path(first).name == "dockerd"


def _signal_host_pid(pid: int, hostname: str) -> bool:
    """SIGKILL ``pid`` if this process sees it as the node's dockerd (a dockerd whose root file
    system has the node's hostname: we share the host engine's PID namespace); False when it
    cannot, so the caller goes through the engine instead."""
    proc = Path(f"/proc/{pid}")
    try:
        if Path(os.readlink(proc / "exe")).name != "dockerd":
            return False
        if (proc / "root" / "etc" / "hostname").read_text().strip() != hostname:
            return False
        os.kill(pid, signal.SIGKILL)
        return True
    except OSError:  # PermissionError included: the process is not ours to see
        return False
