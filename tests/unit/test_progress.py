"""Long set-up commands show progress and never outlive their timeout (no Docker)."""

from __future__ import annotations

import logging
import time

import pytest

from swarmcheck.progress import run_with_progress

log = logging.getLogger("swarmcheck.test-progress")


def test_a_long_command_logs_its_time_and_latest_line(caplog: pytest.LogCaptureFixture) -> None:
    script = "echo step one; sleep 0.5; echo step two; sleep 0.7; echo done"
    with caplog.at_level(logging.WARNING, logger=log.name):
        done = run_with_progress(["sh", "-c", script], "building", log, timeout_s=30, every_s=0.3)
    assert done.returncode == 0 and done.tail.splitlines()[-1] == "done"
    lines = [r.getMessage() for r in caplog.records]
    assert lines and all(line.startswith("building: ") and " s so far (" in line for line in lines)
    assert any("(step one)" in line for line in lines), lines
    assert any("(step two)" in line for line in lines), lines


def test_a_command_past_its_timeout_is_killed_with_its_children() -> None:
    started = time.monotonic()
    done = run_with_progress(["sh", "-c", "sleep 30 & wait"], "hung", log, timeout_s=0.5)
    assert done.timed_out and time.monotonic() - started < 10


def test_a_failing_command_keeps_its_output_tail() -> None:
    done = run_with_progress(["sh", "-c", "echo why >&2; exit 3"], "failing", log, timeout_s=10)
    assert (done.returncode, done.tail) == (3, "why")
