"""Reading a cluster into checker inputs: leader samples and the inventory.

Checkers are pure; this module does the I/O for them. Samplers poll with short-timeout
clients so a frozen or partitioned node costs a missing sample, never a hung test.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from swarmcheck.checkers.containers import ContainerSample
from swarmcheck.checkers.inventory import Inventory
from swarmcheck.checkers.leaders import LeaderSample
from swarmcheck.client.errors import translated
from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import EngineAPIError, PromiseTimeout
from swarmcheck.timing import boot_clock, wait_until


class LeaderSampler:
    """Asks every manager, every ``interval_s``, whom it sees as leader (in a thread); each
    round's samples share one time ``t``, so the checker compares views of one moment."""

    def __init__(self, cluster: Cluster, interval_s: float = 0.5, timeout_s: float = 2.0) -> None:
        self.cluster = cluster
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.samples: list[LeaderSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-sampler", daemon=True)

    def __enter__(self) -> LeaderSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[LeaderSample]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_s * 3)
        return list(self.samples)

    def _run(self) -> None:
        names = [m.name for m in self.cluster.managers]
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            while not self._stop.is_set():
                t = boot_clock()
                for sample in pool.map(functools.partial(self._ask, t=t), names):
                    if sample is not None:
                        self.samples.append(sample)
                self._stop.wait(self.interval_s)

    def _ask(self, name: str, t: float) -> LeaderSample | None:
        node = self.cluster.node(name)
        client = node.quick_client(self.timeout_s)
        try:
            infos = SwarmClient(name, client).nodes()
        except EngineAPIError:
            return None  # unreachable, frozen or without quorum: no sample this round
        finally:
            client.close()
        # answered: a frozen manager answers late, from a later moment than its round's
        return LeaderSample.of_view(
            t, name, (i.hostname for i in infos if i.leader), answered=boot_clock()
        )


class ContainerSampler:
    """Lists, every ``interval_s`` (in a thread), the running containers of ``service`` on each
    of ``nodes`` through that node's own engine; an engine that does not answer in time gives a
    sample with ``containers=None``."""

    def __init__(
        self,
        nodes: Sequence[Node],
        service: str,
        interval_s: float = 2.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.nodes = list(nodes)
        self.service = service
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.samples: list[ContainerSample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="container-sampler", daemon=True)

    def __enter__(self) -> ContainerSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[ContainerSample]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.timeout_s * 3)
        return list(self.samples)

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            while not self._stop.is_set():
                t = boot_clock()
                self.samples += pool.map(functools.partial(self._ask, t=t), self.nodes)
                self._stop.wait(self.interval_s)

    def _ask(self, node: Node, t: float) -> ContainerSample:
        return ContainerSample(t, node.name, service_containers(node, self.service, self.timeout_s))


def service_containers(node: Node, service: str, timeout_s: float = 5.0) -> frozenset[str] | None:
    """Ids of the running task containers of ``service`` that ``node``'s own engine lists;
    None when the engine does not answer within ``timeout_s`` (stopped, frozen, cut off)."""
    client = node.quick_client(timeout_s)
    try:
        with translated(node.name):
            found = client.api.containers(
                filters={"label": f"com.docker.swarm.service.name={service}", "status": "running"}
            )
        return frozenset(str(c["Id"]) for c in found)
    except EngineAPIError:
        return None
    finally:
        client.close()


def inventory(cluster: Cluster, timeout_s: float = 30.0) -> Inventory:
    """Services (with a digest of their spec), secrets, configs and swarm networks."""

    def read() -> Inventory:
        lead = cluster.leader_client()
        with translated(lead.node):
            services = {s.name: _task_digest(s.attrs) for s in lead.docker.services.list()}
            secrets = frozenset(s.name for s in lead.docker.secrets.list())
            configs = frozenset(c.name for c in lead.docker.configs.list())
            networks = frozenset(
                n.name for n in lead.docker.networks.list(filters={"scope": "swarm"})
            )
        return Inventory(services=services, secrets=secrets, configs=configs, networks=networks)

    return wait_until(
        read,
        what="the swarm's inventory from the leader",
        timeout_s=timeout_s,
        interval_s=0.5,
        transient=(EngineAPIError,),  # no leader yet, or it is busy: ask again
        timeout_error=PromiseTimeout,  # a leader answers list calls (raft-single-leader)
    )


def _task_digest(attrs: dict[str, Any]) -> str:
    """What a service runs (image, command, env, networks...), not how many: chaos tests
    scale on purpose, and a scale is not a loss."""
    template = attrs["Spec"]["TaskTemplate"]
    container = template.get("ContainerSpec", {})
    image = str(container.get("Image", "")).split("@")[0]
    # Only what the user specified: SDK updates (scale) fill in defaults elsewhere.
    what = {k: container.get(k) for k in ("Image", "Command", "Args", "Env", "Labels", "Mounts")}
    what["Networks"] = sorted(n.get("Target", "") for n in template.get("Networks") or [])
    body = json.dumps(what, sort_keys=True, default=str).encode()
    return f"{image}#{hashlib.sha256(body).hexdigest()[:12]}"
