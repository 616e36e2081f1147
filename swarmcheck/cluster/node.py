"""One swarm node: a Docker-in-Docker container started through testcontainers.

The container runs without --privileged (refused on these machines); the capabilities,
device rules and the entrypoint in fixtures/images/node make its inner engine work.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.models.containers import Container
from testcontainers.core.config import testcontainers_config
from testcontainers.core.container import DockerContainer

from swarmcheck import labels
from swarmcheck.client.engine import node_client
from swarmcheck.client.errors import translated
from swarmcheck.client.local import NodeEngine
from swarmcheck.cluster import sockets
from swarmcheck.config import ENGINE_IMAGE
from swarmcheck.errors import EngineAPIError, ProvisioningError, ReadinessTimeout
from swarmcheck.steps import step
from swarmcheck.timing import wait_until


class _WithoutRyuk:
    """Ryuk, testcontainers' reaper, would have to be pulled from a registry: swarmcheck
    cleans up by its own labels and sweep instead. The setting is global in testcontainers,
    so it is switched off only while swarmcheck starts its own containers (threads of one
    bring-up share the switch) and restored afterwards: a project's own testcontainers use
    keeps its Ryuk."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: object = None

    def __enter__(self) -> None:
        with self._lock:
            if self._users == 0:
                # the raw field (None: not yet read from the environment), not the property,
                # which would cache the environment's value on the way
                self._saved = vars(testcontainers_config).get("_ryuk_disabled")
                testcontainers_config.ryuk_disabled = True
            self._users += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                vars(testcontainers_config)["_ryuk_disabled"] = self._saved


without_ryuk = _WithoutRyuk()

ENTRYPOINT_PATH = "/swarmcheck-entrypoint.sh"
ENGINE_START_TIMEOUT_S = 60.0


@dataclass
class Node:
    """A node container plus a docker-py client for the engine inside it."""

    name: str
    """Logical name, also the inner hostname: manager1, worker1, ..."""
    role: str
    """The role the node was provisioned with: manager or worker."""
    container_name: str
    ip: str
    api_socket: str
    """The host path of this node's engine socket (nodes listen on no TCP port)."""
    host: docker.DockerClient = field(repr=False)
    _client: docker.DockerClient | None = field(default=None, repr=False)
    node_id: str = ""
    """The swarm node id, known once the node has joined."""
    api_version: str | None = None
    """The engine's API version, known once it has answered (clients then build offline)."""

    @property
    def client(self) -> docker.DockerClient:
        """docker-py client for this node's engine (over the run's own network)."""
        if self._client is None:
            self._client = node_client(self.api_socket, api_version=self.api_version)
        return self._client

    def quick_client(self, timeout_s: float = 5.0) -> docker.DockerClient:
        """A new short-timeout client, for polls that must not hang on a frozen node."""
        return node_client(self.api_socket, timeout_s=timeout_s, api_version=self.api_version)

    @property
    def container(self) -> Container:
        with translated(self.name):
            return self.host.containers.get(self.container_name)

    def exec(self, cmd: str | list[str], timeout_s: float = 30.0) -> tuple[int, str]:
        """Run a command in the node container (not in a task); return exit code and output."""
        argv = ["timeout", str(int(timeout_s)), "sh", "-c", cmd] if isinstance(cmd, str) else cmd
        with translated(self.name):
            result = self.container.exec_run(argv, demux=False)
        out = result.output.decode(errors="replace") if result.output else ""
        return int(result.exit_code or 0), out

    @property
    def state(self) -> str:
        """The node container's state: running, paused, exited, created, ..."""
        return str(self.container.status)

    def stop(self, timeout_s: int = 10) -> None:
        """Stop the node's container (its engine with it): `docker stop -t`; its swarm state
        stays on its volume."""
        with step(f"stop {self.name}'s container"), translated(self.name):
            self.container.stop(timeout=timeout_s)

    def start(self) -> None:
        """Start the node's stopped container again (``wait_engine`` waits for its engine;
        ``close`` first drops connections to the stopped one)."""
        with step(f"start {self.name}'s container"), translated(self.name):
            self.container.start()

    def restart(self, timeout_s: int = 10) -> None:
        """Restart the node's container (its engine with it) and wait until the engine
        answers."""
        with step(f"restart {self.name}'s engine"), translated(self.name):
            self.container.restart(timeout=timeout_s)
        self.wait_engine()

    def engine(self, timeout_s: float | None = None) -> NodeEngine:
        """What this node's engine runs itself; with ``timeout_s``, through a new
        short-timeout client the facade closes."""
        if timeout_s is None:
            return NodeEngine(self.name, self.client)
        return NodeEngine(self.name, self.quick_client(timeout_s), owned=True)

    def daemon_log_tail(self, lines: int = 40) -> str:
        """The last lines of the node's dockerd log (the container's output)."""
        try:
            with translated(self.name):
                raw = self.container.logs(tail=lines)
            return str(raw.decode(errors="replace"))
        except EngineAPIError as exc:
            return f"(log unavailable: {exc})"

    def wait_engine(self, timeout_s: float = ENGINE_START_TIMEOUT_S) -> str:
        """Wait until the inner engine answers; return its version.

        Raises ProvisioningError at once if the container exits meanwhile, ReadinessTimeout
        (with the daemon's log) if the engine has not answered within ``timeout_s``.
        """

        def version() -> str:
            try:
                with translated(self.name):
                    client = self.quick_client(2.0)
                    try:
                        answer = client.version()
                    finally:
                        client.close()
            except EngineAPIError:
                exited = self._exited()
                if exited is not None:
                    raise exited from None
                raise
            self.api_version = str(answer["ApiVersion"])
            return str(answer["Version"])

        def not_ready(what: str, waited_s: float, last_error: str | None) -> Exception:
            image = self.container.attrs.get("Config", {}).get("Image", "?")
            return ReadinessTimeout(
                f"{what} (image {image}): a dind image's dockerd must answer on the socket "
                "swarmcheck gives it (SWARMCHECK_API_SOCKET) within that time; its log below "
                "says what it did",
                waited_s,
                node=self.name,
                log_tail=self.daemon_log_tail(),
                last_error=last_error,
            )

        return wait_until(
            version,
            what=f"{self.name}'s engine to answer",
            timeout_s=timeout_s,
            interval_s=0.1,
            transient=(EngineAPIError,),  # connection refused while dockerd starts
            timeout_error=not_ready,
        )

    def _exited(self) -> ProvisioningError | None:
        """Why the engine will never answer: its container exited (None while it runs)."""
        container = self.container
        if container.status != "exited":
            return None
        image = container.attrs.get("Config", {}).get("Image", "?")
        return ProvisioningError(
            f"{self.name}'s container exited while its engine was starting (image "
            f"{image}): a node image must be Docker-in-Docker capable, with dockerd "
            "on its PATH (its log below says why it stopped); give such an image "
            f"({ENGINE_IMAGE.flag}) or leave the option out to build one",
            node=self.name,
            log_tail=self.daemon_log_tail(),
        )

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


