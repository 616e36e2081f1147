"""The one place that builds docker-py clients (host engine and node engines)."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import Any

import docker
import requests
from docker.tls import TLSConfig

from swarmcheck.catalog.model import EFFECTS as EFFECTS_SAID
from swarmcheck.errors import EffectNotAllowed, NotOnExistingSwarm
from swarmcheck.labels import RUN as RUN_LABEL

DEFAULT_TIMEOUT_S = 30.0
LABELLED_POSTS = re.compile(
    r"/(?:services|networks|volumes|containers)/create$|/services/[^/]+/update$"
)
"""Engine API calls that create (or replace the spec of) an object the run labels. Secrets
and configs are not labelled (checks assert their labels exactly): they are known by the ID
their create call returned."""
CREATES = re.compile(r"/(services|networks|secrets|configs|volumes|containers)/create$")
GUARDED = re.compile(
    r"/(services|networks|secrets|configs|volumes|containers)/([^/]+)"
    r"(?:/(update|kill|stop|restart|pause))?$"
)
"""Calls that remove or change one object: on a swarm in use, only objects of this run."""
GUARD_METHODS = {"DELETE", "POST"}
OWN_TASKS = "com.docker.swarm.service.id"
NODE_UPDATE = re.compile(r"/nodes/([^/]+)/update$")
NODE_REMOVE = re.compile(r"/nodes/([^/]+)$")
SWARM_UPDATE = re.compile(r"/swarm/update$")
MEMBERSHIP = re.compile(r"/swarm/(?:init|join|leave)$")
ROTATIONS = ("rotateWorkerToken", "rotateManagerToken", "rotateManagerUnlockKey")
CA_CHANGES = ("ForceRotate", "SigningCACert", "SigningCAKey")
"""What a swarm update changes that rotates the root CA (a ``tokens`` effect, not a setting)."""


class Permits:
    """The effects the check now running may have on a swarm in use, shared by every client
    of that swarm (``catalog.model.EFFECTS``). While lifted (the reset, which puts back what
    checks changed), any."""

    def __init__(self) -> None:
        self._effects: frozenset[str] | None = None
        self._lock = threading.Lock()

    def allow(self, effects: frozenset[str]) -> None:
        with self._lock:
            self._effects = effects

    def allows(self, effect: str) -> bool:
        with self._lock:
            return self._effects is None or effect in self._effects

    @contextlib.contextmanager
    def lifted(self) -> Iterator[None]:
        with self._lock:
            saved, self._effects = self._effects, None
        try:
            yield
        finally:
            with self._lock:
                self._effects = saved


class Created:
    """What a run created through its clients, in order: (kind, ID), shared by every client
    of one existing swarm, so its reset removes exactly those objects."""

    def __init__(self) -> None:
        self._made: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def add(self, kind: str, object_id: str) -> None:
        with self._lock:
            self._made.append((kind, object_id))

    def of(self, kind: str) -> list[str]:
        with self._lock:
            return [i for k, i in self._made if k == kind]

    def forget(self, kind: str, object_id: str) -> None:
        with self._lock:
            self._made = [m for m in self._made if m != (kind, object_id)]


def host_client(timeout_s: float = 120.0) -> docker.DockerClient:
    """A client for the engine that runs the node containers (DOCKER_HOST or the local socket)."""
    return docker.from_env(timeout=int(timeout_s))


def node_client(
    socket_path: str, timeout_s: float = DEFAULT_TIMEOUT_S, api_version: str | None = None
) -> docker.DockerClient:
    """A client for the engine inside a node container, through its Unix socket on this host
    (nodes listen on no TCP port: see swarmcheck.cluster.sockets).

    Without ``api_version`` the client asks the engine for it (a network call that can
    fail on a frozen node); pass the version once known so building a client never blocks.
    """
    return docker.DockerClient(
        base_url=f"unix://{socket_path}", timeout=timeout_s, version=api_version or "auto"
    )


class RemoteAPIClient(docker.APIClient):  # type: ignore[misc]
    """An API client for an engine swarmcheck did not start.

    With ``labels``, it adds them to every object it creates (services, networks, secrets,
    configs, volumes, containers) and keeps them on spec updates, whichever docker-py call or
    raw request a check makes: on a swarm swarmcheck did not create, its reset removes
    exactly what carries its run's label, and nothing else.

    Its TLS verification uses the CA its TLS config names even when REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE is set (common in CI images), which requests would otherwise prefer.
    """

    def __init__(
        self,
        labels: Mapping[str, str] | None = None,
        created: Created | None = None,
        permits: Permits | None = None,
        **kwargs: Any,
    ) -> None:
        self.swarmcheck_labels = dict(labels or {})
        self.swarmcheck_created = created
        self.swarmcheck_permits = permits
        super().__init__(**kwargs)

    def merge_environment_settings(
        self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        settings: dict[str, Any] = super().merge_environment_settings(
            url, proxies, stream, verify, cert
        )
        if isinstance(self.verify, str) and verify in (None, True):
            settings["verify"] = self.verify
        return settings

    def _guard(self, method: str, url: str) -> None:
        """Refuse to remove or change an object this run did not create (on a swarm in use:
        a client with a ``created`` registry). Task containers of this run's services are
        this run's too."""
        if self.swarmcheck_created is None or method not in GUARD_METHODS:
            return
        found = GUARDED.search(urllib.parse.urlsplit(url).path)
        if found is None:
            return
        kind, ref, action = found.group(1), urllib.parse.unquote(found.group(2)), found.group(3)
        if ref in ("create", "prune") or (method == "POST" and action is None):
            return
        owner = self._owner(kind, ref)
        if owner is not None and not owner:
            verb = "remove" if method == "DELETE" else action or "change"
            raise NotOnExistingSwarm(
                f"refused to {verb} {kind[:-1]} {ref}: this run did not create it, and the swarm "
                "is in use (--swarm=existing)"
            )

    def _owner(self, kind: str, ref: str) -> bool | None:
        """Whether this run made the object (None: it does not exist, the engine will say)."""
        path = {"containers": "/containers/{0}/json"}.get(kind, f"/{kind}/{{0}}")
        response = self._get(self._url(path, ref))
        if response.status_code == 404:
            return None
        response.raise_for_status()
        attrs = response.json()
        object_id = str(attrs.get("ID") or attrs.get("Id") or attrs.get("Name") or "")
        labels = (
            (attrs.get("Config") or {}).get("Labels")
            or (attrs.get("Spec") or {}).get("Labels")
            or attrs.get("Labels")
            or {}
        )
        created = self.swarmcheck_created
        assert created is not None
        run = self.swarmcheck_labels.get(RUN_LABEL)
        return (
            object_id in created.of(kind)
            or (run is not None and labels.get(RUN_LABEL) == run)
            or labels.get(OWN_TASKS) in created.of("services")
        )

    def _effect(self, method: str, url: str, kwargs: Mapping[str, Any]) -> str | None:
        """What a call does to the swarm beyond this run's own objects (``EFFECTS``)."""
        path = urllib.parse.urlsplit(url).path
        if method == "DELETE":
            return "membership" if NODE_REMOVE.search(path) else None
        if MEMBERSHIP.search(path):
            return "membership"
        if SWARM_UPDATE.search(path):
            params = kwargs.get("params") or {}
            if any(str(params.get(k)).lower() == "true" for k in ROTATIONS):
                return "tokens"
            now = self._get_json(self._url("/swarm"))["Spec"].get("CAConfig") or {}
            asked = _json_body(kwargs).get("CAConfig") or {}
            rotates = any(k in asked and asked[k] != now.get(k) for k in CA_CHANGES)
            return "tokens" if rotates else "settings"
        update = NODE_UPDATE.search(path)
        if update is None:
            return None
        node = self._get_json(self._url("/nodes/{0}", urllib.parse.unquote(update.group(1))))
        role = _json_body(kwargs).get("Role")
        if role is not None and role != node["Spec"].get("Role"):
            leader = bool((node.get("ManagerStatus") or {}).get("Leader"))
            return "leadership" if leader and role == "worker" else "roles"
        return "roles"

    def _get_json(self, url: str) -> Any:
        response = self._get(url)
        response.raise_for_status()
        return response.json()

    def _permit(self, method: str, url: str, kwargs: Mapping[str, Any]) -> None:
        """Refuse a call whose effect the check now running may not have."""
        permits = self.swarmcheck_permits
        if permits is None:
            return
        effect = self._effect(method, url, kwargs)
        if effect is not None and not permits.allows(effect):
            what = urllib.parse.urlsplit(url).path.split("/", 2)[-1]
            raise EffectNotAllowed(
                f"refused {method} {what}: it {EFFECTS_SAID.get(effect, effect)} ({effect!r}), "
                "which the check does not declare or the user did not allow on a swarm in use",
                effect,
            )

    def _post(self, url: str, **kwargs: Any) -> requests.Response:
        self._guard("POST", url)
        self._permit("POST", url, kwargs)
        response: requests.Response = super()._post(url, **kwargs)
        return response

    def _delete(self, url: str, **kwargs: Any) -> requests.Response:
        self._guard("DELETE", url)
        self._permit("DELETE", url, kwargs)
        response: requests.Response = super()._delete(url, **kwargs)
        return response

    def _post_json(self, url: str, data: Any, **kwargs: Any) -> requests.Response:
        path = url.split("?", 1)[0]
        if self.swarmcheck_labels and isinstance(data, dict) and LABELLED_POSTS.search(path):
            data = dict(data)
            data["Labels"] = {**(data.get("Labels") or {}), **self.swarmcheck_labels}
        response: requests.Response = super()._post_json(url, data, **kwargs)
        made = CREATES.search(path)
        if made and self.swarmcheck_created is not None and response.ok:
            with contextlib.suppress(ValueError, AttributeError):
                body = response.json()
                object_id = body.get("ID") or body.get("Id") or body.get("Name")
                if object_id:
                    self.swarmcheck_created.add(made.group(1), str(object_id))
        return response


def _json_body(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object a docker-py call sends (``_post_json`` passes it serialised)."""
    data = kwargs.get("data")
    try:
        body = json.loads(data) if isinstance(data, str | bytes) and data else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def remote_client(
    base_url: str,
    *,
    tls: TLSConfig | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    labels: Mapping[str, str] | None = None,
    api_version: str | None = None,
    created: Created | None = None,
    permits: Permits | None = None,
) -> docker.DockerClient:
    """A client for an engine swarmcheck did not start (``tcp://host:2376`` with TLS, a Unix
    socket, a Docker context's endpoint); with ``labels``, the services, networks, volumes and
    containers it creates carry them; with ``created``, every object it creates is recorded;
    with ``permits``, a call whose effect the current check may not have is refused."""
    client = docker.DockerClient.__new__(docker.DockerClient)
    client.api = RemoteAPIClient(
        labels,
        created,
        permits,
        base_url=base_url,
        timeout=timeout_s,
        version=api_version or "auto",
        tls=tls or False,
    )
    return client
