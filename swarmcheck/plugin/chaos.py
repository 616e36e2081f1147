"""Fixtures for tests that hurt the cluster: a fault log that always heals, and report
attachments for the fault timeline and the availability plot."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import allure
import pytest

from swarmcheck.checkers.availability import Probe
from swarmcheck.config import CHAOS_SCHEDULE, SEED, Nightly
from swarmcheck.errors import ConfigError
from swarmcheck.faults.base import FaultLog
from swarmcheck.faults.schedule import FAULT_KINDS, Schedule, plan_schedule
from swarmcheck.plugin.keys import FAULT_LOG_KEY, SCHEDULE_KEY, SETTINGS_KEY
from swarmcheck.recording import PlotAttacher
from swarmcheck.reporting.plot import render_availability_svg
from swarmcheck.timing import boot_clock


def nightly_schedule(nightly: Nightly) -> Schedule | None:
    """The night to play: the one replayed from its file, else one planned from the seed
    (drawn now when none was given), the duration and the allowed kinds; None outside nightly
    mode. Its seed and duration are the run's from then on (``SCHEDULE_KEY``)."""
    if nightly.replay is not None:
        return _replayed(nightly.replay)
    if nightly.duration_s is None:
        return None
    seed = nightly.seed if nightly.seed is not None else random.randrange(1, 2**31)
    return plan_schedule(seed, nightly.duration_s, nightly.kinds or FAULT_KINDS)


def _replayed(path: Path) -> Schedule:
    source = f"{CHAOS_SCHEDULE.flag}={path}"
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read it ({exc.strerror or exc})") from exc
    try:
        return Schedule.from_json(text)
    except ConfigError as exc:
        raise ConfigError(
            f'{source}: {exc}. Use the "planned schedule (json)" attachment of the '
            "night's nightly-chaos test, saved as it is"
        ) from exc


def pytest_report_header(config: pytest.Config) -> str | None:
    """Nightly mode prints its seed first thing, so a killed night can still be replayed."""
    schedule = config.stash.get(SCHEDULE_KEY, None)
    if schedule is None:
        return None
    nightly = config.stash[SETTINGS_KEY].nightly
    if nightly.replay is not None:
        return (
            f"swarmcheck nightly chaos: replaying a schedule of {len(schedule.faults)} faults "
            f"in {schedule.duration_s:.0f} s (seed {schedule.seed})"
        )
    kinds = f", kinds {','.join(nightly.kinds)}" if nightly.kinds else ""
    return (
        f"swarmcheck nightly chaos: {schedule.duration_s:.0f} s, seed {schedule.seed}"
        f"{kinds} (replay with {SEED.flag} {schedule.seed}, or with the schedule JSON attached "
        f"to the report: {CHAOS_SCHEDULE.flag} FILE)"
    )


@pytest.fixture
def swarm_chaos_schedule(pytestconfig: pytest.Config) -> Schedule | None:
    """The nightly schedule to play: the one given to replay (--swarm-chaos-schedule), else
    one planned from the seed, the duration and the allowed kinds; None outside nightly mode."""
    return pytestconfig.stash.get(SCHEDULE_KEY, None)


def timeline_text(log: FaultLog, t0: float) -> str:
    """One line per fault: when it started (seconds into the test), how long, apply/heal."""
    lines = []
    for w in log.windows():
        end = "still active" if w.ended_at is None else f"{w.ended_at - t0:7.1f}s"
        lines.append(
            f"{w.started_at - t0:7.1f}s -> {end}  {w.kind}({', '.join(w.targets)})"
            f"  {dict(w.params) or ''}  apply {w.apply_s or 0:.2f}s heal {w.heal_s or 0:.2f}s"
            + (f"  ERROR {w.error}" if w.error else "")
        )
    return "\n".join(lines) or "(no faults)"


@pytest.fixture
def swarm_fault_log(request: pytest.FixtureRequest) -> Iterator[FaultLog]:
    """Faults of this test record into this log; whatever is still active is healed after
    the test (pass, fail or Ctrl-C), and the timeline is attached to the report. A cluster
    kept after a failure is healed through it first (FAULT_LOG_KEY)."""
    log = FaultLog()
    request.node.stash[FAULT_LOG_KEY] = log
    t0 = boot_clock()
    try:
        yield log
    finally:
        try:
            log.heal_all()
        finally:
            if len(log):
                allure.attach(timeline_text(log, t0), "fault timeline", allure.attachment_type.TEXT)
                allure.attach(
                    json.dumps([w.to_dict() for w in log.windows()], indent=2),
                    "fault timeline (json)",
                    allure.attachment_type.JSON,
                )


@pytest.fixture
def swarm_attach_availability(swarm_fault_log: FaultLog) -> PlotAttacher:
    """Attach an SVG of probe results and latency over time, fault windows shaded."""

    def attach(probes: Sequence[Probe], title: str) -> None:
        if not probes:
            return
        t0 = min(p.t for p in probes)
        points = [(p.t - t0, p.ok, p.latency_ms) for p in probes]
        windows = [
            (w.started_at - t0, (w.ended_at or probes[-1].t) - t0, w.kind)
            for w in swarm_fault_log.windows()
        ]
        allure.attach(
            render_availability_svg(points, windows, title),
            "availability",
            allure.attachment_type.SVG,
        )

    return attach
