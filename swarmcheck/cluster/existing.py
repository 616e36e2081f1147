"""A swarm swarmcheck did not create: real hosts in a lab, a staging swarm.

Reached through Docker contexts or engine URLs (``tcp://host:2376`` with TLS, a Unix socket),
one per node or one per manager. swarmcheck never owns such a swarm: it offers none of the
capabilities of ``cluster.interface`` (its nodes are hosts, not containers swarmcheck could
stop, pause or run commands in: a check that needs one skips), and everything a check creates
through it carries the run's label (``client.engine.RemoteAPIClient``). Between checks and at
the end, the reset
removes exactly what carries that label, puts node roles, availability and labels and the
swarm's settings back as they were found, and says so loudly when a check changed what cannot
be put back (a join token, the root CA).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import docker
from docker.context import ContextAPI
from docker.tls import TLSConfig

from swarmcheck import labels
from swarmcheck.client.engine import Created, Permits, remote_client
from swarmcheck.client.errors import translated
from swarmcheck.client.local import NodeEngine
from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster import reaper
from swarmcheck.cluster.cluster import remove_or_retry
from swarmcheck.cluster.interface import Swarm
from swarmcheck.cluster.view import SwarmView
from swarmcheck.config import EXISTING, EXISTING_TLS
from swarmcheck.errors import (
    ConfigError,
    EngineAPIError,
    EnvironmentProblem,
    NotOnExistingSwarm,
    SwarmcheckError,
)
from swarmcheck.machine import images
from swarmcheck.spec import ClusterSpec
from swarmcheck.steps import step
from swarmcheck.timing import wait_until

log = logging.getLogger("swarmcheck.cluster")

TLS_FILES = ("ca.pem", "cert.pem", "key.pem")
CONNECT_TIMEOUT_S = 10.0
REMOVE_TIMEOUT_S = 30.0
WHOLE_TIMEOUT_S = 30.0
TASKS_GONE_S = 10.0
"""How long an agent gets to remove the task containers of a removed service itself."""


class ExistingSwarmChanged(SwarmcheckError):
    """A check changed an existing swarm in a way the reset cannot undo: it is destructive
    and its marker must say so (destructive=True)."""


@dataclass(frozen=True)
class Endpoint:
    """Where one engine of the swarm answers."""

    given: str
    """As the user gave it: a Docker context name or a URL."""
    url: str
    tls: TLSConfig | None = field(default=None, compare=False)

    def client(
        self,
        timeout_s: float,
        run_labels: Mapping[str, str] | None = None,
        created: Created | None = None,
        permits: Permits | None = None,
    ) -> Any:
        # docker-py asks the engine its API version as the client is made: an engine that
        # does not answer fails here, as swarmcheck's EngineUnreachable, not docker's error.
        with translated(self.given):
            return remote_client(
                self.url,
                tls=self.tls,
                timeout_s=timeout_s,
                labels=run_labels,
                created=created,
                permits=permits,
            )


def tls_from_dir(directory: str | os.PathLike[str]) -> TLSConfig:
    """Mutual TLS from a folder laid out as DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem)."""
    folder = Path(directory)
    missing = [name for name in TLS_FILES if not (folder / name).is_file()]
    if missing:
        raise ConfigError(
            f"TLS folder {folder} lacks {', '.join(missing)}: give a folder with ca.pem, "
            "cert.pem and key.pem (as DOCKER_CERT_PATH)"
        )
    return TLSConfig(
        client_cert=(str(folder / "cert.pem"), str(folder / "key.pem")),
        ca_cert=str(folder / "ca.pem"),
        verify=True,
    )


def parse_endpoints(
    values: Sequence[str], tls_dir: str | None = None, env: Mapping[str, str] | None = None
) -> list[Endpoint]:
    """``ctx1,tcp://10.0.0.5:2376,unix:///run/docker.sock`` -> endpoints. A URL uses the TLS
    folder given (or DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set, as the docker CLI does);
    a context brings its own host and TLS material."""
    env = os.environ if env is None else env
    cert_path = EXISTING_TLS.env or ""
    if tls_dir is None and env.get("DOCKER_TLS_VERIFY") and env.get(cert_path):
        tls_dir = env[cert_path]
    endpoints = []
    for value in values:
        if "://" in value:
            if not value.startswith(("tcp://", "unix://", "http://", "https://")):
                raise ConfigError(
                    f"{EXISTING.flag}: {value!r}: use tcp://HOST:PORT, unix:///PATH or a "
                    "Docker context name (ssh:// is not supported)"
                )
            tls = tls_from_dir(tls_dir) if tls_dir and not value.startswith("unix") else None
            endpoints.append(Endpoint(value, value, tls))
            continue
        context = ContextAPI.get_context(value)
        if context is None:
            raise ConfigError(
                f"{EXISTING.flag}: no Docker context named {value!r} (`docker context ls` lists "
                "them); give a context name or an engine URL such as tcp://10.0.0.5:2376"
            )
        host = context.Host or "unix:///var/run/docker.sock"
        endpoints.append(Endpoint(value, host, context.TLSConfig or None))
    if not endpoints:
        raise ConfigError(f"{EXISTING.flag} is empty: give contexts or engine URLs")
    return endpoints


@dataclass
class RemoteNode:
    """A node of an existing swarm: an engine at an endpoint (or none, for a worker when only
    managers were given). A host, not a container: nothing here can stop, pause or run a
    command in it."""

    name: str
    """Its hostname, as the swarm lists it."""
    role: str
    """Its role when the run found it: manager or worker."""
    ip: str
    node_id: str
    endpoint: Endpoint | None = None
    run_labels: dict[str, str] = field(default_factory=dict)
    created: Created | None = None
    permits: Permits | None = None
    _client: docker.DockerClient | None = field(default=None, repr=False)

    def _need_endpoint(self) -> Endpoint:
        if self.endpoint is None:
            raise NotOnExistingSwarm(
                f"needs the engine of {self.role} {self.name}, which {EXISTING.flag} does not "
                "reach (give one endpoint per node to run it)"
            )
        return self.endpoint

    @property
    def reached(self) -> bool:
        """Whether --swarm-existing gave this node's engine."""
        return self.endpoint is not None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = self._need_endpoint().client(
                30.0, self.run_labels, self.created, self.permits
            )
        return self._client

    def quick_client(self, timeout_s: float = 5.0) -> docker.DockerClient:
        client: docker.DockerClient = self._need_endpoint().client(
            timeout_s, self.run_labels, self.created, self.permits
        )
        return client

    def engine(self, timeout_s: float | None = None) -> NodeEngine:
        """What this node's engine runs itself; with ``timeout_s``, through a new
        short-timeout client the facade closes."""
        if timeout_s is None:
            return NodeEngine(self.name, self.client)
        return NodeEngine(self.name, self.quick_client(timeout_s), owned=True)

    def daemon_log_tail(self, lines: int = 40) -> str:
        return "(no daemon log: a node of an existing swarm, a host swarmcheck does not own)"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


