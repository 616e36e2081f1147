"""Allure labels from suite metadata, and diagnostics attached when a test fails."""

from __future__ import annotations

import inspect
import json
from collections.abc import Generator
from pathlib import PurePosixPath

import allure
import pytest

from swarmcheck.catalog.model import Check
from swarmcheck.catalog.render import notes_of
from swarmcheck.cluster.interface import Swarm
from swarmcheck.errors import (
    ConfigError,
    EnvironmentProblem,
    ProvisioningError,
    SwarmcheckError,
)
from swarmcheck.plugin.keys import (
    CLUSTER_KEY,
    ENGINE_VERSIONS_KEY,
    FAILED_KEY,
    KEPT_KEY,
    POOL_KEY,
    REPORT_ATTR,
    SETTINGS_KEY,
    SWARM_ITEM_KEY,
)
from swarmcheck.plugin.markers import check_of
from swarmcheck.plugin.report import figures_of


def describe(check: Check, docstring: str | None) -> str:
    """The Allure description (Markdown): what is checked, the promise, rows and docs."""
    parts = [
        f"**{check.id}**: {check.title}",
        f"**Promise:** {check.promise}",
        f"**Catalog rows:** {', '.join(check.rows)}",
        f"**Documentation:** {check.doc}",
    ]
    notes = notes_of(check)
    if notes:
        parts.append(f"**Notes:** {', '.join(notes)}")
    if docstring and docstring.strip():
        parts.append(inspect.cleandoc(docstring))
    return "\n\n".join(parts)


def label_check(item: pytest.Item, check: Check) -> None:
    """Allure groups checks by area (Behaviors: feature = area, story = id; Suites:
    parent suite = area, suite = the file) and shows id, promise, rows and the doc link."""
    allure.dynamic.label("swarmcheck_id", check.id)
    allure.dynamic.tag(check.id)
    allure.dynamic.epic(check.suite)
    allure.dynamic.feature(check.area)
    allure.dynamic.story(check.id)
    allure.dynamic.parent_suite(check.area)
    allure.dynamic.suite(PurePosixPath(check.file).name or check.file)
    for row in check.rows:
        allure.dynamic.label("swarmcheck_row", row)
    allure.dynamic.link(check.doc, name="documentation")
    allure.dynamic.title(f"{check.id}: {check.title}")
    function = getattr(item, "function", None)
    allure.dynamic.description(describe(check, getattr(function, "__doc__", None)))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Labels, title and description once allure-pytest has named the test (it names it at
    the end of setup), and also when setup skipped or failed."""
    item.stash[FAILED_KEY] = False  # a new attempt (pytest-rerunfailures runs items again)
    if KEPT_KEY in item.stash:
        del item.stash[KEPT_KEY]
    try:
        return (yield)
    finally:
        check = check_of(item)
        if check is not None:
            label_check(item, check)
            # part of Allure's history id: results of different engines never share a history
            spec = item.config.stash[SETTINGS_KEY].cluster
            allure.dynamic.parameter("engine", spec.label)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if not item.stash.get(SWARM_ITEM_KEY, False):
        return report  # not ours: a plain test's report stays as pytest made it
    if report.failed and report.when in ("setup", "call"):
        item.stash[FAILED_KEY] = True  # before the fixtures' teardown, which may keep the cluster
    setattr(report, REPORT_ATTR, report_info(item))
    shorten_setup_error(report, call)
    if report.when == "call":
        figures = figures_of(item.user_properties)
        if figures:
            allure.attach(json.dumps(figures, indent=2), "figures", allure.attachment_type.JSON)
    if report.failed and report.when in ("call", "setup"):
        cluster = item.stash.get(CLUSTER_KEY, None)
        if cluster is not None:
            attach_diagnostics(cluster)
    return report


INPUT_PROBLEMS = (ConfigError, EnvironmentProblem, ProvisioningError)
"""What a swarm could not be set up for: bad input or a machine that lacks something. The
message says what and how to fix it; swarmcheck's own frames would only hide it."""


def shorten_setup_error(report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
    """A swarm fixture that failed on bad input or the environment: the report shows the
    message alone (no traceback from inside swarmcheck). Allure keeps the same message."""
    error = call.excinfo.value if call.excinfo is not None else None
    if report.when == "setup" and report.failed and isinstance(error, INPUT_PROBLEMS):
        report.longrepr = f"swarmcheck could not set up this test: {type(error).__name__}: {error}"


def report_info(item: pytest.Item) -> dict[str, object]:
    """What a swarm test's report carries to whoever reports (the xdist controller too):
    the check's id, area and name, and the engine under test. Plain data: it travels."""
    check = check_of(item)
    pool = item.config.stash.get(POOL_KEY, None)
    versions: dict[str, str] = item.config.stash.get(ENGINE_VERSIONS_KEY, {})
    kept = item.stash.get(KEPT_KEY, None)
    return {
        "check": {"id": check.id, "area": check.area, "name": item.name} if check else None,
        "engine": pool.engine_version if pool else "",
        "node_image": pool.node_image if pool and pool.engine_version else "",
        "engine_versions": dict(versions),
        # --swarm-keep-on-failure, set at teardown: the cluster kept, or why none was
        "kept": kept if kept is None or isinstance(kept, str) else kept.to_dict(),
    }


def attach_state(cluster: Swarm, suffix: str = "") -> None:
    """The node list and every service's tasks, as `docker node ls` / `service ps` show them."""
    try:
        nodes = cluster.node_list()
        allure.attach(
            "\n".join(
                f"{n.hostname:10} {n.role:8} {n.state:8} {n.availability:7} "
                f"{'Leader' if n.leader else (n.reachability or '')}"
                for n in nodes
            ),
            f"node list{suffix}",
            allure.attachment_type.TEXT,
        )
        lead = cluster.leader_client()
        lines = []
        for service in lead.services():
            for t in lead.tasks(service.name):
                lines.append(
                    f"{service.name}.{t.slot} {t.node_id[:10]} {t.image} "
                    f"{t.desired_state}/{t.state} {t.error or ''}"
                )
        allure.attach(
            "\n".join(lines) or "(no services)",
            f"service tasks{suffix}",
            allure.attachment_type.TEXT,
        )
    except SwarmcheckError as exc:
        allure.attach(
            f"could not read the cluster state: {exc}",
            f"cluster state{suffix}",
            allure.attachment_type.TEXT,
        )


def attach_diagnostics(cluster: Swarm) -> None:
    """On failure: the cluster state and each node daemon's log tail."""
    attach_state(cluster)
    for node in cluster.nodes:
        allure.attach(
            node.daemon_log_tail(80), f"dockerd log: {node.name}", allure.attachment_type.TEXT
        )
