"""A pytest plugin for benchmarks/bench_speed.py: when each phase of a run starts and ends,
and which effects each check had on its swarm (as the engine calls it made show them).

Loaded with ``-p benchmarks.speed_probe`` (pytest-xdist passes it to every worker); writes
JSON lines to ``$SWARMCHECK_SPEED_LOG/<pid>.jsonl``, nothing when the variable is unset. It
wraps the pool's methods and docker-py's request methods from the outside, so the product
carries no measuring code:

- phases: ``bring-up`` (a new swarm), ``restore`` (the pool's health check before a test),
  ``setup`` / ``call`` / ``teardown`` of each test, ``reset`` (inside teardown), ``release``
  (a swarm removed), every other moment of the process is ``session`` (start, collection,
  reports);
- effects: every POST/DELETE a check's call phase sends, classified as catalog.model.EFFECTS
  does (membership, tokens, settings, roles, stops, writes), with the host calls that stop,
  pause, kill or restart a node container, or run iptables/kill inside one, as ``stops``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import docker.api.client
import pytest

LOG_ENV = "SWARMCHECK_SPEED_LOG"
_lock = threading.Lock()
_current: dict[str, Any] = {"test": None, "effects": None}

NODE_CONTAINER = re.compile(r"/containers/([^/]+)/(stop|kill|pause|restart|start)$")
"""On the host engine the only containers checks touch are the nodes (by name or by ID)."""
EXEC = re.compile(r"/containers/(sc-[0-9a-f]+-[a-z]+\d*|[0-9a-f]{12,64})/exec$")
STOPPING_COMMANDS = re.compile(r"iptables|\bkill\b|pkill|killall|\btc\b")


def _log_path() -> Path | None:
    folder = os.environ.get(LOG_ENV)
    return Path(folder) / f"{os.getpid()}.jsonl" if folder else None


def record(**event: Any) -> None:
    path = _log_path()
    if path is None:
        return
    event.setdefault("t", time.time())
    event.setdefault("pid", os.getpid())
    with _lock, path.open("a") as out:
        out.write(json.dumps(event) + "\n")


@contextlib.contextmanager
def phase(name: str, **extra: Any) -> Iterator[None]:
    record(ev="start", phase=name, **extra)
    try:
        yield
    finally:
        record(ev="end", phase=name, **extra)


def _effect(base_url: str, method: str, path: str, kwargs: dict[str, Any]) -> str | None:
    """The effect of one engine call (None: a read, or not the swarm's)."""
    node_engine = "swarmcheck-" in base_url
    if not node_engine:  # the host engine: node containers stopped, or commands run in them
        if NODE_CONTAINER.search(path) and not path.endswith("/start"):
            return "stops"
        if EXEC.search(path):
            body = str(kwargs.get("data") or "")
            return "stops" if STOPPING_COMMANDS.search(body) else "exec"
        return None
    if method == "DELETE":
        return "membership" if re.search(r"/nodes/[^/]+$", path) else "writes"
    if re.search(r"/swarm/(init|join|leave)$", path):
        return "membership"
    if path.endswith("/swarm/update"):
        params = kwargs.get("params") or {}
        if any(
            str(params.get(k)).lower() == "true"
            for k in ("rotateWorkerToken", "rotateManagerToken", "rotateManagerUnlockKey")
        ):
            return "tokens"
        body = str(kwargs.get("data") or "")
        return "tokens" if re.search(r"ForceRotate\"?:\s*[1-9]|SigningCA", body) else "settings"
    if path.endswith("/swarm/unlock"):
        return "stops"
    if re.search(r"/nodes/[^/]+/update$", path):
        return "roles"
    if EXEC.search(path):
        body = str(kwargs.get("data") or "")
        return "stops" if STOPPING_COMMANDS.search(body) else "exec"
    if re.search(r"/containers/[^/]+/(stop|kill|pause|restart)$", path):
        return "writes"  # a task or probe container inside a node
    return "writes"


def _wrap_request(name: str, method: str) -> None:
    original = getattr(docker.api.client.APIClient, name)

    @functools.wraps(original)
    def wrapped(self: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        effects = _current["effects"]
        if effects is not None:
            path = urllib.parse.urlsplit(url).path
            path = re.sub(r"^/v[0-9.]+", "", path)
            adapter = getattr(self, "_custom_adapter", None)
            where = str(getattr(adapter, "socket_path", "") or self.base_url)
            effect = _effect(where, method, path, kwargs)
            if effect is not None:
                with _lock:
                    effects.setdefault(effect, set()).add(f"{method} {path}"[:120])
        return original(self, url, *args, **kwargs)

    setattr(docker.api.client.APIClient, name, wrapped)


def _wrap_pool() -> None:
    from swarmcheck.cluster import pool

    def around(method: str, name: str) -> None:
        original: Callable[..., Any] = getattr(pool.ClusterPool, method)

        @functools.wraps(original)
        def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
            with phase(name):
                return original(self, *args, **kwargs)

        setattr(pool.ClusterPool, method, wrapped)

    around("_up", "bring-up")
    around("acquire", "restore")
    around("after_test", "reset")
    around("release", "release")


def pytest_configure(config: pytest.Config) -> None:
    if _log_path() is None or getattr(pytest_configure, "done", False):
        return
    pytest_configure.done = True  # type: ignore[attr-defined]
    Path(os.environ[LOG_ENV]).mkdir(parents=True, exist_ok=True)
    _wrap_request("_post", "POST")
    _wrap_request("_delete", "DELETE")
    _wrap_pool()
    worker = getattr(config, "workerinput", {}).get("workerid", "controller")
    record(ev="process", worker=worker if hasattr(config, "workerinput") else "main")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with phase("setup", test=item.nodeid):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    _current["effects"] = {}
    try:
        with phase("call", test=item.nodeid):
            return (yield)
    finally:
        seen, _current["effects"] = _current["effects"], None
        record(
            ev="effects",
            test=item.nodeid,
            effects=sorted(seen),
            calls={k: sorted(v)[:6] for k, v in seen.items()},
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    with phase("teardown", test=item.nodeid):
        return (yield)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and not report.passed):
        record(ev="outcome", test=report.nodeid, when=report.when, outcome=report.outcome)
