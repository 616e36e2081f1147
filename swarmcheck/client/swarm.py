"""A typed facade over docker-py's swarm calls: what suites and checkers read and do.

Returns swarmcheck dataclasses, never docker-py models, and raises only swarmcheck errors: an
error the engine answers a swarm call with is ``SwarmRefused`` (a product failure unless the
check expects the refusal), one it does not answer is ``EngineUnreachable``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.types import ServiceMode

from swarmcheck.client.errors import translated
from swarmcheck.client.facade import Facade
from swarmcheck.client.local import NodeEngine
from swarmcheck.client.objects import SwarmNetworks, SwarmObjects
from swarmcheck.client.specs import (
    NS,
    ConfigRef,
    EndpointSpec,
    Healthcheck,
    Port,
    RestartPolicy,
    SecretRef,
    UpdateConfig,
    nanoseconds,
)
from swarmcheck.errors import EngineAPIError, NotFound
from swarmcheck.steps import step
from swarmcheck.timing import wait_until

WEB_HEALTHCHECK = Healthcheck(
    test=["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
    interval_s=0.5,
    timeout_s=1.0,
    retries=3,
    start_period_s=0.5,
)
"""The workload's web server answering on 8080: the health check of the web service."""
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


class SwarmClient(Facade):
    """Swarm calls through one node's engine; errors come out as swarmcheck exceptions.

    ``engines`` (given by the cluster) reads what every node's own engine runs, so waits on
    what the managers report can be checked against the engines.
    """

    swarm_calls = True

    def __init__(
        self,
        node: str,
        client: docker.DockerClient,
        engines: EngineView | None = None,
        *,
        owned: bool = False,
    ) -> None:
        super().__init__(node, client, owned=owned)
        self.engines = engines
        self.secrets = SwarmObjects(node, client, "secret")
        self.configs = SwarmObjects(node, client, "config")
        self.networks = SwarmNetworks(node, client)

    @property
    def engine(self) -> NodeEngine:
        """What this client's engine runs itself (its containers, networks, events)."""
        return NodeEngine(self.node, self.docker)

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
        attrs = self.inspect_swarm()
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
        version, spec = self.swarm_spec()
        self.update_swarm_raw(
            version,
            spec,
            rotate_worker_token=kind == "worker",
            rotate_manager_token=kind == "manager",
            title=f"rotate the {kind} join token",
        )
        return self.join_tokens()[kind]

    def init(
        self,
        advertise_addr: str | None = None,
        listen_addr: str = "0.0.0.0:2377",
        *,
        data_path_addr: str | None = None,
        data_path_port: int | None = None,
        default_addr_pool: Sequence[str] | None = None,
        subnet_size: int | None = None,
        force_new_cluster: bool = False,
        heartbeat_s: float | None = None,
        cert_expiry_s: float | None = None,
    ) -> str:
        """`docker swarm init` on this client's engine (``heartbeat_s``: the dispatcher
        heartbeat, ``cert_expiry_s``: the node certificate expiry, as `--cert-expiry` sends it
        in the init request's spec; else the engine's default settings); the new node's ID."""
        spec: dict[str, Any] = {}
        if heartbeat_s:
            spec["Dispatcher"] = {"HeartbeatPeriod": nanoseconds(heartbeat_s)}
        if cert_expiry_s:
            spec["CAConfig"] = {"NodeCertExpiry": nanoseconds(cert_expiry_s)}
        what = "force a new cluster" if force_new_cluster else "init a swarm"
        with self._act(f"{what} advertising {advertise_addr}"):
            return str(
                self.docker.api.init_swarm(
                    advertise_addr=advertise_addr,
                    listen_addr=listen_addr,
                    force_new_cluster=force_new_cluster,
                    swarm_spec=spec or None,
                    default_addr_pool=list(default_addr_pool) if default_addr_pool else None,
                    subnet_size=subnet_size,
                    data_path_addr=data_path_addr,
                    data_path_port=data_path_port,
                )
            )

    def join(
        self,
        manager_addr: str,
        token: str,
        advertise_addr: str | None = None,
        data_path_addr: str | None = None,
        listen_addr: str = "0.0.0.0:2377",
        *,
        availability: str | None = None,
    ) -> None:
        """`docker swarm join` of this client's engine (``availability``: the node's initial
        availability, `--availability`)."""
        what = f"join the swarm at {manager_addr!r} advertising {advertise_addr}"
        with self._act(what + (f" ({availability})" if availability else "")):
            if availability is None:
                self.docker.swarm.join(
                    remote_addrs=[manager_addr],
                    join_token=token,
                    listen_addr=listen_addr,
                    advertise_addr=advertise_addr,
                    data_path_addr=data_path_addr,
                )
                return
            # docker-py's join has no availability: the Engine API call, as the CLI sends it
            body = {
                "ListenAddr": listen_addr,
                "AdvertiseAddr": advertise_addr,
                "DataPathAddr": data_path_addr,
                "RemoteAddrs": [manager_addr],
                "JoinToken": token,
                "Availability": availability,
            }
            api = self.docker.api
            api._raise_for_status(api._post_json(api._url("/swarm/join"), data=body))

    def leave(self, force: bool = False) -> None:
        with self._act("leave the swarm" + (" (force)" if force else "")):
            self.docker.swarm.leave(force=force)

    def inspect_swarm(self) -> dict[str, Any]:
        """`docker swarm inspect` (ID, Version, Spec, JoinTokens, TLSInfo, ...)."""
        with translated(self.node, swarm=True):
            return dict(self.docker.api.inspect_swarm())

    def update_swarm_raw(
        self,
        version: int,
        spec: Mapping[str, Any],
        *,
        rotate_worker_token: bool = False,
        rotate_manager_token: bool = False,
        rotate_unlock_key: bool = False,
        title: str = "update the swarm",
    ) -> None:
        """Send ``spec`` whole as the swarm's new spec at ``version`` (a swarm update replaces
        the whole spec: fields left out go back to their defaults)."""
        with self._act(title):
            self.docker.api.update_swarm(
                version=version,
                swarm_spec=dict(spec),
                rotate_worker_token=rotate_worker_token,
                rotate_manager_token=rotate_manager_token,
                rotate_manager_unlock_key=rotate_unlock_key,
            )

    def unlock_key(self) -> str:
        """`docker swarm unlock-key` (empty when autolock is off)."""
        with translated(self.node, swarm=True):
            return str(self.docker.api.get_unlock_key()["UnlockKey"])

    def unlock(self, key: str) -> None:
        """`docker swarm unlock` of this client's (locked) engine."""
        with self._act("unlock the engine"):
            self.docker.api.unlock_swarm(key)

    # -- nodes ---------------------------------------------------------------------------
    def nodes(self) -> list[NodeInfo]:
        """`docker node ls`: raises EngineAPIError on a worker (the documented refusal)."""
        return [_node_info(attrs) for attrs in self.raw_nodes()]

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

    def raw_nodes(self) -> list[dict[str, Any]]:
        """`docker node ls` as the API returns it (Description, Status, ManagerStatus, ...)."""
        with translated(self.node, swarm=True):
            return [dict(n) for n in self.docker.api.nodes()]

    def inspect_node(self, ref: str) -> dict[str, Any]:
        """`docker node inspect` (ID, Version, Spec, Description, Status, ManagerStatus)."""
        with translated(self.node, swarm=True):
            return dict(self.docker.api.inspect_node(ref))

    def update_node_raw(self, node_id: str, version: int, spec: Mapping[str, Any]) -> None:
        """Send ``spec`` whole as the node's new spec at ``version``: one request (a check
        that expects a refusal judges this write)."""
        with self._act(f"update node {node_id[:10]}: {dict(spec)}"):
            self.docker.api.update_node(node_id, version, dict(spec))

    def remove_node(self, node_id: str, force: bool = False) -> None:
        with self._act(f"remove node {node_id[:10]}"):
            self.docker.api.remove_node(node_id, force=force)

    # -- services ------------------------------------------------------------------------
    def create(
        self,
        name: str,
        image: str,
        *,
        replicas: int | None = 1,
        mode: str = "replicated",
        concurrency: int | None = None,
        command: Sequence[str] | None = None,
        env: Sequence[str] | None = None,
        hostname: str | None = None,
        mounts: Sequence[str] = (),
        networks: Sequence[str] = (),
        endpoint: EndpointSpec | None = None,
        update: UpdateConfig | None = None,
        rollback: UpdateConfig | None = None,
        restart: RestartPolicy | None = None,
        healthcheck: Healthcheck | None = None,
        constraints: Sequence[str] | None = None,
        spread: Sequence[str] | None = None,
        max_per_node: int | None = None,
        reserve_memory: int | None = None,
        secrets: Sequence[SecretRef] | None = None,
        configs: Sequence[ConfigRef] | None = None,
        stop_grace_s: float | None = None,
        title: str | None = None,
    ) -> str:
        """Create a service from a locally loaded image (the SDK, unlike the CLI, never resolves
        it at a registry); its ID. ``mode``: replicated, global, replicated-job or global-job
        (``replicas``: the tasks of a replicated service, the completions of a replicated
        job); ``spread``: node label keys for spread preferences (``node.labels.<key>``);
        ``mounts``: ``source:target[:ro]``. Nothing waits: callers wait for what they check."""
        options: dict[str, Any] = {
            "name": name,
            "command": list(command) if command is not None else None,
            "mode": ServiceMode(
                mode,
                replicas=replicas if "replicated" in mode else None,
                concurrency=concurrency,
            ),
            "env": list(env) if env is not None else None,
            "hostname": hostname,
            "mounts": list(mounts) or None,
            "networks": list(networks) or None,
            "endpoint_spec": endpoint.api() if endpoint is not None else None,
            "update_config": update.api() if update is not None else None,
            "rollback_config": rollback.api() if rollback is not None else None,
            "restart_policy": restart.api() if restart is not None else None,
            "healthcheck": healthcheck.api() if healthcheck is not None else None,
            "constraints": list(constraints) if constraints is not None else None,
            "preferences": [("spread", f"node.labels.{k}") for k in spread] if spread else None,
            "maxreplicas": max_per_node,
            "secrets": [r.api() for r in secrets] if secrets is not None else None,
            "configs": [r.api() for r in configs] if configs is not None else None,
            "stop_grace_period": nanoseconds(stop_grace_s) if stop_grace_s is not None else None,
        }
        if reserve_memory is not None:
            options["resources"] = {"Reservations": {"MemoryBytes": reserve_memory}}
        count = f"{replicas} x" if "replicated" in mode else f"{mode},"
        with self._act(title or f"create service {name}: {count} {image}"):
            service = self.docker.services.create(
                image, **{k: v for k, v in options.items() if v is not None}
            )
            return str(service.id)

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
        """Create a replicated service of the web workload's shape (health-checked when
        asked, its port published on the task's node when ``host_port`` is given)."""
        ports = [Port(8080, host_port, mode="host")] if host_port else ()
        return self.create(
            name,
            image,
            replicas=replicas,
            command=command,
            healthcheck=WEB_HEALTHCHECK if healthcheck else None,
            networks=networks or (),
            endpoint=EndpointSpec(mode=endpoint_mode, ports=ports),
            update=UpdateConfig(
                parallelism=update_parallelism, order=update_order, delay_s=0, monitor_s=1
            ),
            restart=RestartPolicy(condition="any", delay_s=restart_delay_s),
            constraints=constraints,
            stop_grace_s=2,
        )

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

    def raw_services(
        self, name: str | None = None, *, status: bool = False
    ) -> list[dict[str, Any]]:
        """Every service (named like ``name``) as the API lists it (ID, Version, Spec, ...;
        with ``status``, the ServiceStatus running/desired task counts)."""
        filters = {"name": name} if name is not None else None
        with translated(self.node, swarm=True):
            found = self.docker.api.services(filters=filters, status=status or None)
        return [dict(s) for s in found]

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

    def update_service_raw(
        self, service_id: str, version: int, spec: dict[str, Any], *, rollback: bool = False
    ) -> None:
        """POST ``spec`` whole as the update of ``version``: one request, no read before it,
        nothing added or merged (what `docker service update` sends after its own read);
        ``rollback``: `docker service rollback` (the server rolls back to the previous spec).

        A check that expects a refusal judges this write, not a read that fails first: the
        engine's answer is ``SwarmRefused`` with its status and message, an accepted write
        returns."""
        params: dict[str, Any] = {"version": version}
        if rollback:
            params["rollback"] = "previous"
        with translated(self.node, swarm=True):
            api = self.docker.api
            response = api._post_json(
                api._url("/services/{0}/update", service_id), data=spec, params=params
            )
            api._raise_for_status(response)

    def inspect_service(self, name: str) -> dict[str, Any]:
        """`docker service inspect` as the API returns it (ID, Version, Spec, Endpoint,
        UpdateStatus, ...)."""
        with translated(self.node, swarm=True):
            return dict(self.docker.api.inspect_service(name))

    def raw_tasks(self, name: str) -> list[dict[str, Any]]:
        """The service's tasks as the API returns them (network attachments included)."""
        with translated(self.node, swarm=True):
            return [dict(t) for t in self.docker.api.tasks(filters={"service": name})]

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
        """`docker service rm` (by name or ID)."""
        with self._act(f"remove service {name}"):
            self.docker.api.remove_service(name)

    def create_network(self, name: str, attachable: bool = True) -> str:
        """An overlay network; attachable so standalone probe containers can join it."""
        return self.networks.create(name, attachable=attachable)

    def update_state(self, name: str) -> str | None:
        """The service's UpdateStatus.State: updating, completed, paused, rollback_*."""
        return self.service(name).update_state

    def tasks(self, name: str) -> list[TaskInfo]:
        """Every task of the service, history included (`docker service ps`)."""
        return [_task_info(t, name) for t in self.raw_tasks(name)]

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
