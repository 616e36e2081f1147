"""What checks of secrets, configs and networking look at: the engines, not only the managers.

- services with fast timings, changed by read-modify-write of their whole spec (docker-py's
  ``Service.update`` replaces the task template with only what it is given);
- files as a task container sees them (mode, owner, content, the filesystem holding them);
- a probe container on an overlay network (DNS answers, HTTP to task addresses);
- TCP from the test host to node addresses (host-mode and ingress-published ports);
- a spare one-node swarm of its own, for what only ``swarm init`` sets or what would damage
  the shared cluster (removing the ingress network, leaving the swarm);
- refusals the engine must give, and waits whose timeout is a broken promise.
"""

from __future__ import annotations

import base64
import copy
import itertools
import re
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import docker
from docker.models.containers import Container
from docker.types import RestartPolicy, ServiceMode, UpdateConfig

from swarmcheck import labels
from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import NS, SwarmClient, TaskInfo
from swarmcheck.cluster import images, sockets
from swarmcheck.cluster.cluster import INNER_BIP, INNER_POOL, SWARM_PORT, Cluster
from swarmcheck.cluster.network import node_ip
from swarmcheck.cluster.node import Node, start_node
from swarmcheck.errors import EngineAPIError, SwarmcheckError, SwarmPromiseBroken
from swarmcheck.steps import step
from swarmcheck.timing import wait_until
from swarmcheck.workload.placement import promise_timeout
from swarmcheck.workload.service import workload_image
from swarmcheck.workload.tasks import exec_in_task

WEB_PORT = 8080
"""The port the workload's httpd listens on inside its container."""


# -- promises ----------------------------------------------------------------------------------
def refused(action: Callable[[], object], what: str) -> EngineAPIError:
    """Run ``action``, which Swarm must refuse; return the engine's error.

    An accepted action is a broken promise (the caller then checks status and message).
    """
    try:
        with translated():
            action()
    except EngineAPIError as exc:
        return exc
    raise SwarmPromiseBroken(f"{what} was accepted", expected="a refusal", seen="accepted")


def raw_post(client: docker.DockerClient, path: str, body: dict[str, Any], **params: Any) -> Any:
    """POST a JSON body to an Engine API path docker-py has no call for; return the answer."""
    api = client.api
    response = api._post_json(api._url(path), data=body, params=params or None)
    return api._result(response, json=bool(response.content))


def update_object_spec(
    client: docker.DockerClient, kind: str, ref: str, change: Callable[[dict[str, Any]], None]
) -> None:
    """Update a secret or config (``kind``) through the raw API: read, change, write back.

    ``ref`` is whatever Swarm resolves (ID, name or ID prefix).
    """
    with translated():
        attrs = (
            client.api.inspect_secret(ref) if kind == "secret" else client.api.inspect_config(ref)
        )
    spec = copy.deepcopy(attrs["Spec"])
    change(spec)
    with step(f"update {kind} {ref}"), translated():
        raw_post(client, f"/{kind}s/{ref}/update", spec, version=attrs["Version"]["Index"])


def create_templated_secret(client: docker.DockerClient, name: str, data: bytes) -> str:
    """A secret rendered per task with Go templates (docker-py supports templating only for
    configs, so this goes through the raw API); returns its ID."""
    body = {
        "Name": name,
        "Data": base64.b64encode(data).decode(),
        "Templating": {"Name": "golang"},
    }
    with step(f"create templated secret {name}"), translated():
        return str(raw_post(client, "/secrets/create", body)["ID"])


