"""Session hooks: settings, markers, collection checks, progress on the terminal, cleanup."""

from __future__ import annotations

import logging
import signal
from types import FrameType
from typing import Any

import allure
import pytest

from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.errors import ConfigError
from swarmcheck.plugin.keys import SETTINGS_KEY
from swarmcheck.plugin.options import settings_from
from swarmcheck.plugin.report import configure_reports
from swarmcheck.steps import install_recorder

MARKERS = (
    "swarmcheck(id, area, doc, title=None): a conformance or chaos check with a stable id, "
    "its area and the documentation it checks",
    "swarm(managers=None, workers=None, faults=False): the cluster shape this test needs",
    "e2e: needs a real Docker engine (the project's own end-to-end tests)",
)
SWARM_MARKER_ARGS = ("managers", "workers", "faults")


class TerminalLogHandler(logging.Handler):
    """Shows swarmcheck's progress lines (image builds, bring-ups, sweeps) as they happen."""

    def __init__(self, config: pytest.Config) -> None:
        super().__init__(logging.WARNING)
        self.config = config

    def emit(self, record: logging.LogRecord) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        line = f"[swarmcheck] {record.getMessage()}"
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(line)
        else:
            reporter.write_line(line)


@pytest.hookimpl(tryfirst=True)  # before allure and junitxml read their output options
def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    settings = settings_from(config)
    config.stash[SETTINGS_KEY] = settings
    configure_reports(config)
    handler = TerminalLogHandler(config)
    logging.getLogger("swarmcheck").addHandler(handler)
    logging.getLogger("swarmcheck").setLevel(logging.INFO)
    config.add_cleanup(lambda: logging.getLogger("swarmcheck").removeHandler(handler))
    previous = install_recorder(allure.step)  # library steps become Allure steps

    def restore_recorder() -> None:
        install_recorder(previous)

    config.add_cleanup(restore_recorder)
    _sigterm_as_interrupt(config)


def _sigterm_as_interrupt(config: pytest.Config) -> None:
    """A SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so fixtures remove the cluster."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        return

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    config.add_cleanup(restore)


def shape_of(item: pytest.Item, default: ClusterSpec) -> ClusterSpec:
    """The cluster a test needs: the run's default, overridden by its `swarm` marker."""
    marker = item.get_closest_marker("swarm")
    if marker is None:
        return default
    kw: dict[str, Any] = dict(marker.kwargs)
    fields = {k: kw[k] for k in ("managers", "workers") if kw.get(k) is not None}
    if kw.get("faults"):
        # Control-plane faults add up to a second of round trip: keep Docker's default
        # dispatcher heartbeat (5 s) there, or nodes flap between ready and down.
        fields["control_plane_proxy"] = True
        fields["heartbeat_s"] = 5.0
    return ClusterSpec(**{**default.__dict__, **fields})


def swarm_marker_problem(item: pytest.Item, default: ClusterSpec) -> str | None:
    """What is wrong with a test's `swarm` marker (unknown arguments, an impossible shape)."""
    marker = item.get_closest_marker("swarm")
    if marker is None:
        return None
    unknown = [f"{k}=" for k in marker.kwargs if k not in SWARM_MARKER_ARGS]
    if marker.args or unknown:
        got = ", ".join([*map(repr, marker.args), *unknown])
        return f"the swarm marker takes only managers=, workers= and faults= (got {got})"
    try:
        shape_of(item, default)
    except ConfigError as exc:
        return f"swarm marker: {exc}"
    return None


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Check suite ids are present and unique and swarm markers valid; group tests by cluster
    shape (fewer rebuilds)."""
    default = config.stash[SETTINGS_KEY].cluster
    seen: dict[str, str] = {}
    problems = []
    for item in items:
        shape_problem = swarm_marker_problem(item, default)
        if shape_problem:
            problems.append(f"{item.nodeid}: {shape_problem}")
        marker = item.get_closest_marker("swarmcheck")
        if marker is None:
            continue
        missing = [f"{k}=" for k in ("id", "area", "doc") if not marker.kwargs.get(k)]
        if missing:
            problems.append(
                f"{item.nodeid}: the swarmcheck marker needs id=, area= and doc= "
                f"(missing: {', '.join(missing)})"
            )
            continue
        test_id = str(marker.kwargs["id"])
        if test_id in seen and seen[test_id] != item.nodeid:
            problems.append(f"{item.nodeid}: id {test_id} is already used by {seen[test_id]}")
        seen[test_id] = item.nodeid
    if problems:
        raise pytest.UsageError("bad suite metadata:\n  " + "\n  ".join(problems))
    order = {id(item): index for index, item in enumerate(items)}

    def key(item: pytest.Item) -> tuple[int, int, bool, int]:
        shape = shape_of(item, default)
        return (
            shape != default,
            shape.managers * 100 + shape.workers,
            shape.control_plane_proxy,
            order[id(item)],
        )

    items.sort(key=key)
