"""Run-level reporting: JUnit and Allure defaults, environment and categories, the summary."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

import swarmcheck
from swarmcheck.plugin.keys import (
    CHECK_KEY,
    FIGURE_PREFIX,
    OUTCOMES_KEY,
    POOL_KEY,
    SETTINGS_KEY,
)
from swarmcheck.reporting.allure_files import write_categories, write_environment
from swarmcheck.reporting.summary import Outcome, Status, format_summary


def configure_reports(config: pytest.Config) -> None:
    """Allure results and JUnit XML under reports/ unless the user chose other places."""
    reports = config.stash[SETTINGS_KEY].reports_dir
    if getattr(config.option, "allure_report_dir", "unset") is None:
        config.option.allure_report_dir = str(reports / "allure-results")
    if getattr(config.option, "xmlpath", "unset") is None:
        config.option.xmlpath = str(reports / "junit.xml")
    config.stash[OUTCOMES_KEY] = {}


def record_outcome(item: pytest.Item, report: pytest.TestReport) -> None:
    """Keep one outcome per suite test: its id, area, status, reason and figures."""
    check = item.stash.get(CHECK_KEY, None)
    if check is None:
        return
    outcomes = item.config.stash[OUTCOMES_KEY]
    if report.when != "call" and not (report.failed or report.skipped):
        return
    status: Status = (
        "passed"
        if report.passed
        else "skipped"
        if report.skipped
        else ("failed" if report.when == "call" else "error")
    )
    reason = None
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    elif report.failed:
        reason = failure_reason(report)
    previous = outcomes.get(item.nodeid)
    if previous is not None and previous.status in ("failed", "error"):
        return  # a teardown after a failed call does not hide the failure
    outcomes[item.nodeid] = Outcome(
        test_id=check.id,
        area=check.area,
        name=item.name,
        status=status,
        reason=reason,
        figures=figures_of(item),
    )


def failure_reason(report: pytest.TestReport) -> str | None:
    """The exception line ("EngineAPIError: ..."), not the traceback's last "file:line"."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        return str(crash.message)
    return report.longreprtext.strip().splitlines()[-1] if report.longreprtext else None


def figures_of(item: pytest.Item) -> dict[str, float | str]:
    """The figures a test recorded with the `figure` fixture."""
    return {
        k[len(FIGURE_PREFIX) :]: v
        for k, v in item.user_properties
        if isinstance(k, str) and k.startswith(FIGURE_PREFIX) and isinstance(v, float | int | str)
    }


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The Allure environment (what was tested, on what) and the result categories."""
    config = session.config
    results = getattr(config.option, "allure_report_dir", None)
    if not results or not config.stash.get(OUTCOMES_KEY, None):
        return
    settings = config.stash[SETTINGS_KEY]
    pool = config.stash.get(POOL_KEY, None)
    spec = settings.cluster
    env: dict[str, object] = {
        "swarmcheck": swarmcheck.__version__,
        "engine under test": pool.engine_version if pool else "(no swarm started)",
        "node image": pool.node_image if pool else "(none)",
        "kernel": platform.release(),
        "managers": spec.managers,
        "workers": spec.workers,
        "python": platform.python_version(),
    }
    if settings.seed is not None or settings.chaos_duration_s is not None:
        env["seed"] = settings.seed if settings.seed is not None else "(random)"
    path = Path(results)
    path.mkdir(parents=True, exist_ok=True)
    write_environment(path, env)
    write_categories(path)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    outcomes = terminalreporter.config.stash.get(OUTCOMES_KEY, {})
    if not outcomes:
        return
    results = getattr(terminalreporter.config.option, "allure_report_dir", None)
    terminalreporter.section("swarmcheck summary")
    text = format_summary(
        list(outcomes.values()), f"{results} (HTML: swarmcheck report)" if results else None
    )
    for line in text.splitlines():
        terminalreporter.write_line(line)
