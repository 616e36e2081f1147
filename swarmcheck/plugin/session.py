"""Session hooks: settings, markers, collection checks, switching on, outcomes, summary."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from swarmcheck.catalog.model import Check, load_catalog, parse_check
from swarmcheck.cluster.engines import DEBIAN_ORDER, NO_OLDER_ENGINE, describe, looks_like_engine
from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.config import Settings
from swarmcheck.errors import ConfigError
from swarmcheck.plugin.activation import activate, active, is_swarm_item
from swarmcheck.plugin.keys import CHECK_KEY, REPORT_ATTR, SETTINGS_KEY, SWARM_ITEM_KEY
from swarmcheck.plugin.options import settings_from
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
from swarmcheck.plugin.xdist import write_groups

MARKERS = (
    "swarmcheck(id, area, doc, title, promise, rows, destructive=False, needs=()): a "
    "conformance or chaos check: its stable id, area, documentation link, what it checks, "
    "Swarm's promise (one RFC 2119 sentence), the catalog rows it covers, whether it needs a "
    "swarm of its own or breaks one, and the platform features it needs (e.g. 'ipvs')",
    "swarm(managers=None, workers=None, faults=False, engines=None): the cluster shape this "
    "test needs; engines= gives one engine per node (managers, then workers): 'old', 'new' "
    "(see --swarm-upgrade-from), a Debian suite or a dind image",
    "e2e: needs a real Docker engine (the project's own end-to-end tests)",
)
SWARM_MARKER_ARGS = ("managers", "workers", "faults", "engines")
OLD_ENGINE, NEW_ENGINE = "old", "new"
"""Engines a swarm marker names by part: the engine upgraded from, and the engine under test."""


@pytest.hookimpl(tryfirst=True)  # before allure and junitxml read their output options
def pytest_configure(config: pytest.Config) -> None:
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
    settings = settings_from(config)
    config.stash[SETTINGS_KEY] = settings
    if settings.cluster.subnet and (is_controller(config) or is_worker(config)):
        raise pytest.UsageError(
            f"--swarm-subnet={settings.cluster.subnet} (or ini swarm_subnet) cannot be used "
            "with pytest-xdist: every worker brings up its own swarm on its own network. Drop "
            "it: swarmcheck picks a free 10.199.x.0/24 for each cluster"
        )
    prepare_reports(config, decided=bool(settings.asked))
    config.pluginmanager.register(ReportWatcher(config), "swarmcheck-reports")
    config.pluginmanager.register(VerdictWriter(config), "swarmcheck-verdict")
    if settings.asked:
        activate(config, f"options given: {', '.join(settings.asked)}", early=True)
    from swarmcheck.plugin import existing  # its hooks: skips on a swarm we did not create

    if not config.pluginmanager.is_registered(existing):
        config.pluginmanager.register(existing, "swarmcheck-existing")


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


def shape_of(item: pytest.Item, default: ClusterSpec) -> ClusterSpec:
    """The cluster a test needs: the run's default, overridden by its `swarm` marker."""
    marker = item.get_closest_marker("swarm")
    if marker is None:
        return default
    kw: dict[str, Any] = dict(marker.kwargs)
    fields = {k: kw[k] for k in ("managers", "workers") if kw.get(k) is not None}
    if kw.get("engines") is not None:
        fields["engines"] = marker_engines(kw["engines"], item.config.stash[SETTINGS_KEY])
    if kw.get("faults"):
        # Control-plane faults add up to a second of round trip; the clusters' heartbeat is
        # Docker's default 5 s (ClusterSpec), long enough that nodes do not flap under it.
        fields["control_plane_proxy"] = True
    return ClusterSpec(**{**default.__dict__, **fields})


def marker_engines(raw: object, settings: Settings) -> tuple[str, ...]:
    """A swarm marker's engines= with 'old' and 'new' replaced by the run's engines. Without
    an older engine 'old' stands for the engine under test: ``missing_engine`` skips such a
    test before any swarm is made."""
    if isinstance(raw, str) or not isinstance(raw, tuple | list):
        raise ConfigError(
            f"engines={raw!r}: give a tuple with one engine per node, e.g. "
            "engines=('old', 'old', 'new')"
        )
    new = settings.cluster.engine
    old = settings.old_engine or new
    return tuple(
        old if e == OLD_ENGINE else new if e == NEW_ENGINE else str(e).strip() for e in raw
    )


