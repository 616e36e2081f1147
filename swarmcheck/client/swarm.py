"""A typed facade over docker-py's swarm calls: what suites and checkers read and do.

Returns swarmcheck dataclasses, never docker-py models, and raises only swarmcheck errors: an
error the engine answers a swarm call with is ``SwarmRefused`` (a product failure unless the
check expects the refusal), one it does not answer is ``EngineUnreachable``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.types import EndpointSpec, Healthcheck, RestartPolicy, ServiceMode, UpdateConfig

from swarmcheck.client.errors import translated
from swarmcheck.errors import EngineAPIError, NotFound
from swarmcheck.steps import step
from swarmcheck.timing import wait_until

NS = 1_000_000_000
UPDATE_RACE_TIMEOUT_S = 5.0
"""How long a node update may keep losing version races before it is an error."""


@dataclass(frozen=True)
class NodeInfo:
    """One row of `docker node ls`, as a manager sees it."""

    id: str
    hostname: str
    role: str
    availability: str
    state: str
    leader: bool
    reachability: str | None
    manager_addr: str | None
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    version: int = 0


@dataclass(frozen=True)
class TaskInfo:
    """One task of a service, as `docker service ps` shows it."""

    id: str
    service: str
    slot: int | None
    node_id: str
    state: str
    desired_state: str
    container_id: str | None
    image: str
    error: str | None
    timestamp: str


@dataclass(frozen=True)
class StoredService:
    """A service as the managers store it: its id, the version a write must name, its spec."""

    id: str
    version: int
    spec: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class ServiceInfo:
    id: str
    name: str
    replicas: int | None
    image: str
    update_state: str | None


def _node_info(attrs: dict[str, Any]) -> NodeInfo:
    manager = attrs.get("ManagerStatus") or {}
    spec = attrs.get("Spec", {})
    return NodeInfo(
        id=attrs["ID"],
        hostname=attrs.get("Description", {}).get("Hostname", ""),
        role=spec.get("Role", ""),
        availability=spec.get("Availability", ""),
        state=attrs.get("Status", {}).get("State", ""),
        leader=bool(manager.get("Leader", False)),
        reachability=manager.get("Reachability"),
        manager_addr=manager.get("Addr"),
        labels=dict(spec.get("Labels") or {}),
        version=int(attrs.get("Version", {}).get("Index", 0)),
    )


def _task_info(attrs: dict[str, Any], service: str) -> TaskInfo:
    status = attrs.get("Status", {})
    container = status.get("ContainerStatus", {}) or {}
    return TaskInfo(
        id=attrs["ID"],
        service=service,
        slot=attrs.get("Slot"),
        node_id=attrs.get("NodeID", ""),
        state=status.get("State", ""),
        desired_state=attrs.get("DesiredState", ""),
        container_id=container.get("ContainerID"),
        image=attrs.get("Spec", {}).get("ContainerSpec", {}).get("Image", "").split("@")[0],
        error=status.get("Err"),
        timestamp=status.get("Timestamp", ""),
    )


EngineView = Callable[[str], Mapping[str, frozenset[str] | None]]
"""service name -> for each swarm node id, the ids of the service's containers that node's own
engine runs (None: that engine did not answer)."""


class SwarmClient:
    """Swarm calls through one node's engine; errors come out as swarmcheck exceptions.

    ``engines`` (given by the cluster) reads what every node's own engine runs, so waits on
    what the managers report can be checked against the engines.
    """

    def __init__(
        self, node: str, client: docker.DockerClient, engines: EngineView | None = None
    ) -> None:
        self.node = node
        self.docker = client
        self.engines = engines

    @contextmanager
    def _act(self, title: str) -> Iterator[None]:
        """A change to the swarm: a report step, with docker errors translated."""
        with step(f"{title} (via {self.node})"), translated(self.node, swarm=True):
            yield

    # -- swarm ---------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """`docker info`'s Swarm section."""
        with translated(self.node, swarm=True):
            return dict(self.docker.info()["Swarm"])

    def join_tokens(self) -> dict[str, str]:
        with translated(self.node, swarm=True):
            tokens = self.docker.swarm.attrs["JoinTokens"]
        return {"worker": tokens["Worker"], "manager": tokens["Manager"]}

    def swarm_spec(self) -> tuple[int, dict[str, Any]]:
        """The swarm's current spec and its version (`docker swarm inspect`)."""
        with translated(self.node, swarm=True):
            attrs = self.docker.api.inspect_swarm()
        return int(attrs["Version"]["Index"]), dict(attrs["Spec"])

    def heartbeat_period_s(self) -> float:
        """The dispatcher heartbeat period the swarm runs (the pace of node-down detection)."""
        return int(self.swarm_spec()[1]["Dispatcher"]["HeartbeatPeriod"]) / NS

    def rotate_join_token(self, kind: str) -> str:
        """Rotate the worker or manager join token; return the new one.

        A swarm update replaces the whole spec (fields left out go back to their defaults), so
        the current spec is sent back unchanged with only the rotate flag: docker-py's
        ``Swarm.update(rotate_...=True)`` builds a partial spec and would reset, for example,
        the dispatcher heartbeat set at init.
        """
        if kind not in ("worker", "manager"):
            raise ValueError(f"kind must be worker or manager, got {kind!r}")
        with self._act(f"rotate the {kind} join token"):
            version, spec = self.swarm_spec()
            self.docker.api.update_swarm(
                version=version,
                swarm_spec=spec,
                rotate_worker_token=kind == "worker",
                rotate_manager_token=kind == "manager",
            )
        return self.join_tokens()[kind]

    def join(self, manager_addr: str, token: str, advertise_addr: str, data_path_addr: str) -> None:
        with self._act(f"join the swarm at {manager_addr} advertising {advertise_addr}"):
            self.docker.swarm.join(
                remote_addrs=[manager_addr],
                join_token=token,
                listen_addr="0.0.0.0:2377",
                advertise_addr=advertise_addr,
                data_path_addr=data_path_addr,
            )

    def leave(self, force: bool = False) -> None:
        with self._act("leave the swarm" + (" (force)" if force else "")):
            self.docker.swarm.leave(force=force)

    # -- nodes ---------------------------------------------------------------------------
    def nodes(self) -> list[NodeInfo]:
        """`docker node ls`: raises EngineAPIError on a worker (the documented refusal)."""
        with translated(self.node, swarm=True):
            return [_node_info(n.attrs) for n in self.docker.nodes.list()]

    def update_node(
        self,
        node_id: str,
        role: str | None = None,
        availability: str | None = None,
        node_labels: dict[str, str] | None = None,
    ) -> None:
        """Change a node's spec, keeping the rest of it (read again while another update
        races it: "update out of sequence")."""
        change = {"role": role, "availability": availability, "labels": node_labels}
        title = f"update node {node_id[:10]}: " + ", ".join(
            f"{k}={v}" for k, v in change.items() if v is not None
        )

        def attempt() -> bool | None:
            try:
                with self._act(title):
                    node = self.docker.nodes.get(node_id)
                    spec = dict(node.attrs["Spec"])
                    if role is not None:
                        spec["Role"] = role
                    if availability is not None:
                        spec["Availability"] = availability
                    if node_labels is not None:
                        spec["Labels"] = node_labels
                    node.update(spec)
            except EngineAPIError as exc:
                if "update out of sequence" in exc.explanation:
                    return None  # another writer bumped the version: read it again
                raise
            return True

        def racing(what: str, timeout_s: float, last_error: str | None) -> Exception:
            return EngineAPIError(
                f"{what} kept failing with 'update out of sequence' for {timeout_s:g}s",
                node=self.node,
            )

        wait_until(
            attempt,
            what=title,
            timeout_s=UPDATE_RACE_TIMEOUT_S,
            interval_s=0.1,
            transient=(),  # every other refusal is the engine's answer
            timeout_error=racing,
        )

    def remove_node(self, node_id: str, force: bool = False) -> None:
        with self._act(f"remove node {node_id[:10]}"):
            self.docker.api.remove_node(node_id, force=force)

    # -- services ------------------------------------------------------------------------
    def create_service(
        self,
        name: str,
        image: str,
        replicas: int = 1,
        *,
        command: list[str] | None = None,
        healthcheck: bool = False,
        endpoint_mode: str = "vip",
        networks: list[str] | None = None,
        host_port: int | None = None,
        update_order: str = "stop-first",
        update_parallelism: int = 1,
        restart_delay_s: float = 0.5,
        constraints: list[str] | None = None,
    ) -> str:
        """Create a replicated service from a locally loaded image.

        The SDK, unlike the CLI, never resolves the image at a registry.
        """
        health = None
        if healthcheck:
            health = Healthcheck(
                test=["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
                interval=NS // 2,
                timeout=NS,
                retries=3,
                start_period=NS // 2,
            )
        ports = (
            [
                {
                    "Protocol": "tcp",
                    "TargetPort": 8080,
                    "PublishedPort": host_port,
                    "PublishMode": "host",
                }
            ]
            if host_port
            else None
        )
        with self._act(f"create service {name}: {replicas} x {image}"):
            service = self.docker.services.create(
                image,
                command=command,
                name=name,
                mode=ServiceMode("replicated", replicas=replicas),
                healthcheck=health,
                networks=networks or [],
                endpoint_spec=EndpointSpec(mode=endpoint_mode, ports=None)
                if not ports
                else {"Mode": endpoint_mode, "Ports": ports},
                update_config=UpdateConfig(
                    parallelism=update_parallelism, order=update_order, delay=0, monitor=NS
                ),
                restart_policy=RestartPolicy(condition="any", delay=int(restart_delay_s * NS)),
                constraints=constraints,
                stop_grace_period=2 * NS,
            )
            return str(service.id)

    def service(self, name: str) -> ServiceInfo:
        with translated(self.node, swarm=True):
            attrs = self.docker.services.get(name).attrs
        mode = attrs["Spec"].get("Mode", {})
        return ServiceInfo(
            id=attrs["ID"],
            name=attrs["Spec"]["Name"],
            replicas=mode.get("Replicated", {}).get("Replicas"),
            image=attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0],
            update_state=(attrs.get("UpdateStatus") or {}).get("State"),
        )

    def services(self) -> list[ServiceInfo]:
        with translated(self.node, swarm=True):
            names = [s.name for s in self.docker.services.list()]
        return [self.service(n) for n in names]

    def stored_service(self, name: str) -> StoredService:
        """The service's spec exactly as the managers store it, with its id and version: a
        read, for a write sent later (``update_service_raw``), e.g. one sent under a fault."""
        with translated(self.node, swarm=True):
            attrs = self.docker.api.inspect_service(name)
        return StoredService(
            id=str(attrs["ID"]),
            version=int(attrs["Version"]["Index"]),
            spec=copy.deepcopy(attrs["Spec"]),
        )

    def update_service_raw(self, service_id: str, version: int, spec: dict[str, Any]) -> None:
        """POST ``spec`` whole as the update of ``version``: one request, no read before it,
        nothing added or merged (what `docker service update` sends after its own read).

        A check that expects a refusal judges this write, not a read that fails first: the
        engine's answer is ``SwarmRefused`` with its status and message, an accepted write
        returns."""
        with translated(self.node, swarm=True):
            api = self.docker.api
            response = api._post_json(
                api._url("/services/{0}/update", service_id),
                data=spec,
                params={"version": version},
            )
            api._raise_for_status(response)

    def create_service_raw(self, spec: dict[str, Any]) -> str:
        """POST /services/create with ``spec`` whole (no read, no registry lookup); the new
        service's id. For writes judged on their answer, as ``update_service_raw``."""
        with translated(self.node, swarm=True):
            api = self.docker.api
            response = api._post_json(api._url("/services/create"), data=spec)
            api._raise_for_status(response)
            return str(response.json()["ID"])

    def update_spec(self, name: str, change: Callable[[dict[str, Any]], None]) -> None:
        """Read the service's stored spec as it is, apply ``change``, send it back whole.

        As `docker service scale` / `update` do. docker-py's ``Service.scale``/``update`` read
        the spec with the engine's defaults inserted and send those back: engine 20.10 then
        sees a changed task template and replaces every task (seen here on a scale from 1 to
        3), which is not the change asked for.
        """
        stored = self.stored_service(name)
        change(stored.spec)
        self.update_service_raw(stored.id, stored.version, stored.spec)

    def scale(self, name: str, replicas: int) -> None:
        """Change only the replica count (`docker service scale`)."""

        def change(spec: dict[str, Any]) -> None:
            replicated = (spec.get("Mode") or {}).get("Replicated")
            if replicated is None:
                raise ValueError(f"service {name} is not replicated: {spec.get('Mode')}")
            spec["Mode"] = {"Replicated": {**replicated, "Replicas": replicas}}

        with self._act(f"scale service {name} to {replicas}"):
            self.update_spec(name, change)

    def update_image(self, name: str, image: str) -> None:
        """Roll the service to another image (the update follows its UpdateConfig)."""

        def change(spec: dict[str, Any]) -> None:
            spec["TaskTemplate"]["ContainerSpec"]["Image"] = image

        with self._act(f"update service {name} to {image}"):
            self.update_spec(name, change)

    def remove_service(self, name: str) -> None:
        with self._act(f"remove service {name}"):
            self.docker.services.get(name).remove()

    def create_network(self, name: str, attachable: bool = True) -> str:
        """An overlay network; attachable so standalone probe containers can join it."""
        with self._act(f"create overlay network {name}"):
            return str(
                self.docker.networks.create(name, driver="overlay", attachable=attachable).id
            )

    def update_state(self, name: str) -> str | None:
        """The service's UpdateStatus.State: updating, completed, paused, rollback_*."""
        return self.service(name).update_state

    def tasks(self, name: str) -> list[TaskInfo]:
        """Every task of the service, history included (`docker service ps`)."""
        with translated(self.node, swarm=True):
            raw = self.docker.api.tasks(filters={"service": name})
        return [_task_info(t, name) for t in raw]

    def running_tasks(self, name: str) -> list[TaskInfo]:
        return [
            t for t in self.tasks(name) if t.state == "running" and t.desired_state == "running"
        ]

    def exists(self, name: str) -> bool:
        try:
            self.service(name)
            return True
        except NotFound:
            return False
