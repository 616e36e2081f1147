"""Run-level reporting: JUnit and Allure defaults, outcomes, the side files, the summary.

Outcomes are read from test reports (``pytest_runtest_logreport``), not from items: under
pytest-xdist the reports are all the controller gets (a swarm test's report carries the
check's id and area in its ``swarmcheck`` attribute, and its figures in user_properties), and
with pytest-rerunfailures a failed attempt arrives as a "rerun" report, so the outcome that
counts is the last attempt's.
"""

from __future__ import annotations

import os
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import allure_commons
import pytest
from _pytest.junitxml import LogXML, mangle_test_address, xml_key

import swarmcheck
from swarmcheck.cluster.kept import KeptCluster
from swarmcheck.plugin.keys import (
    FIGURE_PREFIX,
    KEPT_RUNS_KEY,
    OUTCOMES_KEY,
    REPORT_ATTR,
    RUN_KEY,
    SCHEDULE_KEY,
    SETTINGS_KEY,
)
from swarmcheck.plugin.roles import is_worker
from swarmcheck.reporting.allure_files import (
    executor_from_env,
    write_categories,
    write_environment,
    write_executor,
)
from swarmcheck.reporting.junit import fold_reruns
from swarmcheck.reporting.matrix import OUTCOMES_FILE, write_outcomes
from swarmcheck.reporting.summary import Outcome, Status, format_kept, format_summary

QUICK_NOTE = (
    "quick run (--swarm-quick): one check per catalog area, not the full verdict; run "
    "without --swarm-quick for every check"
)

VERSION_PREFIX = "version of "
"""Run entries naming an engine's version (mixed-version checks start two engines)."""
PENDING_JUNIT_KEY = pytest.StashKey[LogXML]()
RERUNS_KEY = pytest.StashKey[dict[str, list[str]]]()
"""Swarm tests pytest-rerunfailures ran again: nodeid -> why each failed attempt failed."""
STARTED_KEY = pytest.StashKey[float]()
"""Wall-clock start of this process's session (the controller cleans results older than it)."""


# -- defaults for Allure and JUnit ---------------------------------------------------------


def prepare_reports(config: pytest.Config, *, decided: bool) -> None:
    """At configure time; ``decided``: swarmcheck is switched on already (options given).

    Otherwise JUnit's writer, which must see every report from the start, is made now for the
    default path and kept aside: it writes nothing unless the session turns out to be a swarm
    session (``enable_report_defaults``); else ``settle_reports`` drops it unused.
    """
    config.stash[OUTCOMES_KEY] = {}
    config.stash[RERUNS_KEY] = {}
    config.stash[RUN_KEY] = {}
    config.stash[KEPT_RUNS_KEY] = {}
    config.stash[STARTED_KEY] = time.time()
    if decided or is_worker(config) or config.option.collectonly:
        return
    if not _junit_default_applies(config):
        return
    xml = _logxml(config, _reports(config) / "junit.xml")
    config.pluginmanager.register(xml, "swarmcheck-junitxml")
    config.stash[PENDING_JUNIT_KEY] = xml


def _reports(config: pytest.Config) -> Path:
    return config.stash[SETTINGS_KEY].reports_dir


def _junit_default_applies(config: pytest.Config) -> bool:
    return (
        config.pluginmanager.has_plugin("junitxml")
        and getattr(config.option, "xmlpath", "unset") is None
    )


def _allure_default_applies(config: pytest.Config) -> bool:
    return (
        config.pluginmanager.has_plugin("allure_pytest")
        and getattr(config.option, "allure_report_dir", "unset") is None
    )


def _logxml(config: pytest.Config, path: Path) -> LogXML:
    """A JUnit writer configured as junitxml's own pytest_configure makes one."""
    return LogXML(
        str(path),
        config.option.junitprefix,
        config.getini("junit_suite_name"),
        config.getini("junit_logging"),
        config.getini("junit_duration_report"),
        config.getini("junit_family"),
        config.getini("junit_log_passing_tests"),
    )


def enable_report_defaults(config: pytest.Config, *, early: bool, controller: bool) -> None:
    """Allure results and JUnit XML under reports/ unless the user chose other places.

    ``early``: at configure time (before Allure and junitxml read their options: setting the
    options is enough). Later (a swarm test was collected, or an xdist worker reported one),
    the writers are put in place here. Under xdist only the controller cleans old results
    (``--clean-alluredir``): before the workers start when it knows early, else it removes
    only what is older than this session, so no worker's fresh results are lost.
    """
    if config.option.collectonly:
        return  # nothing runs, so nothing to report
    reports = _reports(config)
    if _allure_default_applies(config):
        results = reports / "allure-results"
        config.option.allure_report_dir = str(results)
        clean = bool(getattr(config.option, "clean_alluredir", False))
        if is_worker(config):
            config.option.clean_alluredir = False
            if not early:
                _register_allure(config, results, clean=False)
        elif controller:
            if not early and clean:
                _remove_older_than(results, config.stash[STARTED_KEY])
        elif not early:
            _register_allure(config, results, clean=clean)
    if not is_worker(config) and _junit_default_applies(config):
        path = reports / "junit.xml"
        config.option.xmlpath = str(path)
        pending = config.stash.get(PENDING_JUNIT_KEY, None)
        if pending is not None:
            del config.stash[PENDING_JUNIT_KEY]
            config.stash[xml_key] = pending  # junitxml's unconfigure unregisters it
        elif not early:
            xml = _logxml(config, path)
            xml.pytest_sessionstart()
            config.pluginmanager.register(xml, "swarmcheck-junitxml")
            config.stash[xml_key] = xml


