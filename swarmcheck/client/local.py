"""One engine's own objects, as checks read and change them: the containers it runs, its
local networks, images and events, its ``docker info``.

``SwarmClient`` is the swarm as one engine's managers see it; ``NodeEngine`` is what that
engine itself runs: the side checks assert "the engines run it, not only the managers say
so" with. It returns plain data (``ContainerInfo``, the API's JSON), never docker-py models,
and raises only swarmcheck errors (``client.errors``): ``EngineUnreachable`` when the engine
does not answer, ``EngineAPIError`` (``NotFound``) when it answers with an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from swarmcheck.client.errors import translated
from swarmcheck.client.facade import Facade
from swarmcheck.steps import step

SERVICE_NAME = "com.docker.swarm.service.name"
SERVICE_ID = "com.docker.swarm.service.id"
TASK_ID = "com.docker.swarm.task.id"
"""The labels a swarm task's container carries (its service's name and ID, its task ID)."""


@dataclass(frozen=True)
class ContainerInfo:
    """One container as the engine lists it (`docker ps`)."""

    id: str
    name: str
    image: str
    """The image as the container was created from it, without a digest."""
    state: str
    """created, running, paused, restarting, exited, dead."""
    status: str
    """The engine's words: "Up 3 seconds (healthy)", "Exited (0) 2 seconds ago"."""
    labels: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def healthy(self) -> bool:
        return "(healthy)" in self.status

    @classmethod
    def of(cls, listed: Mapping[str, Any]) -> ContainerInfo:
        names = listed.get("Names") or [""]
        return cls(
            id=str(listed["Id"]),
            name=str(names[0]).lstrip("/"),
            image=str(listed.get("Image", "")).split("@")[0],
            state=str(listed.get("State", "")),
            status=str(listed.get("Status", "")),
            labels=dict(listed.get("Labels") or {}),
        )


def task_labels(
    service: str | None = None, *, service_id: str | None = None, task_id: str | None = None
) -> list[str]:
    """Label filters for the task containers of a service (by name or ID) or of one task; any
    task container when none is given."""
    found = [f"{SERVICE_NAME}={service}"] if service else []
    if service_id:
        found.append(f"{SERVICE_ID}={service_id}")
    if task_id:
        found.append(f"{TASK_ID}={task_id}")
    return found or [SERVICE_ID]


