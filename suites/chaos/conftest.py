"""Fixtures of the consistency checks: the history checker, judging histories, and a recorded
run across one fault.

``consistency`` records histories of the control plane (``workload.recording``) while a check
injects a fault, then judges them: each history is saved under the run's reports folder
(``<reports>/histories/<test>/``), checked with Porcupine (``checkers.linearizable``) and
attached to the Allure result with the checker's report (and Porcupine's visualization on a
violation); the ok, failed and unknown operations of each model are the check's figures.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import allure
import pytest

from suites import budgets
from swarmcheck.checkers.history import MODELS, History, Operation
from swarmcheck.checkers.linearizable import LinearizabilityVerdict, check_linearizable
from swarmcheck.checkers.spread import check_spread
from swarmcheck.checkers.stale_reads import stale_read_failure, stale_reads, without_reads
from swarmcheck.checkers.verdict import assert_all
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.config import Settings
from swarmcheck.errors import HistoryCheckerUnavailable, StaleReadOnDeposedLeader
from swarmcheck.faults.base import Fault
from swarmcheck.machine.history_checker import ensure_history_checker
from swarmcheck.plugin.fixtures import Recorder
from swarmcheck.workload.recording import Pace, RecordingWorkload, node_of

BEFORE_S = 5.0
"""Recording on the healthy swarm before the fault: a few hundred operations."""
AFTER_S = 5.0
"""Recording once the swarm is whole again, before the final write."""
FAULT_ON, FAULT_OFF, WHOLE = "fault on", "fault off", "whole again"
SHORT = {"cas-register": "register", "grow-only-set": "set"}
"""How files, attachments and figures name each model's history."""


@pytest.fixture
def history_checker() -> Path:
    """The history checker's binary; without one (no Go, Go too old, no module proxy) the
    check skips with the reason found now, before it touches the swarm."""
    try:
        return ensure_history_checker()
    except HistoryCheckerUnavailable as exc:
        pytest.skip(str(exc))


@dataclass
class HistoryJudge:
    """Saves, checks, attaches and reports histories (see the module docstring)."""

    checker: Path
    folder: Path
    figure: Recorder
    verdicts: dict[str, LinearizabilityVerdict] = field(default_factory=dict)

    def __call__(self, name: str, history: History, figures: bool = True) -> LinearizabilityVerdict:
        """Judge one history, known as ``name`` in files, attachments and figures."""
        path = history.save(self.folder / f"{name}.json")
        allure.attach.file(str(path), f"history: {name}", allure.attachment_type.JSON)
        verdict = check_linearizable(history, self.checker, html=self.folder / f"{name}.html")
        report = verdict.report()
        (self.folder / f"{name}.checker.txt").write_text(report + "\n")
        allure.attach(report, f"checker: {name}", allure.attachment_type.TEXT)
        if verdict.html is not None and verdict.html.exists():
            allure.attach.file(
                str(verdict.html), f"visualization: {name}", allure.attachment_type.HTML
            )
        if figures:
            for key, value in verdict.figures().items():
                self.figure(f"{name}_{key.replace(' (s)', '_s').replace(' ', '_')}", value)
        self.verdicts[name] = verdict
        return verdict


def _folder(settings: Settings, nodeid: str) -> Path:
    name = nodeid.split("::")[-1]
    return settings.reports_dir / "histories" / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@pytest.fixture
def judge_history(
    request: pytest.FixtureRequest,
    history_checker: Path,
    swarm_settings: Settings,
    figure: Recorder,
) -> HistoryJudge:
    """Judge recorded histories: saved under ``<reports>/histories/<test>/``, checked,
    attached, their counts reported as figures."""
    return HistoryJudge(history_checker, _folder(swarm_settings, request.node.nodeid), figure)