def settle_reports(config: pytest.Config) -> None:
    """The run is over and swarmcheck was never switched on: the JUnit writer kept aside
    leaves without writing a file."""
    pending = config.stash.get(PENDING_JUNIT_KEY, None)
    if pending is not None:
        del config.stash[PENDING_JUNIT_KEY]
        config.pluginmanager.unregister(pending)


def _register_allure(config: pytest.Config, results: Path, *, clean: bool) -> None:
    """What allure-pytest's own pytest_configure does when --alluredir is given."""
    from allure_commons.logger import AllureFileLogger
    from allure_pytest.listener import AllureListener

    listener = AllureListener(config)
    config.pluginmanager.register(listener, "allure_listener")
    allure_commons.plugin_manager.register(listener)
    file_logger = AllureFileLogger(str(results.absolute()), clean)  # type: ignore[no-untyped-call]
    allure_commons.plugin_manager.register(file_logger)

    def cleanup() -> None:
        for plugin in (listener, file_logger):
            name = allure_commons.plugin_manager.get_name(plugin)
            if name is not None:
                allure_commons.plugin_manager.unregister(name=name)

    config.add_cleanup(cleanup)


def _remove_older_than(folder: Path, started: float) -> None:
    """--clean-alluredir after workers began writing: drop only what earlier runs left."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        try:
            if entry.lstat().st_mtime >= started:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        except OSError:
            continue


# -- outcomes ----------------------------------------------------------------------------


def status_and_reason(report: pytest.TestReport) -> tuple[Status, str | None]:
    """A report's status for the summary and the matrix, and why it did not pass. An expected
    failure (xfail) counts as skipped, with the reason its marker gives."""
    if report.passed:
        return "passed", None
    if report.skipped:
        if hasattr(report, "wasxfail"):
            return "skipped", f"expected failure (xfail): {report.wasxfail}".rstrip(": ")
        if isinstance(report.longrepr, tuple):
            return "skipped", str(report.longrepr[2]).removeprefix("Skipped: ")
        return "skipped", None
    return ("failed" if report.when == "call" else "error"), failure_reason(report)


def record_outcome(config: pytest.Config, report: pytest.TestReport) -> None:
    """Keep one outcome per check (id, area, status, reason, figures, reruns); learn the
    engine under test from the report."""
    info = getattr(report, REPORT_ATTR, None)
    if not isinstance(info, dict):
        return
    run = config.stash[RUN_KEY]
    for key in ("engine", "node_image"):
        if info.get(key):
            run[key] = str(info[key])
    for engine, version in dict(info.get("engine_versions") or {}).items():
        run[VERSION_PREFIX + str(engine)] = str(version)
    record_kept(config, report.nodeid, info.get("kept"))
    outcomes = config.stash[OUTCOMES_KEY]
    reruns = config.stash[RERUNS_KEY]
    if str(report.outcome) == "rerun":  # pytest-rerunfailures: this attempt failed, another follows
        reruns.setdefault(report.nodeid, []).append(failure_reason(report) or "failed")
        outcomes.pop(report.nodeid, None)
        return
    check = info.get("check")
    if not isinstance(check, dict):
        return
    if report.when != "call" and not (report.failed or report.skipped):
        return
    status, reason = status_and_reason(report)
    previous = outcomes.get(report.nodeid)
    if previous is not None and previous.status in ("failed", "error"):
        return  # a teardown after a failed call does not hide the failure
    outcomes[report.nodeid] = Outcome(
        test_id=str(check["id"]),
        area=str(check["area"]),
        name=str(check["name"]),
        status=status,
        reason=reason,
        figures=figures_of(report.user_properties),
        reruns=len(reruns.get(report.nodeid, ())),
    )


def record_kept(config: pytest.Config, nodeid: str, kept: object) -> None:
    """--swarm-keep-on-failure: the cluster a worker (or this process) kept for a failed
    test, or why it kept none, from the test's teardown report."""
    if isinstance(kept, str):
        config.stash[KEPT_RUNS_KEY][nodeid] = kept
    elif isinstance(kept, dict):
        config.stash[KEPT_RUNS_KEY][nodeid] = KeptCluster.from_dict(kept)