# -- services ----------------------------------------------------------------------------------
def create_service(
    client: SwarmClient, name: str, replicas: int = 1, *, version: str = "v1", **options: Any
) -> str:
    """Create a replicated workload service with short timings; return its ID.

    Restart after 0.5 s, stop grace 0.2 s, updates of every task at once with a 0.5 s monitor:
    the checks wait on Swarm's behaviour, not on Docker's default delays. ``options`` go to
    docker-py's ``services.create`` (secrets, configs, networks, endpoint_spec, env, ...).
    """
    defaults: dict[str, Any] = {
        "mode": ServiceMode("replicated", replicas=replicas),
        "restart_policy": RestartPolicy(condition="any", delay=NS // 2),
        "update_config": UpdateConfig(parallelism=0, delay=0, monitor=NS // 2),
        "stop_grace_period": NS // 5,
    }
    with step(f"create service {name}: {replicas} x {version}"), translated(client.node):
        service = client.docker.services.create(
            workload_image(version), name=name, **{**defaults, **options}
        )
    return str(service.id)


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
                with translated(client.node):
                    service = client.docker.services.get(name)
                    spec = copy.deepcopy(service.attrs["Spec"])
                    change(spec)
                    path = f"/services/{service.id}/update"
                    raw_post(client.docker, path, spec, version=service.version)
                return
            except EngineAPIError as exc:
                if "update out of sequence" not in str(exc) or attempt == 2:
                    raise


def raw_tasks(client: SwarmClient, name: str) -> dict[str, dict[str, Any]]:
    """The service's tasks as the API returns them (network attachments included), by ID."""
    with translated(client.node):
        return {t["ID"]: t for t in client.docker.api.tasks(filters={"service": name})}


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


def task_network_ids(task: dict[str, Any]) -> set[str]:
    """The networks a task is attached to (its allocated attachments)."""
    return {a["Network"]["ID"] for a in task.get("NetworksAttachments") or []}


def task_address(task: dict[str, Any], network_id: str) -> str | None:
    """The task's IP address on one network (without the prefix length)."""
    for attachment in task.get("NetworksAttachments") or []:
        if attachment["Network"]["ID"] == network_id and attachment.get("Addresses"):
            return str(attachment["Addresses"][0]).split("/")[0]
    return None


def running_addresses(client: SwarmClient, name: str, net_id: str) -> set[str]:
    """The addresses on one network of the service's tasks that run and are meant to."""
    found = set()
    for task in raw_tasks(client, name).values():
        if task["DesiredState"] == "running" and task["Status"]["State"] == "running":
            address = task_address(task, net_id)
            if address:
                found.add(address)
    return found


def service_vips(client: SwarmClient, name: str) -> dict[str, str]:
    """The service's virtual IPs per network ID (no prefix length); empty for DNS-RR."""
    with translated(client.node):
        endpoint = client.docker.services.get(name).attrs.get("Endpoint") or {}
    return {v["NetworkID"]: v["Addr"].split("/")[0] for v in endpoint.get("VirtualIPs") or []}


# -- files inside a task -----------------------------------------------------------------------
@dataclass(frozen=True)
class TaskFile:
    """A path as a task's container sees it."""

    path: str
    exists: bool
    kind: str = ""
    """``file``, ``dir``, ``link`` or ``other`` (from ``ls -l``)."""
    mode: int = 0
    uid: int = -1
    gid: int = -1
    content: str = ""
    fs_type: str = ""
    """The filesystem type of the mount that holds the path (``tmpfs``, ``overlay``, ...)."""

    def describe(self) -> str:
        if not self.exists:
            return f"{self.path}: absent"
        return (
            f"{self.path}: {self.kind} mode {self.mode:o} uid {self.uid} gid {self.gid} "
            f"on {self.fs_type}, content {self.content!r}"
        )


_FILE_SCRIPT = r"""
p="$1"
if [ -e "$p" ]; then ls -lnd "$p"; echo "@@content@@"; cat "$p"; echo "@@end@@"
else echo ABSENT; fi
echo "@@mounts@@"; cat /proc/mounts
"""
_KINDS = {"-": "file", "d": "dir", "l": "link"}


def task_file(cluster: Cluster, task: TaskInfo, path: str) -> TaskFile:
    """Stat, read and locate ``path`` inside the task's container, on the node running it."""
    code, out = exec_in_task(cluster, task, ["sh", "-c", _FILE_SCRIPT, "sh", path])
    if code != 0 or "@@mounts@@" not in out:
        raise SwarmcheckError(f"could not read {path} in task {task.id[:10]}: {out[-300:]}")
    head, mounts = out.split("@@mounts@@", 1)
    where = mount_type_of(mounts, path)
    if head.strip() == "ABSENT":
        return TaskFile(path=path, exists=False, fs_type=where)
    listing, rest = head.split("@@content@@", 1)
    content = rest.lstrip("\n").rsplit("@@end@@", 1)[0]
    fields = listing.split()
    kind, mode = parse_permissions(fields[0])
    return TaskFile(
        path=path,
        exists=True,
        kind=kind,
        mode=mode,
        uid=int(fields[2]),
        gid=int(fields[3]),
        content=content,
        fs_type=where,
    )


def parse_permissions(perms: str) -> tuple[str, int]:
    """``-rw-r-----`` (from ``ls -l``) -> ("file", 0o640); set-id and sticky bits are not read."""
    mode = sum(1 << (8 - i) for i, char in enumerate(perms[1:10]) if char not in "-ST")
    return _KINDS.get(perms[:1], "other"), mode


def mount_type_of(mounts: str, path: str) -> str:
    """The type of the innermost mount holding ``path``, from /proc/mounts text."""
    best, best_type = "", ""
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = parts[1].replace("\\040", " ")
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, best_type = point, parts[2]
    return best_type


# -- probes ------------------------------------------------------------------------------------
_ADDRESS = re.compile(r"^Address(?: \d+)?:\s*([0-9.]+)\s*$")


def parse_nslookup(out: str) -> set[str]:
    """The IPv4 answers in busybox ``nslookup`` output (the server's own address, printed
    before any ``Name:`` line, is not an answer)."""
    answers: set[str] = set()
    in_answer = False
    for line in out.splitlines():
        if line.startswith("Name:"):
            in_answer = True
        match = _ADDRESS.match(line)
        if in_answer and match:
            answers.add(match.group(1))
    return answers


@dataclass
class NetProbe:
    """A standalone container on an attachable overlay network: asks DNS, talks to tasks."""

    node: Node
    container: Container

    def resolve(self, name: str) -> set[str]:
        """The IPv4 addresses the network's DNS gives for ``name`` (empty: no answer)."""
        with translated(self.node.name):
            result = self.container.exec_run(["nslookup", name])
        return parse_nslookup(result.output.decode(errors="replace") if result.output else "")

    def http(self, ip: str, port: int = WEB_PORT) -> str | None:
        """The last line of ``GET /`` sent to ip:port over the overlay (None: no answer)."""
        script = 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | timeout 3 nc -w 2 "$1" "$2" | tail -n 1'
        with translated(self.node.name):
            result = self.container.exec_run(["sh", "-c", script, "sh", ip, str(port)])
        out = result.output.decode(errors="replace").strip() if result.output else ""
        return out or None


def wait_resolves(
    probe: NetProbe, name: str, want: Callable[[], set[str]], timeout_s: float = 30.0
) -> set[str]:
    """Wait until the probe's DNS answers ``name`` with exactly the (non-empty) set ``want()``
    gives; return it. A timeout is a broken promise, with the last answer seen."""
    last: dict[str, set[str]] = {}

    def answered() -> set[str] | None:
        last["want"], last["seen"] = want(), probe.resolve(name)
        return last["want"] if last["want"] and last["seen"] == last["want"] else None

    try:
        return wait_until(
            answered,
            what=f"DNS to answer {name} with {sorted(last.get('want', set()))}",
            timeout_s=timeout_s,
            timeout_error=promise_timeout,
        )
    except SwarmPromiseBroken as exc:
        raise SwarmPromiseBroken(
            f"DNS on {probe.node.name} did not answer {name} as expected in {timeout_s:.0f} s",
            expected=str(sorted(last.get("want", set()))),
            seen=str(sorted(last.get("seen", set()))),
        ) from exc


@contextmanager
def probe_container(
    cluster: Cluster,
    node: Node,
    network: str,
    name: str = "netprobe",
    command: list[str] | None = None,
) -> Iterator[NetProbe]:
    """A probe container on ``node`` in ``network``, removed on exit (a network a container
    is attached to cannot be removed, so it must go before the reset removes networks).
    By default it only sleeps; ``command=[]`` runs the workload's own web server instead."""
    with step(f"start probe {name} on {node.name} in {network}"), translated(node.name):
        container = node.client.containers.run(
            workload_image(),
            ["sleep", "600"] if command is None else command or None,
            name=name,
            network=network,
            detach=True,
            labels=labels.for_run(cluster.run_id, "probe"),
        )
    try:
        yield NetProbe(node=node, container=container)
    finally:
        with suppress(EngineAPIError), translated(node.name):  # gone already, or its node is
            container.remove(force=True)


def container_networks(node: Node, container_id: str) -> dict[str, dict[str, Any]]:
    """The networks a container is connected to on its node's engine, by network name."""
    with translated(node.name):
        attrs = node.client.api.inspect_container(container_id)
    return dict(attrs["NetworkSettings"]["Networks"] or {})


def wait_listening(node: Node, port: int, timeout_s: float = 10.0) -> None:
    """Wait until a socket listens on ``port`` in the node's own network namespace (a
    standalone container on the host network started it): the environment, not a promise, so
    a timeout is a ``ReadinessTimeout``."""
    pattern = f":{port:04X} [0-9A-F]+:0000 0A"  # /proc/net/tcp{,6}: port and LISTEN in hex
    wait_until(
        lambda: (
            True
            if node.exec(f"cat /proc/net/tcp /proc/net/tcp6 | grep -Eqi '{pattern}'")[0] == 0
            else None
        ),
        what=f"port {port} to be listening on {node.name}",
        timeout_s=timeout_s,
    )


def http_from_host(ip: str, port: int, timeout_s: float = 2.0) -> str | None:
    """``GET /`` from the test host to ip:port; the last line of the answer, None when the
    connection is refused, times out or closes without an answer."""
    try:
        with socket.create_connection((ip, port), timeout=timeout_s) as conn:
            conn.settimeout(timeout_s)
            conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
            chunks = []
            while chunk := conn.recv(4096):
                chunks.append(chunk)
    except OSError:
        return None
    lines = [line for line in b"".join(chunks).decode(errors="replace").splitlines() if line]
    return lines[-1].strip() if lines else None


# -- a spare one-node swarm --------------------------------------------------------------------
_SPARE_INDEX = itertools.cycle(range(100, 200))


@contextmanager
def spare_swarm(cluster: Cluster, name: str, **init: Any) -> Iterator[Node]:
    """A one-node swarm of its own on the run's network, initialised with ``init`` (for
    example ``default_addr_pool``, ``subnet_size``, ``data_path_port``), with the workload
    images loaded; removed afterwards. For what only ``swarm init`` sets, and for checks that
    would damage the shared cluster."""
    if cluster.images is None:
        raise SwarmcheckError("the cluster was not brought up: no node image to start from")
    node = start_node(
        cluster.host,
        run_id=cluster.run_id,
        name=name,
        role="manager",
        image=cluster.images.node,
        network=cluster.network,
        ip=node_ip(cluster.subnet, next(_SPARE_INDEX)),
        entrypoint=images.node_entrypoint(),
        inner_bip=INNER_BIP,
        inner_pool=INNER_POOL,
    )
    try:
        with step(f"bring up a spare one-node swarm {name}"):
            node.wait_engine()
            with translated(name):
                for tar in cluster.images.workload_tars:
                    node.client.images.load(tar)
                node.client.swarm.init(
                    advertise_addr=f"{node.ip}:{SWARM_PORT}",
                    listen_addr=f"0.0.0.0:{SWARM_PORT}",
                    data_path_addr=node.ip,
                    **init,
                )
        yield node
    finally:
        node.close()
        # best effort: what stays is removed with the run, by its labels
        with suppress(EngineAPIError), translated(name):
            cluster.host.containers.get(node.container_name).remove(force=True, v=True)
        with suppress(EngineAPIError), translated(name):
            cluster.host.volumes.get(f"{node.container_name}-docker").remove(force=True)
        shutil.rmtree(sockets.run_dir(cluster.run_id) / name, ignore_errors=True)
