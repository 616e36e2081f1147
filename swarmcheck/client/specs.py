"""Typed builders for the parts of a service spec that checks choose: how it updates and rolls
back, restarts, checks its health, publishes ports, and which secrets and configs it gets.

Each builds the Engine API's JSON for its part (``api()``), exactly as docker-py's
``docker.types`` classes of the same name do, so a check never imports docker. Times are in
seconds here (the API's durations are nanoseconds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

NS = 1_000_000_000
"""Nanoseconds in a second: the unit of the Engine API's durations."""


def nanoseconds(seconds: float) -> int:
    """A duration in seconds as the Engine API's nanoseconds."""
    return round(seconds * NS)


@dataclass(frozen=True)
class UpdateConfig:
    """How a service rolls out an update (``UpdateConfig``), or a rollback
    (``RollbackConfig``, the same fields). ``None`` leaves a field to the engine's default;
    ``failure_action`` is ``continue`` unless given, as docker-py sends it."""

    parallelism: int = 0
    """Tasks updated at once; 0: all at once."""
    delay_s: float | None = None
    failure_action: str | None = "continue"
    """continue, pause or rollback."""
    monitor_s: float | None = None
    max_failure_ratio: float | None = None
    order: str | None = None
    """stop-first or start-first."""

    def api(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"Parallelism": self.parallelism}
        if self.delay_s is not None:
            spec["Delay"] = nanoseconds(self.delay_s)
        if self.failure_action is not None:
            spec["FailureAction"] = self.failure_action
        if self.monitor_s is not None:
            spec["Monitor"] = nanoseconds(self.monitor_s)
        if self.max_failure_ratio is not None:
            spec["MaxFailureRatio"] = self.max_failure_ratio
        if self.order is not None:
            spec["Order"] = self.order
        return spec


RollbackConfig = UpdateConfig
"""A service's RollbackConfig has the UpdateConfig's fields."""


@dataclass(frozen=True)
class RestartPolicy:
    """When Swarm replaces a finished task: ``condition`` none, on-failure or any, after
    ``delay_s``, at most ``max_attempts`` times (0: no cap) within ``window_s`` (0: ever)."""

    condition: str = "none"
    delay_s: float = 0.0
    max_attempts: int = 0
    window_s: float = 0.0

    def api(self) -> dict[str, Any]:
        return {
            "Condition": self.condition,
            "Delay": nanoseconds(self.delay_s),
            "MaxAttempts": self.max_attempts,
            "Window": nanoseconds(self.window_s),
        }


@dataclass(frozen=True)
class Healthcheck:
    """A container health check: ``test`` as the API takes it (``["CMD", ...]``,
    ``["CMD-SHELL", "..."]``, ``["NONE"]``), or a string run by the shell."""

    test: Sequence[str] | str
    interval_s: float | None = None
    timeout_s: float | None = None
    retries: int | None = None
    start_period_s: float | None = None

    def api(self) -> dict[str, Any]:
        test = ["CMD-SHELL", self.test] if isinstance(self.test, str) else list(self.test)
        return {
            "Test": test,
            "Interval": _ns_or_none(self.interval_s),
            "Timeout": _ns_or_none(self.timeout_s),
            "Retries": self.retries,
            "StartPeriod": _ns_or_none(self.start_period_s),
        }


def _ns_or_none(seconds: float | None) -> int | None:
    return None if seconds is None else nanoseconds(seconds)


@dataclass(frozen=True)
class Port:
    """A published port: ``target`` in the task, ``published`` on the nodes (None: Swarm picks
    one), through the routing mesh (``mode`` ingress) or on the task's node only (host)."""

    target: int
    published: int | None = None
    protocol: str = "tcp"
    mode: str | None = None

    def api(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "Protocol": self.protocol,
            "PublishedPort": self.published,
            "TargetPort": self.target,
        }
        if self.mode is not None:
            spec["PublishMode"] = self.mode
        return spec


@dataclass(frozen=True)
class EndpointSpec:
    """How a service is reached: ``mode`` vip or dnsrr, and its published ports, given as
    ``Port``s or as ``{published: target}`` (published None: Swarm picks one)."""

    mode: str | None = None
    ports: Sequence[Port] | Mapping[int | None, int] = ()

    def api(self) -> dict[str, Any]:
        spec: dict[str, Any] = {}
        if self.mode:
            spec["Mode"] = self.mode
        ports = (
            [Port(target, published) for published, target in self.ports.items()]
            if isinstance(self.ports, Mapping)
            else list(self.ports)
        )
        if ports:
            spec["Ports"] = [p.api() for p in ports]
        return spec


@dataclass(frozen=True)
class _FileRef:
    """An object granted to a service's tasks as a file, owned by ``uid``:``gid`` with
    ``mode``."""

    id: str
    name: str
    filename: str | None = None
    uid: str = "0"
    gid: str = "0"
    mode: int = 0o444
    kind = ""

    def api(self) -> dict[str, Any]:
        file = {"Name": self.filename or self.name, "UID": self.uid, "GID": self.gid}
        return {
            f"{self.kind}ID": self.id,
            f"{self.kind}Name": self.name,
            "File": {**file, "Mode": self.mode},
        }


@dataclass(frozen=True)
class SecretRef(_FileRef):
    """A secret granted to a service's tasks: the file ``filename`` (default: its name under
    /run/secrets)."""

    kind = "Secret"


@dataclass(frozen=True)
class ConfigRef(_FileRef):
    """A config granted to a service's tasks: the file ``filename`` (default: /<name>)."""

    kind = "Config"