CAP_DROP = ("SYS_RESOURCE",)
"""Not in this machine's bounding set: Docker 20.10 fails to apply ALL with it (--privileged
is refused here for the same reason)."""


def unavailable_cap_drop(exc: EngineAPIError) -> bool:
    """Docker >= 26's refusal to drop a capability the machine does not have."""
    return exc.status_code == 400 and "invalid CapDrop" in str(exc)


def _dind_settings(
    host: docker.DockerClient, run_id: str, name: str, network: str, ip: str
) -> dict[str, Any]:
    """What lets an engine run inside the container without --privileged (refused here: see
    the module's docstring), on the run's network at its fixed address."""
    return {
        "labels": labels.for_run(run_id, "node"),
        "hostname": name,
        "entrypoint": ["/bin/sh", ENTRYPOINT_PATH],
        "cap_add": ["ALL"],
        "cap_drop": list(CAP_DROP),
        "security_opt": ["seccomp=unconfined", "apparmor=unconfined"],
        "device_cgroup_rules": ["a *:* rwm"],
        "network": network,
        "networking_config": {network: host.api.create_endpoint_config(ipv4_address=ip)},
        "stop_signal": "SIGTERM",
    }


def start_node(
    host: docker.DockerClient,
    *,
    run_id: str,
    name: str,
    role: str,
    image: str,
    network: str,
    ip: str,
    entrypoint: bytes,
    inner_bip: str,
    inner_pool: str,
) -> Node:
    """Create and start one node container; return at once (the engine starts in the background)."""
    container_name = f"sc-{run_id}-{name}"
    volume = f"{container_name}-docker"
    api_dir = sockets.node_dir(run_id, name)
    with translated(name):
        host.volumes.create(name=volume, labels=labels.for_run(run_id, "volume"))
    kwargs = _dind_settings(host, run_id, name, network, ip)

    def container_with(kwargs: dict[str, Any]) -> DockerContainer:
        return (
            DockerContainer(image)
            .with_name(container_name)
            .with_env("SWARMCHECK_NODE", name)
            .with_env("SWARMCHECK_BIP", inner_bip)
            .with_env("SWARMCHECK_ADDR_POOL", inner_pool)
            .with_env("SWARMCHECK_API_SOCKET", f"{sockets.NODE_MOUNT}/{sockets.SOCKET_NAME}")
            .with_volume_mapping(str(api_dir), sockets.NODE_MOUNT, "rw")
            .with_volume_mapping(volume, "/var/lib/docker", "rw")
            .with_tmpfs_mount("/run")
            .with_tmpfs_mount("/tmp")
            .with_copy_into_container(entrypoint, ENTRYPOINT_PATH, 0o755)
            .with_kwargs(**kwargs)
        )

    try:
        try:
            with translated(name), without_ryuk:
                container_with(kwargs).start()
        except EngineAPIError as exc:
            if not unavailable_cap_drop(exc):
                raise
            # Docker >= 26 gives ALL as the capabilities this machine has, and refuses to drop
            # one it lacks (a machine that is itself a container without SYS_RESOURCE)
            kwargs.pop("cap_drop")
            with translated(name), without_ryuk:
                container_with(kwargs).start()
    except EngineAPIError as exc:
        raise ProvisioningError(
            f"could not start node container {container_name}: {exc}", node=name
        ) from exc
    return Node(
        name=name,
        role=role,
        container_name=container_name,
        ip=ip,
        api_socket=str(api_dir / sockets.SOCKET_NAME),
        host=host,
    )