class NodeEngine(Facade):
    """Calls to one node's engine about what it runs itself (``Facade``: closes a client it
    made)."""

    # -- the engine ----------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """`docker info`."""
        with self._calls() as api:
            return dict(api.info())

    def swarm_info(self) -> dict[str, Any]:
        """`docker info`'s Swarm section: this engine's own view of its membership."""
        return dict(self.info()["Swarm"])

    def version(self) -> str:
        """The engine's version (`docker version`'s Server Version)."""
        with self._calls() as api:
            return str(api.version()["Version"])

    def ping_swarm_header(self) -> str | None:
        """The ``Swarm`` header of ``GET /_ping`` (None when the engine sends none)."""
        with self._calls() as api:
            response = api.get(f"{api.base_url}/_ping")
            response.raise_for_status()
        header = response.headers.get("Swarm")
        return str(header) if header is not None else None

    def events(
        self, since_ns: int, until_ns: int, filters: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The events the engine reports from ``since_ns`` to ``until_ns`` (epoch ns), in
        order (`docker events --since --until`: a finite read)."""
        with self._calls() as api:
            stream = api.events(
                since=_stamp(since_ns),
                until=_stamp(until_ns),
                filters=dict(filters) if filters else None,
                decode=True,
            )
            try:
                return [dict(e) for e in stream if int(e.get("timeNano", 0)) >= since_ns]
            finally:
                stream.close()

    # -- containers ----------------------------------------------------------------------
    def containers(
        self,
        labels: Sequence[str] = (),
        *,
        running: bool = True,
        name: str | None = None,
    ) -> list[ContainerInfo]:
        """The containers carrying every label filter of ``labels`` (``key`` or ``key=value``),
        only running ones unless ``running=False`` (then every state)."""
        filters: dict[str, Any] = {}
        if labels:
            filters["label"] = list(labels)
        if running:
            filters["status"] = "running"
        if name is not None:
            filters["name"] = name
        with self._calls() as api:
            return [ContainerInfo.of(c) for c in api.containers(all=not running, filters=filters)]

    def task_containers(
        self,
        service: str | None = None,
        *,
        service_id: str | None = None,
        task_id: str | None = None,
        running: bool = True,
    ) -> list[ContainerInfo]:
        """The containers of a service's tasks (by name or ID), or of one task, that this
        engine runs (every state with ``running=False``)."""
        return self.containers(
            task_labels(service, service_id=service_id, task_id=task_id), running=running
        )

    def container(self, ref: str) -> dict[str, Any]:
        """`docker inspect` of a container."""
        with self._calls() as api:
            return dict(api.inspect_container(ref))

    def run(
        self,
        image: str,
        command: Sequence[str] | None = None,
        *,
        labels: Mapping[str, str],
        name: str | None = None,
        network: str | None = None,
        network_mode: str | None = None,
        ipv4_address: str | None = None,
        detach: bool = True,
    ) -> str:
        """Start a standalone container (not a task) carrying ``labels`` (the run's, so the
        reset and the sweep remove it); its ID. With ``detach=False`` it is waited for and
        removed, and its output returned instead."""
        title = f"run {name or image} on {self.node}" + (f" in {network}" if network else "")
        with step(title), translated(self.node):
            containers = self.docker.containers
            if not detach:
                out = containers.run(
                    image, list(command) if command else None, labels=dict(labels), remove=True
                )
                return bytes(out).decode(errors="replace")
            networking = None
            if ipv4_address is not None and network is not None:
                endpoint = self.docker.api.create_endpoint_config(ipv4_address=ipv4_address)
                networking = {network: endpoint}
            created = containers.run(
                image,
                list(command) if command is not None else None,
                name=name,
                detach=True,
                labels=dict(labels),
                network=network,
                network_mode=network_mode,
                networking_config=networking,
            )
            return str(created.id)

    def exec(self, container: str, cmd: Sequence[str]) -> tuple[int, str]:
        """Run ``cmd`` in a running container; its exit code and output (stdout and stderr)."""
        with translated(self.node):
            result = self.docker.containers.get(container).exec_run(list(cmd), demux=False)
        out = result.output.decode(errors="replace") if result.output else ""
        return int(result.exit_code or 0), out

    def logs(self, container: str, *, stderr: bool = True) -> str:
        with self._calls() as api:
            raw = api.logs(container, stdout=True, stderr=stderr)
        return bytes(raw).decode(errors="replace")

    def wait(self, container: str, timeout_s: float) -> int:
        """Wait for a container to exit; its exit code."""
        with self._calls() as api:
            return int(api.wait(container, timeout=timeout_s)["StatusCode"])

    def remove_container(self, ref: str, *, force: bool = True) -> None:
        with self._calls() as api:
            api.remove_container(ref, force=force)

    def commit(self, container: str, repository: str) -> str:
        """An image of the container's filesystem (`docker commit`); its ID."""
        with self._calls() as api:
            return str(api.commit(container, repository=repository)["Id"])

    def remove_image(self, ref: str, *, force: bool = True) -> None:
        with self._calls() as api:
            api.remove_image(ref, force=force)

    def load_images(self, tars: Sequence[bytes]) -> None:
        """Load image archives (`docker load`): a node has no registry to pull from."""
        with translated(self.node):
            for tar in tars:
                self.docker.images.load(tar)

    # -- networks as this engine has them ------------------------------------------------
    def network(self, ref: str) -> dict[str, Any]:
        """`docker network inspect` on this engine (a swarm network as this node has it)."""
        with self._calls() as api:
            return dict(api.inspect_network(ref))

    def networks(self, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """The networks this engine lists (those named ``names``, when given)."""
        with self._calls() as api:
            found = api.networks(names=list(names) if names is not None else None)
        return [dict(n) for n in found]

    def create_network(
        self, name: str, *, driver: str = "overlay", attachable: bool = False, subnet: str = ""
    ) -> str:
        """A network made through this engine (an overlay is a swarm network), with one given
        ``subnet`` or the pool's next; its ID."""
        ipam = {"Config": [{"Subnet": subnet}]} if subnet else None
        with step(f"create {driver} network {name} via {self.node}"), self._calls() as api:
            made = api.create_network(name, driver=driver, attachable=attachable, ipam=ipam)
        return str(made["Id"])

    def remove_network(self, ref: str) -> None:
        with step(f"remove network {ref} via {self.node}"), self._calls() as api:
            api.remove_network(ref)


def _stamp(ns: int) -> str:
    """An Engine API timestamp with nanoseconds ("seconds.nanoseconds")."""
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"