@dataclass(frozen=True)
class Found:
    """What a node looked like when the run started (the reset puts it back)."""

    id: str
    hostname: str
    role: str
    availability: str
    labels: dict[str, str]


@dataclass
class ExistingCluster(SwarmView[RemoteNode]):
    """An existing swarm, seen through the interface suites use (``cluster.interface.Swarm``)."""

    capabilities: ClassVar[frozenset[str]] = frozenset()
    """Nothing beyond reading the swarm and managing this run's own objects."""
    run_id: str
    endpoints: list[Endpoint]
    spec: ClusterSpec = field(default_factory=lambda: ClusterSpec(managers=1))
    """The swarm as checks read it (its size, address pool, heartbeat), known once connected."""
    nodes: list[RemoteNode] = field(default_factory=list)
    engine_version: str = ""
    engine_versions: dict[str, str] = field(default_factory=dict)
    dirty: str | None = None
    found: dict[str, Found] = field(default_factory=dict)
    """Each node (by ID) as found."""
    found_spec: dict[str, Any] = field(default_factory=dict)
    found_tokens: dict[str, str] = field(default_factory=dict)
    found_ca: str = ""
    imported: dict[str, list[str]] = field(default_factory=dict)
    """Images swarmcheck imported into a node (removed at the end)."""
    created: Created = field(default_factory=Created)
    """Every object this run created through its clients."""
    permits: Permits = field(default_factory=Permits)
    """What the check now running may do to the swarm (its clients refuse anything else)."""
    changed: list[str] = field(default_factory=list)
    """Changes checks made that no reset could undo (reported once each)."""

    @property
    def run_labels(self) -> dict[str, str]:
        return labels.for_run(self.run_id, "existing")

    # -- bring-up: connect, look, load the workload ---------------------------------------
    def up(self) -> ExistingCluster:
        with step(f"connect to the existing swarm at {', '.join(e.given for e in self.endpoints)}"):
            self._connect()
        return self

    def _connect(self) -> None:
        by_id, control = self._probe_endpoints()
        listed, swarm_attrs = self._list(control, by_id)
        self._meet_nodes(listed, by_id)
        self._note_settings(swarm_attrs, len(listed))
        self._load_workload()
        self._wait_whole()
        log.warning(
            "existing swarm: %d managers, %d workers (%s); engines %s",
            len(self.managers),
            len(self.workers),
            ", ".join(n.name + ("" if n.reached else " (no endpoint)") for n in self.nodes),
            ", ".join(sorted(set(self.engine_versions.values()))),
        )

    def _probe_endpoints(self) -> tuple[dict[str, Endpoint], Endpoint]:
        """Each endpoint's swarm node ID, and the first one that reaches a manager."""
        by_id: dict[str, Endpoint] = {}
        control: Endpoint | None = None
        for endpoint in self.endpoints:
            swarm = _swarm_info(endpoint)
            if swarm.get("LocalNodeState") != "active":
                raise EnvironmentProblem(
                    f"{EXISTING.flag}: the engine at {endpoint.given} is not in a swarm "
                    f"(LocalNodeState {swarm.get('LocalNodeState')!r})"
                )
            by_id[str(swarm["NodeID"])] = endpoint
            if swarm.get("ControlAvailable") and control is None:
                control = endpoint
        if control is None:
            raise EnvironmentProblem(
                f"{EXISTING.flag} reaches no manager: give at least the managers' endpoints"
            )
        return by_id, control

    @staticmethod
    def _list(
        control: Endpoint, by_id: Mapping[str, Endpoint]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The swarm's nodes and settings, as a manager lists them; every endpoint must be
        one of those nodes."""
        lister = control.client(CONNECT_TIMEOUT_S)
        try:
            with translated(control.given):
                listed: list[dict[str, Any]] = lister.api.nodes()
                swarm_attrs: dict[str, Any] = lister.api.inspect_swarm()
        finally:
            lister.close()
        stray = set(by_id) - {n["ID"] for n in listed}
        if stray:
            raise EnvironmentProblem(
                f"{EXISTING.flag}: "
                + ", ".join(by_id[s].given for s in stray)
                + " belong to another swarm than "
                + control.given
            )
        return listed, swarm_attrs

    def _meet_nodes(self, listed: list[dict[str, Any]], by_id: Mapping[str, Endpoint]) -> None:
        """A node for each listed one (managers first), each as found."""
        self.nodes = []
        for attrs in sorted(listed, key=lambda a: (a["Spec"]["Role"] != "manager", a["ID"])):
            node_id, spec = str(attrs["ID"]), attrs["Spec"]
            hostname = str(attrs["Description"]["Hostname"])
            reach = by_id.get(node_id)
            if spec["Role"] == "manager" and reach is None:
                raise EnvironmentProblem(
                    f"{EXISTING.flag}: manager {hostname} has no endpoint: give one per manager "
                    "(a check judges the swarm from every manager's view); workers are optional"
                )
            self.found[node_id] = Found(
                node_id,
                hostname,
                str(spec["Role"]),
                str(spec.get("Availability", "active")),
                dict(spec.get("Labels") or {}),
            )
            self.engine_versions[hostname] = str(
                attrs["Description"].get("Engine", {}).get("EngineVersion", "")
            )
            self.nodes.append(
                RemoteNode(
                    name=hostname,
                    role=str(spec["Role"]),
                    ip=str(attrs.get("Status", {}).get("Addr", "")),
                    node_id=node_id,
                    endpoint=reach,
                    run_labels=self.run_labels,
                    created=self.created,
                    permits=self.permits,
                )
            )
        self.engine_version = self.engine_versions[self.managers[0].name]

    def _note_settings(self, swarm_attrs: Mapping[str, Any], listed: int) -> None:
        """The swarm as checks read it, and what the reset puts back or reports."""
        pools = swarm_attrs.get("DefaultAddrPool") or []
        heartbeat = (swarm_attrs["Spec"].get("Dispatcher") or {}).get("HeartbeatPeriod")
        try:  # the swarm as checks read it: its size, its address pool, its heartbeat
            self.spec = ClusterSpec(
                managers=len(self.managers),
                workers=len(self.workers),
                addr_pool=str(pools[0]) if pools else ClusterSpec.addr_pool,
                heartbeat_s=heartbeat / 1e9 if heartbeat else 5.0,
            )
        except ConfigError:
            log.warning("the existing swarm has more nodes than a spec describes: %d", listed)
        self.found_spec = _comparable_spec(swarm_attrs["Spec"])
        self.found_tokens = dict(swarm_attrs.get("JoinTokens") or {})
        self.found_ca = str((swarm_attrs.get("TLSInfo") or {}).get("TrustRoot", ""))

    def _wait_whole(self) -> None:
        problems: list[str] = []

        def whole() -> bool | None:
            problems[:] = self.health_problems()
            return True if not problems else None

        try:
            wait_until(whole, what="the existing swarm to be whole", timeout_s=WHOLE_TIMEOUT_S)
        except SwarmcheckError as exc:
            raise EnvironmentProblem(
                f"the existing swarm is not whole, so no check can be judged on it: "
                f"{'; '.join(problems) or exc}"
            ) from exc

    def _load_workload(self) -> None:
        """The workload images on every node reached (imported where missing; removed at the
        end only where swarmcheck imported them)."""
        for node in self.nodes:
            if not node.reached:
                continue
            before = _image_ids(node.client)
            with step(f"workload images on {node.name}"):
                refs = images.ensure_workload_images(node.client)
            after = _image_ids(node.client)
            self.imported[node.name] = [r for r in refs if after.get(r) != before.get(r)]

    # -- reset: remove what this run labelled, put back what it changed --------------------
    def reset(self) -> None:
        with (
            step("reset the existing swarm: remove what this run made, put back what it changed"),
            self.permits.lifted(),
        ):
            self._reset()

    def _reset(self) -> None:
        mine = f"{labels.RUN}={self.run_id}"
        lead = self.leader_client()
        d = lead.docker
        with translated(lead.node):
            services = {s.id: s for s in d.services.list(filters={"label": mine})}
            services |= {s.id: s for s in d.services.list() if s.id in self.created.of("services")}
            removable: list[Any] = list(services.values())
            removable += [x for x in d.secrets.list() if x.id in self.created.of("secrets")]
            removable += [x for x in d.configs.list() if x.id in self.created.of("configs")]
            networks = d.networks.list(filters={"label": mine}) + [
                n for n in d.networks.list() if n.id in self.created.of("networks")
            ]
            removable += list(
                {n.id: n for n in networks if n.attrs.get("Scope") == "swarm"}.values()
            )
        for obj in removable:
            wait_until(
                functools.partial(remove_or_retry, obj),
                what=f"removal of {obj.name}",
                timeout_s=REMOVE_TIMEOUT_S,
                interval_s=0.2,
            )
        self._restore_nodes(lead)
        self._restore_swarm(lead)
        ours = set(services) | set(self.created.of("services"))  # some the checks removed
        for node in self.nodes:
            if node.reached:
                self._clean_node(node, ours)
        for kind in ("services", "secrets", "configs", "networks"):  # (tasks' containers gone)
            for object_id in self.created.of(kind):
                self.created.forget(kind, object_id)
        if self.changed:
            changed, self.changed = self.changed, []
            raise ExistingSwarmChanged(
                "a check changed the existing swarm in a way no reset can undo: "
                + "; ".join(changed)
                + ". It is destructive: its marker must say destructive=True"
            )

    def _restore_nodes(self, lead: SwarmClient) -> None:
        listed = lead.nodes()
        for info in listed:
            was = self.found.get(info.id)
            if was is None:
                self.changed.append(f"node {info.hostname} is in the swarm under a new ID")
                self.found[info.id] = Found(
                    info.id, info.hostname, info.role, info.availability, dict(info.labels)
                )
                continue
            if (info.role, info.availability, info.labels) != (
                was.role,
                was.availability,
                was.labels,
            ):
                lead.update_node(
                    info.id, role=was.role, availability=was.availability, node_labels=was.labels
                )
        for gone in set(self.found) - {i.id for i in listed}:
            self.changed.append(f"node {self.found.pop(gone).hostname} left under its old ID")

    def _restore_swarm(self, lead: SwarmClient) -> None:
        with translated(lead.node):
            attrs = lead.docker.api.inspect_swarm()
        if _comparable_spec(attrs["Spec"]) != self.found_spec:
            with step("put the swarm's settings back as found"), translated(lead.node):
                lead.docker.api.update_swarm(
                    version=attrs["Version"]["Index"], swarm_spec=self.found_spec
                )
        tokens = dict(attrs.get("JoinTokens") or {})
        if tokens != self.found_tokens:
            self.changed.append("its join tokens were rotated")
            self.found_tokens = tokens
        ca = str((attrs.get("TLSInfo") or {}).get("TrustRoot", ""))
        if ca != self.found_ca:
            self.changed.append("its root CA was rotated")
            self.found_ca = ca

    def _clean_node(self, node: RemoteNode, service_ids: set[str]) -> None:
        """This run's standalone containers and volumes on ``node``; wait until the task
        containers of this run's removed services are gone too."""
        mine = f"{labels.RUN}={self.run_id}"
        client = node.client
        with translated(node.name):
            for container in client.containers.list(all=True, filters={"label": mine}):
                with contextlib.suppress(docker.errors.NotFound):
                    container.remove(force=True)

        def tasks_gone() -> bool | None:
            with translated(node.name):
                left = [
                    c
                    for c in client.api.containers(
                        all=True, filters={"label": "com.docker.swarm.service.id"}
                    )
                    if c["Labels"].get("com.docker.swarm.service.id") in service_ids
                ]
            return True if not left else None

        if service_ids:
            try:
                wait_until(
                    tasks_gone,
                    what=f"the task containers of removed services to leave {node.name}",
                    timeout_s=TASKS_GONE_S,
                )
            except SwarmcheckError:  # finished job tasks stay: remove this run's leftovers
                with translated(node.name):
                    for c in client.api.containers(
                        all=True, filters={"label": "com.docker.swarm.service.id"}
                    ):
                        if c["Labels"].get("com.docker.swarm.service.id") in service_ids:
                            with contextlib.suppress(docker.errors.NotFound):
                                client.api.remove_container(c["Id"], force=True)
        with translated(node.name):
            for volume in client.volumes.list(filters={"label": mine}):
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    volume.remove(force=True)

    # -- teardown: leave it as found -------------------------------------------------------
    def down(self) -> reaper.Removed:
        try:
            if self.nodes:
                self.reset()
        finally:
            for node in self.nodes:
                refs = self.imported.get(node.name, [])
                if refs:
                    with contextlib.suppress(SwarmcheckError):
                        self._remove_images(node, refs)
                node.close()
        return reaper.Removed()

    def _remove_images(self, node: RemoteNode, refs: list[str]) -> None:
        with step(f"remove the workload images swarmcheck imported into {node.name}"):
            for ref in refs:
                try:
                    with translated(node.name), contextlib.suppress(docker.errors.NotFound):
                        node.client.images.remove(ref, force=False, noprune=False)
                except EngineAPIError as exc:
                    log.warning("could not remove %s from %s: %s", ref, node.name, exc)


def _swarm_info(endpoint: Endpoint) -> dict[str, Any]:
    """The swarm part of ``docker info`` at ``endpoint``; an engine that does not answer is an
    environment problem naming the endpoint and how to check it."""
    try:
        with translated(endpoint.given):
            # the client asks the engine for its API version as it is made
            client = endpoint.client(CONNECT_TIMEOUT_S)
            try:
                return dict(client.info()["Swarm"])
            finally:
                client.close()
    except EngineAPIError as exc:
        raise EnvironmentProblem(
            f"{EXISTING.flag}: {endpoint.given}"
            + (f" ({endpoint.url})" if endpoint.url != endpoint.given else "")
            + f" did not answer: {exc}. "
            + "Check that an engine listens at that address and that this machine can "
            f"reach it (`docker -H URL info`, with {EXISTING_TLS.flag} for TLS), or give "
            "another endpoint"
        ) from exc


def _image_ids(client: docker.DockerClient) -> dict[str, str]:
    found = {}
    for ref in (f"{images.WORKLOAD_REPO}:{v}" for v in images.WORKLOAD_VERSIONS):
        with contextlib.suppress(docker.errors.ImageNotFound):
            found[ref] = str(client.images.get(ref).id)
    return found


def _comparable_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in spec.items() if k not in ("Labels",)} | {
        "Labels": dict(spec.get("Labels") or {})
    }