class ConsistencyRun:
    """A workload recorded across one fault: ``start``, ``fault(...)``, ``end``, then one of
    the ``assert_*`` judgements."""

    def __init__(self, cluster: Cluster, judge: HistoryJudge, figure: Recorder) -> None:
        self.cluster = cluster
        self.judge = judge
        self.figure = figure
        self.workload: RecordingWorkload | None = None
        self.histories: dict[str, History] = {}

    @property
    def running(self) -> RecordingWorkload:
        assert self.workload is not None, "start() the consistency run first"
        return self.workload

    def start(self, fault: str, pace: Pace | None = None) -> RecordingWorkload:
        """Start the clients and record ``BEFORE_S`` on the healthy swarm."""
        versions = sorted(set(self.cluster.engine_versions.values()))
        self.workload = RecordingWorkload(
            self.cluster, meta={"fault": fault, "engine": ", ".join(versions)}, pace=pace
        ).start()
        time.sleep(BEFORE_S)
        return self.workload

    @contextmanager
    def fault(self, *faults: Fault) -> Iterator[None]:
        """Mark "fault on", inject the faults in order, run the block, heal them (in reverse
        order, whatever happens), mark "fault off"."""
        self.running.mark(FAULT_ON)
        started: list[Fault] = []
        try:
            for fault in faults:
                started.append(fault.start())
            yield
        finally:
            for fault in reversed(started):
                fault.stop()
        self.running.mark(FAULT_OFF)

    def wait_acknowledged(
        self, what: str, timeout_s: float = budgets.WRITE_AFTER_ELECTION_S
    ) -> None:
        """Until every model has an acknowledged read and write called from now on; the wait
        is the figure ``what``."""
        waited = self.running.wait_acknowledged(
            timeout_s, "acknowledged reads and writes by the managers that keep quorum"
        )
        self.figure(what, waited)

    def end(self, whole_within_s: float = budgets.REJOIN_S) -> dict[str, History]:
        """Wait until the swarm is whole ("whole again"), record ``AFTER_S`` more, write once
        more through the leader (it must be acknowledged) and read on every manager."""
        workload = self.running
        try:
            clock = time.monotonic()
            self.cluster.wait_healthy(whole_within_s)
            self.figure("whole_again_s", time.monotonic() - clock)
            workload.mark(WHOLE)
            time.sleep(AFTER_S)
            workload.finish(self.cluster.leader(), budgets.WRITE_AFTER_ELECTION_S)
        finally:
            workload.stop()
            self.histories = {SHORT[m]: h for m, h in workload.histories().items()}
        return self.histories

    def _spread(self) -> None:
        """Each history has acknowledged reads and writes before, during and after the fault:
        without them the checker's verdict would say nothing about the fault."""
        verdicts = []
        for name, history in self.histories.items():
            verdict = check_spread(history, FAULT_ON, FAULT_OFF)
            for key, value in verdict.figures.items():
                self.figure(f"{name}_{key}", value)
            verdicts.append(verdict)
        assert_all(verdicts)

    def assert_linearizable(self) -> None:
        """The histories spread over the fault and each is linearizable (its model's)."""
        verdicts = {name: self.judge(name, history) for name, history in self.histories.items()}
        self._spread()
        assert_all([v.verdict(f"{name} linearizable") for name, v in verdicts.items()])

    def assert_linearizable_but_deposed(self, deposed: Node) -> list[StaleReadOnDeposedLeader]:
        """The model Swarm keeps when a leader is deposed without knowing it (frozen, or cut
        off from the other managers' Raft port): every write and every read is linearizable
        except the reads ``deposed`` served from "fault on" until the swarm was whole again.

        Each history is also checked whole: a violation that is exactly stale reads on
        ``deposed`` is returned (figure ``<model>_stale_reads``), any other one fails here."""
        found: list[StaleReadOnDeposedLeader] = []
        checks = []
        for name, history in self.histories.items():
            whole = self.judge(name, history)
            excluded = _served_by(history, deposed.name)
            rest = without_reads(
                history,
                excluded,
                f"reads served by {deposed.name} from {FAULT_ON!r} until {WHOLE!r}",
            )
            checks.append(
                self.judge(f"{name}-without-{deposed.name}-reads", rest, figures=False).verdict(
                    f"{name} linearizable without the reads {deposed.name} served"
                )
            )
            stale = stale_reads(history)
            self.figure(f"{name}_stale_reads", len(stale))
            if whole.ok:
                continue
            failure = stale_read_failure(stale, excluded, f"{deposed.name} (deposed leader)")
            if failure is None:
                checks.append(whole.verdict(f"{name} linearizable"))
            else:
                found.append(failure)
        self._spread()
        assert_all(checks)
        return found


def _served_by(history: History, node: str) -> _Served:
    return _Served(
        node,
        frozenset(MODELS[history.model].reads),
        history.mark_time(FAULT_ON),
        history.mark_time(WHOLE),
    )


@dataclass(frozen=True)
class _Served:
    """Selects the reads a node served between two moments."""

    node: str
    reads: frozenset[str]
    start: int
    end: int

    def __call__(self, op: Operation) -> bool:
        return (
            op.f in self.reads
            and node_of(op.process) == self.node
            and self.start <= op.call <= self.end
        )


@pytest.fixture
def consistency(
    cluster: Cluster, judge_history: HistoryJudge, figure: Recorder
) -> Iterator[ConsistencyRun]:
    """A recorded run across one fault (see ``ConsistencyRun``); its clients stop after the
    test whatever happens."""
    run = ConsistencyRun(cluster, judge_history, figure)
    try:
        yield run
    finally:
        if run.workload is not None:
            run.workload.stop()
