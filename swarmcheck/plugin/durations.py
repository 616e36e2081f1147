"""How long each check took in the last run that ran it, kept on this machine so the next
run's scheduler can plan units of work that end together (``chunks.plan_units``).

The process that reports (the xdist controller, or a plain session) adds up each swarm
test's setup, call and teardown, and merges them into ``<cache>/durations.json`` at the end
of the session; a check that has never run weighs the median of the others.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from pathlib import Path

import pytest

from swarmcheck.cache import cache_dir, file_lock
from swarmcheck.errors import EnvironmentProblem
from swarmcheck.plugin.keys import REPORT_ATTR
from swarmcheck.plugin.roles import is_worker

FILE = "durations.json"


def durations_file() -> Path | None:
    try:
        return cache_dir() / FILE
    except EnvironmentProblem:
        return None


def read_durations(path: Path | None = None) -> dict[str, float]:
    """nodeid -> seconds ({} when nothing was recorded or the file cannot be read)."""
    path = path or durations_file()
    try:
        data = json.loads(path.read_text()) if path else {}
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): float(v) for k, v in data.items() if isinstance(v, int | float)}


def merge_durations(path: Path, seen: dict[str, float]) -> None:
    """Add this run's durations to the file (the latest run of a check wins)."""
    with file_lock(path.with_suffix(".lock")):
        merged = {**read_durations(path), **{k: round(v, 1) for k, v in seen.items()}}
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(merged, indent=0, sort_keys=True) + "\n")
        partial.replace(path)


class DurationRecorder:
    """Adds up each swarm test's phases as their reports arrive; writes them at the end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.seen: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if getattr(report, REPORT_ATTR, None) is not None and not is_worker(self.config):
            self.seen[report.nodeid] += float(report.duration or 0.0)

    def pytest_sessionfinish(self) -> None:
        if not self.seen or self.config.option.collectonly:
            return  # a plain session leaves no cache folder behind
        path = durations_file()
        if path is not None:
            # a read-only cache costs the next run its plan, not this run its result
            with contextlib.suppress(OSError, EnvironmentProblem):
                merge_durations(path, dict(self.seen))