class ExistingPool:
    """Hands out the one existing swarm; its teardown leaves that swarm as found."""

    capabilities = ExistingCluster.capabilities

    def __init__(self, endpoints: list[Endpoint]) -> None:
        self.endpoints = endpoints
        self.cluster: ExistingCluster | None = None
        self.failure: SwarmcheckError | None = None
        self.engine_version = ""

    @property
    def node_image(self) -> str:
        return "(an existing swarm: " + ", ".join(e.given for e in self.endpoints) + ")"

    def existing(self) -> ExistingCluster:
        """The swarm, connected on first use (a swarm that could not be reached is not tried
        again for every check: the first failure is raised again)."""
        if self.failure is not None:
            raise self.failure
        if self.cluster is None:
            cluster = ExistingCluster(run_id=labels.new_run_id(), endpoints=self.endpoints)
            try:
                cluster.up()
            except SwarmcheckError as exc:
                self.failure = exc
                raise
            self.cluster = cluster
            self.engine_version = cluster.engine_version
        return self.cluster

    def acquire(self, spec: ClusterSpec, effects: frozenset[str]) -> ExistingCluster:
        """The swarm as it is, whatever shape ``spec`` asks for (checks of another shape skip),
        refusing any call with an effect outside ``effects`` until the next acquire."""
        cluster = self.existing()
        cluster.permits.allow(effects)
        return cluster

    def after_test(self, cluster: Swarm) -> None:
        """Remove what the test made; a change no reset undoes is raised (a test error)."""
        cluster.reset()

    def release(self) -> None:
        if self.cluster is not None:
            self.cluster.down()
            self.cluster = None