def failure_reason(report: pytest.TestReport) -> str | None:
    """The exception line ("EngineAPIError: ..."), not the traceback's last "file:line"."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        return str(crash.message)
    return report.longreprtext.strip().splitlines()[-1] if report.longreprtext else None


def figures_of(properties: Any) -> dict[str, float | str]:
    """The figures a test recorded with the `swarm_figure` fixture (from its user_properties)."""
    return {
        k[len(FIGURE_PREFIX) :]: v
        for k, v in properties
        if isinstance(k, str) and k.startswith(FIGURE_PREFIX) and isinstance(v, float | int | str)
    }


def write_run_outcomes(config: pytest.Config) -> None:
    """reports/outcomes.json: every check's outcome and figures, and the engines' versions
    (`swarmcheck matrix` puts these side by side)."""
    outcomes = config.stash.get(OUTCOMES_KEY, None)
    if not outcomes:
        return
    settings = config.stash[SETTINGS_KEY]
    write_outcomes(
        side_files_dir(config) / OUTCOMES_FILE,
        engine=settings.cluster.engine,
        label=settings.cluster.label,
        versions=engine_versions(config),
        outcomes=outcomes.values(),
    )


def engine_versions(config: pytest.Config) -> dict[str, str]:
    """The version each engine of this run reported (from the swarm tests' reports)."""
    run = config.stash.get(RUN_KEY, {})
    return {
        k.removeprefix(VERSION_PREFIX): v for k, v in run.items() if k.startswith(VERSION_PREFIX)
    }


def side_files_dir(config: pytest.Config) -> Path:
    """Where outcomes.json and verdict.json go: reports/, or beside the JUnit XML when the
    user put that elsewhere (reports/ stays untouched then)."""
    xml = getattr(config.option, "xmlpath", None)
    return Path(xml).parent if xml else config.stash[SETTINGS_KEY].reports_dir


# -- end of the session ----------------------------------------------------------------------


def write_side_files(config: pytest.Config) -> None:
    """The Allure environment (what was tested, on what), result categories and executor
    (which CI build), and outcomes.json: written once, by the process that reports (the
    xdist controller)."""
    if not is_worker(config):
        write_run_outcomes(config)
    results = getattr(config.option, "allure_report_dir", None)
    if is_worker(config) or not results or not config.stash.get(OUTCOMES_KEY, None):
        return
    settings = config.stash[SETTINGS_KEY]
    run = config.stash[RUN_KEY]
    spec = settings.cluster
    env: dict[str, object] = {
        "swarmcheck": swarmcheck.__version__,
        "engine under test": run.get("engine", "(no swarm started)"),
        "node image": run.get("node_image", "(none)"),
        "kernel": platform.release(),
        "managers": spec.managers,
        "workers": spec.workers,
        "python": platform.python_version(),
    }
    schedule = config.stash.get(SCHEDULE_KEY, None)
    if schedule is not None:
        env["seed"] = schedule.seed
    if settings.quick:
        env["run"] = QUICK_NOTE
    path = Path(results)
    path.mkdir(parents=True, exist_ok=True)
    write_environment(path, env)
    write_categories(path)
    executor = executor_from_env(os.environ)
    write_executor(
        path,
        executor.name,
        executor.build_name,
        executor.report_url,
        build_order=executor.build_order,
        build_url=executor.build_url,
        executor_type=executor.type,
    )


def fold_junit_reruns(config: pytest.Config) -> None:
    """One JUnit testcase per rerun swarm test, with its final outcome (reporting/junit.py)."""
    xmlpath = getattr(config.option, "xmlpath", None)
    reruns = config.stash.get(RERUNS_KEY, {})
    if is_worker(config) or not xmlpath or not reruns:
        return
    prefix = config.option.junitprefix
    attempts = {}
    for nodeid, messages in reruns.items():
        names = mangle_test_address(nodeid)
        classnames = ([prefix] if prefix else []) + names[:-1]
        attempts[(".".join(classnames), names[-1])] = messages
    fold_reruns(Path(xmlpath), attempts)


def print_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The outcomes per area and the figures; then the clusters kept after failed checks:
    how to reach their nodes and how to remove them."""
    config = terminalreporter.config
    outcomes = config.stash.get(OUTCOMES_KEY, {})
    kept = config.stash.get(KEPT_RUNS_KEY, {})
    if not outcomes and not kept:
        return
    results = getattr(config.option, "allure_report_dir", None)
    terminalreporter.section("swarmcheck summary")
    if config.stash[SETTINGS_KEY].quick:
        terminalreporter.write_line(QUICK_NOTE)
    text = ""
    if outcomes:
        text = format_summary(
            list(outcomes.values()), f"{results} (HTML: swarmcheck report)" if results else None
        )
    if kept:
        clusters = [k for k in kept.values() if isinstance(k, KeptCluster)]
        why_not = {test: why for test, why in kept.items() if isinstance(why, str)}
        text += ("\n\n" if text else "") + format_kept(clusters, why_not)
    for line in text.splitlines():
        terminalreporter.write_line(line)
