"""Read the checks out of a suites folder by letting pytest collect it, in-process.

The markers in suites/ are the single source of the catalog: pytest imports the test files,
the plugin validates each marker (the same usage errors as a real run) and this collector
keeps what it parsed. Nothing runs, no swarm starts, no report is written.
"""

from __future__ import annotations

import io
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace
from pathlib import Path

import pytest

from swarmcheck.catalog.model import Check
from swarmcheck.errors import ConfigError
from swarmcheck.plugin.markers import check_of


class _Collector:
    """A pytest plugin object that keeps the checks of the collected items."""

    def __init__(self) -> None:
        self.checks: list[Check] = []
        self.rootpath = Path.cwd()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.rootpath = session.config.rootpath
        seen: set[str] = set()
        for item in session.items:
            check = check_of(item)
            if check is not None and check.id not in seen:  # parametrized: one check
                seen.add(check.id)
                self.checks.append(check)


def _relative(check: Check, root: Path, suites: Path) -> Check:
    """The check's file relative to the suites folder (links in suites/README.md)."""
    path = (root / check.file).resolve()
    try:
        return replace(check, file=path.relative_to(suites).as_posix())
    except ValueError:
        return check


def collect_checks(suites: Path) -> list[Check]:
    """Every check under ``suites``; ConfigError with pytest's own words when collection
    fails (bad marker metadata, a file that does not import)."""
    suites = suites.resolve()
    if not suites.is_dir():
        raise ConfigError(f"no suites folder at {suites}: give --suites DIR")
    collector = _Collector()
    args = [
        "--collect-only",
        "-q",
        "-s",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:allure_pytest",
        "-p",
        "no:junitxml",
        str(suites),
    ]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args[:0] = ["-p", "swarmcheck.plugin"]
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = pytest.main(args, plugins=[collector])
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        text = (err.getvalue() + out.getvalue()).strip()
        raise ConfigError(f"collecting {suites} failed ({code!r}):\n{text}")
    return [_relative(c, collector.rootpath, suites) for c in collector.checks]