def missing_engine(item: pytest.Item) -> str | None:
    """Why a test whose swarm marker names the 'old' engine cannot run here (None if it can)."""
    marker = item.get_closest_marker("swarm")
    engines = marker.kwargs.get("engines") if marker else None
    settings = item.config.stash[SETTINGS_KEY]
    if not engines or OLD_ENGINE not in engines or settings.old_engine is not None:
        return None
    return (
        f"{NO_OLDER_ENGINE} ({describe(settings.cluster.engine)}) to "
        "mix with or upgrade from: give --swarm-upgrade-from=ENGINE (a Debian suite or a "
        "dind image), or test a newer engine (--swarm-debian-suite=trixie or sid)"
    )


def _engines_problem(raw: object) -> str | None:
    if isinstance(raw, str) or not isinstance(raw, tuple | list):
        return f"engines= takes a tuple, one engine per node (got {raw!r})"
    bad = [
        repr(e)
        for e in raw
        if not isinstance(e, str) or not (e in (OLD_ENGINE, NEW_ENGINE) or looks_like_engine(e))
    ]
    if bad:
        return (
            f"engines= names {', '.join(bad)}: use 'old', 'new', a Debian suite "
            f"({', '.join(DEBIAN_ORDER)}) or a dind image reference"
        )
    return None


def swarm_marker_problem(item: pytest.Item, default: ClusterSpec) -> str | None:
    """What is wrong with a test's `swarm` marker (unknown arguments, an impossible shape)."""
    marker = item.get_closest_marker("swarm")
    if marker is None:
        return None
    unknown = [f"{k}=" for k in marker.kwargs if k not in SWARM_MARKER_ARGS]
    if marker.args or unknown:
        got = ", ".join([*map(repr, marker.args), *unknown])
        return f"the swarm marker takes only managers=, workers=, faults= and engines= (got {got})"
    if marker.kwargs.get("engines") is not None:
        problem = _engines_problem(marker.kwargs["engines"])
        if problem:
            return f"swarm marker: {problem}"
    try:
        shape_of(item, default)
    except ConfigError as exc:
        return f"swarm marker: {exc}"
    return None


def check_of(item: pytest.Item) -> Check | None:
    """The item's suite metadata (parsed at collection), or None for a plain test."""
    return item.stash.get(CHECK_KEY, None)


def _definition(item: pytest.Item) -> str:
    """The test function an item comes from (parametrized items share one check id)."""
    return item.nodeid.split("[", 1)[0]


def suite_marker_problems(item: pytest.Item, rootpath: Path) -> list[str]:
    """Parse the item's swarmcheck marker into its stash; what is wrong with it, if anything."""
    marker = item.get_closest_marker("swarmcheck")
    if marker is None:
        return []
    try:
        check = parse_check(marker.kwargs, marker.args)
    except ConfigError as exc:
        return str(exc).splitlines()
    uses_fresh = "fresh_cluster" in getattr(item, "fixturenames", ())
    if uses_fresh and not check.destructive:
        return [
            "it uses fresh_cluster (a swarm of its own), so its marker must say destructive=True"
        ]
    try:
        file = item.path.relative_to(rootpath).as_posix()
    except ValueError:
        file = item.path.as_posix()
    name = getattr(item, "originalname", item.name)
    item.stash[CHECK_KEY] = replace(check, file=file, name=name)
    return []


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
        if _definition(first) != _definition(item):
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
        raise pytest.UsageError("--swarm-select is empty: give check ids, areas or rows")
    wanted = {v.casefold() for v in given}
    checks = [c for c in map(check_of, items) if c is not None]
    areas = sorted({c.area for c in checks})
    known = {
        v.casefold() for v in (*load_catalog().area_keys, *load_catalog().row_keys, *areas)
    } | {c.id.casefold() for c in checks}
    unknown = [v for v in given if v.casefold() not in known]
    if unknown:
        raise pytest.UsageError(
            f"--swarm-select: unknown id, area or row: {', '.join(unknown)}. "
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
    --swarm-select); group tests by cluster shape (fewer rebuilds)."""
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
