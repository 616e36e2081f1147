"""Session hooks: settings, markers, collection checks, switching on, outcomes, summary."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from swarmcheck.catalog.model import load_catalog
from swarmcheck.config import SELECT, SUBNET
from swarmcheck.errors import ConfigError
from swarmcheck.plugin import admission
from swarmcheck.plugin.activation import activate, active, is_swarm_item
from swarmcheck.plugin.chaos import nightly_schedule
from swarmcheck.plugin.chunks import write_groups
from swarmcheck.plugin.durations import DurationRecorder
from swarmcheck.plugin.keys import REPORT_ATTR, SCHEDULE_KEY, SETTINGS_KEY, SWARM_ITEM_KEY
from swarmcheck.plugin.markers import (
    MARKERS,
    check_of,
    definition,
    shape_of,
    suite_marker_problems,
    swarm_marker_problem,
)
from swarmcheck.plugin.options import settings_from
from swarmcheck.plugin.quick import keep_quick
from swarmcheck.plugin.report import (
    fold_junit_reruns,
    prepare_reports,
    print_summary,
    record_outcome,
    settle_reports,
    write_side_files,
)
from swarmcheck.plugin.roles import is_controller, is_worker
from swarmcheck.plugin.verdict import VerdictWriter


@pytest.hookimpl(tryfirst=True)  # before allure and junitxml read their output options
def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    settings = settings_from(config)
    config.stash[SETTINGS_KEY] = settings
    try:
        config.stash[SCHEDULE_KEY] = nightly_schedule(settings.nightly)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
    if settings.cluster.subnet and (is_controller(config) or is_worker(config)):
        raise pytest.UsageError(
            f"{SUBNET.flag}={settings.cluster.subnet} (or ini swarm_subnet) cannot be used "
            "with pytest-xdist: every worker brings up its own swarm on its own network. Drop "
            "it: swarmcheck picks a free 10.199.x.0/24 for each cluster"
        )
    prepare_reports(config, decided=bool(settings.asked))
    config.pluginmanager.register(ReportWatcher(config), "swarmcheck-reports")
    config.pluginmanager.register(VerdictWriter(config), "swarmcheck-verdict")
    config.pluginmanager.register(DurationRecorder(config), "swarmcheck-durations")
    if settings.asked:
        activate(config, f"options given: {', '.join(settings.asked)}", early=True)
    # its hooks: skips on a swarm we did not create
    if not config.pluginmanager.is_registered(admission):
        config.pluginmanager.register(admission, "swarmcheck-admission")


class ReportWatcher:
    """Reads every test report: outcomes for the summary; under xdist, the controller
    switches swarmcheck on when the first report of a swarm test comes in."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if getattr(report, REPORT_ATTR, None) is not None and not active(self.config):
            activate(self.config, "workers run swarm tests", early=False)
        record_outcome(self.config, report)


@pytest.hookimpl(tryfirst=True)  # before xdist's worker sends the collection to the controller
def pytest_collection_finish(session: pytest.Session) -> None:
    """Switch on when the session runs a swarm test; an xdist worker tells the controller
    how its swarm tests group by cluster shape."""
    config = session.config
    swarm_items = [item for item in session.items if item.stash.get(SWARM_ITEM_KEY, False)]
    if swarm_items:
        activate(config, "the session collects swarm tests", early=False)
        if is_worker(config):
            write_groups(config, swarm_items)


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    try:
        return (yield)
    finally:
        if not active(session.config):
            settle_reports(session.config)


@pytest.hookimpl(trylast=True)  # after junitxml has written its file
def pytest_sessionfinish(session: pytest.Session) -> None:
    write_side_files(session.config)
    fold_junit_reruns(session.config)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    print_summary(terminalreporter)


def _check_metadata(items: list[pytest.Item], config: pytest.Config) -> None:
    """Every suite marker valid, ids unique, swarm markers valid; else one usage error that
    names each test and what to fix."""
    default = config.stash[SETTINGS_KEY].cluster
    seen: dict[str, pytest.Item] = {}
    problems = []
    for item in items:
        shape_problem = swarm_marker_problem(item, default)
        if shape_problem:
            problems.append(f"{item.nodeid}: {shape_problem}")
        problems += [f"{item.nodeid}: {p}" for p in suite_marker_problems(item, config.rootpath)]
        check = check_of(item)
        if check is None:
            continue
        first = seen.setdefault(check.id, item)
        if definition(first) != definition(item):
            problems.append(f"{item.nodeid}: id {check.id} is already used by {first.nodeid}")
        item.extra_keyword_matches.update(check.keywords)  # pytest -k SC-MEM-002 / area / row
    if problems:
        raise pytest.UsageError("bad suite metadata:\n  " + "\n  ".join(problems))


def _select(items: list[pytest.Item], config: pytest.Config) -> None:
    """--swarm-select=ID,AREA,ROW,...: keep the checks that match any value."""
    raw = config.stash[SETTINGS_KEY].select
    if not raw:
        return
    given = [v.strip() for v in raw.split(",") if v.strip()]
    if not given:
        raise pytest.UsageError(f"{SELECT.flag} is empty: give check ids, areas or rows")
    wanted = {v.casefold() for v in given}
    checks = [c for c in map(check_of, items) if c is not None]
    areas = sorted({c.area for c in checks})
    known = {
        v.casefold() for v in (*load_catalog().area_keys, *load_catalog().row_keys, *areas)
    } | {c.id.casefold() for c in checks}
    unknown = [v for v in given if v.casefold() not in known]
    if unknown:
        raise pytest.UsageError(
            f"{SELECT.flag}: unknown id, area or row: {', '.join(unknown)}. "
            f"Areas of the collected checks: {', '.join(areas) or '(none)'}; ids look like "
            "SC-MEM-002 and must be among the collected checks; rows are listed by "
            "`swarmcheck catalog`"
        )
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        check = check_of(item)
        names = {k.casefold() for k in (check.id, check.area, *check.rows)} if check else set()
        (keep if names & wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(tryfirst=True)  # before -k and -m deselect: every test's metadata is checked
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Check suite metadata and swarm markers; make ids, areas and rows selectable (-k,
    --swarm-select); group tests by cluster shape (fewer rebuilds); --swarm-quick."""
    _check_metadata(items, config)
    _select(items, config)
    swarm = False
    for item in items:
        if is_swarm_item(item):
            item.stash[SWARM_ITEM_KEY] = swarm = True
    if not swarm:
        return  # a plain session keeps its order
    default = config.stash[SETTINGS_KEY].cluster
    order = {id(item): index for index, item in enumerate(items)}

    def key(item: pytest.Item) -> tuple[int, int, bool, tuple[str, ...], int]:
        shape = shape_of(item, default)
        return (
            shape != default,
            shape.managers * 100 + shape.workers,
            shape.control_plane_proxy,
            shape.engines,
            order[id(item)],
        )

    items.sort(key=key)
    keep_quick(items, config)
