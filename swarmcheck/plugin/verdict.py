"""The plugin side of ``verdict.json`` (reporting/verdict.py): sort each test's result where
its exception is known, keep every test's final result where reports arrive (the xdist
controller gets its workers' reports), and write the file at the end of the session."""

from __future__ import annotations

import time
from collections.abc import Generator

import pytest

import swarmcheck
from swarmcheck.plugin.activation import active
from swarmcheck.plugin.keys import REPORT_ATTR, RUN_KEY, SCHEDULE_KEY, SETTINGS_KEY
from swarmcheck.plugin.report import STARTED_KEY, engine_versions, side_files_dir
from swarmcheck.plugin.roles import is_worker
from swarmcheck.reporting.verdict import (
    VERDICT_FILE,
    Result,
    classify,
    is_kind,
    verdict_document,
    write_verdict,
)

SORTED_ATTR = "swarmcheck_result"
"""A test report's kind, category and message (plain data: it travels with xdist)."""


def _exconly(call: pytest.CallInfo[None]) -> tuple[str, bool]:
    if call.excinfo is None:
        return "", False
    error = call.excinfo.value
    assertion = isinstance(error, AssertionError | pytest.fail.Exception)
    return call.excinfo.exconly(), assertion


def _sorted(report: pytest.TestReport, message: str, assertion: bool) -> dict[str, object]:
    xfail = getattr(report, "wasxfail", None)
    if not message and report.longrepr is not None:
        message = report.longreprtext  # an XPASS(strict) has no exception
    kind, category = classify(
        outcome=report.outcome,
        when=report.when,
        exception_is_assertion=assertion,
        message=message,
        xfail_reason=xfail if isinstance(xfail, str) else None,
    )
    return {"kind": kind, "category": category, "message": message[:2000]}


class VerdictWriter:
    """Registered for every session; does anything only once swarmcheck is switched on."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.results: dict[str, Result] = {}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        if active(self.config):
            message, assertion = _exconly(call)
            setattr(report, SORTED_ATTR, _sorted(report, message, assertion))
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if is_worker(self.config):
            return
        if str(report.outcome) == "rerun":  # pytest-rerunfailures: the last attempt counts
            self.results.pop(report.nodeid, None)
            return
        data = getattr(report, SORTED_ATTR, None)
        if not isinstance(data, dict):
            data = _sorted(report, "", False)  # a worker's report made before switching on
        if report.when == "setup" and report.passed:
            return
        previous = self.results.get(report.nodeid)
        if report.when == "teardown" and not _breaks(report, previous):
            return
        info = getattr(report, REPORT_ATTR, None)
        check = info.get("check") if isinstance(info, dict) else None
        kind, category = str(data.get("kind")), data.get("category")
        self.results[report.nodeid] = Result(
            nodeid=report.nodeid,
            kind=kind if is_kind(kind) else "framework_error",
            category=category if isinstance(category, str) else None,
            message=str(data.get("message", "")),
            check_id=str(check["id"]) if isinstance(check, dict) else None,
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if is_worker(self.config) or not active(self.config) or self.config.option.collectonly:
            return
        run = self.config.stash.get(RUN_KEY, {})
        document = verdict_document(
            self.results.values(),
            exit_status=int(exitstatus),
            duration_s=time.time() - self.config.stash.get(STARTED_KEY, time.time()),
            engine=run.get("engine"),
            engine_versions=engine_versions(self.config),
            node_image=run.get("node_image"),
            seed=_seed(self.config),
            swarmcheck_version=swarmcheck.__version__,
            quick=self.config.stash[SETTINGS_KEY].quick,
        )
        write_verdict(side_files_dir(self.config) / VERDICT_FILE, document)


def _seed(config: pytest.Config) -> int | None:
    """The seed of the nightly schedule this run played (planned or replayed), if any."""
    schedule = config.stash.get(SCHEDULE_KEY, None)
    return schedule.seed if schedule is not None else None


def _breaks(teardown: pytest.TestReport, previous: Result | None) -> bool:
    """A teardown report counts only when it fails a test that had passed (or was not seen)."""
    return teardown.failed and (previous is None or previous.kind in ("passed", "xpassed"))
