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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from suites import budgets
from swarmcheck.api import (
    HISTORY_MODELS,
    RECORDING_CALL_TIMEOUT_S,
    EngineAPIError,
    Fault,
    History,
    HistoryCheckerUnavailable,
    LinearizabilityVerdict,
    Operation,
    Pace,
    Recorder,
    RecordingWorkload,
    Settings,
    StaleReadOnDeposedLeader,
    Stopwatch,
    Swarm,
    SwarmNode,
    Verdict,
    assert_all,
    attach,
    attach_file,
    check_linearizable,
    check_spread,
    ensure_history_checker,
    recording_node_of,
    stale_read_failure,
    stale_reads,
    without_reads,
)

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
    """Saves, checks, attaches and reports histories (see the module docstring). Without a
    ``checker`` it builds one when first asked to check (``HistoryCheckerUnavailable`` where
    it cannot: an environment problem, after the histories are saved and attached)."""

    folder: Path
    figure: Recorder
    checker: Path | None = None
    verdicts: dict[str, LinearizabilityVerdict] = field(default_factory=dict)

    def save(self, name: str, history: History) -> Path:
        """Save the history as ``<name>.json`` and attach it."""
        path = history.save(self.folder / f"{name}.json")
        attach_file(path, f"history: {name}", "json")
        return path

    def __call__(self, name: str, history: History, figures: bool = True) -> LinearizabilityVerdict:
        """Judge one history, known as ``name`` in files, attachments and figures."""
        self.save(name, history)
        if self.checker is None:
            self.checker = ensure_history_checker()
        verdict = check_linearizable(history, self.checker, html=self.folder / f"{name}.html")
        report = verdict.report()
        (self.folder / f"{name}.checker.txt").write_text(report + "\n")
        attach(report, f"checker: {name}", "text")
        if verdict.html is not None and verdict.html.exists():
            attach_file(verdict.html, f"visualization: {name}", "html")
        if figures:
            for key, value in verdict.figures().items():
                self.figure(f"{name}_{key.replace(' (s)', '_s').replace(' ', '_')}", value)
        self.verdicts[name] = verdict
        return verdict

    def linearizable_but_deposed(
        self, name: str, history: History, deposed: Sequence[Deposed]
    ) -> tuple[list[Verdict], StaleReadOnDeposedLeader | None]:
        """Judge the model Swarm keeps while leaders may be deposed without knowing it: the
        history without the reads served in the ``deposed`` windows must be linearizable (the
        first verdict). The whole history is checked too: a violation that is exactly stale
        reads among those reads is returned as ``StaleReadOnDeposedLeader``; any other is a
        second verdict. Stale reads are counted (figure ``<name>_stale_reads``)."""
        whole = self(name, history)
        served = ServedBy(frozenset(HISTORY_MODELS[history.model].reads), tuple(deposed))
        where = ", ".join(sorted({w.node for w in deposed})) or "no manager"
        rest = without_reads(
            history, served, f"reads served by {where} while it may have been a deposed leader"
        )
        verdicts = [
            self(f"{name}-without-deposed-reads", rest, figures=False).verdict(
                f"{name} linearizable without the reads {where} served while deposed"
            )
        ]
        stale = stale_reads(history)
        self.figure(f"{name}_stale_reads", len(stale))
        if stale:  # how long the deposed leader answered from its own store
            span = (max(s.read.call for s in stale) - min(s.read.call for s in stale)) / 1e9
            self.figure(f"{name}_stale_reads_span_s", span)
        if whole.ok:
            return verdicts, None
        failure = stale_read_failure(stale, served, f"{where} (deposed leader)")
        if failure is None:
            verdicts.append(whole.verdict(f"{name} linearizable"))
        return verdicts, failure


@dataclass(frozen=True)
class Deposed:
    """Where a manager may have answered as a deposed leader: reads on ``node`` called from
    ``start`` to ``end`` (the history's clock)."""

    node: str
    start: int
    end: int


@dataclass(frozen=True)
class ServedBy:
    """Selects the reads served in any of the ``deposed`` windows."""

    reads: frozenset[str]
    deposed: tuple[Deposed, ...]

    def __call__(self, op: Operation) -> bool:
        if op.f not in self.reads:
            return False
        node = recording_node_of(op.process)
        return any(w.node == node and w.start <= op.call <= w.end for w in self.deposed)


def _folder(settings: Settings, nodeid: str) -> Path:
    name = nodeid.split("::")[-1]
    return settings.reports_dir / "histories" / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@pytest.fixture
def judge_history(
    request: pytest.FixtureRequest, swarm_settings: Settings, swarm_figure: Recorder
) -> HistoryJudge:
    """Judge recorded histories: saved under ``<reports>/histories/<test>/``, checked,
    attached, their counts reported as figures."""
    return HistoryJudge(_folder(swarm_settings, request.node.nodeid), swarm_figure)


class ConsistencyRun:
    """A workload recorded across one fault: ``start``, ``fault(...)``, ``end``, then one of
    the ``assert_*`` judgements."""

    def __init__(self, swarm_cluster: Swarm, judge: HistoryJudge, swarm_figure: Recorder) -> None:
        self.cluster = swarm_cluster
        self.judge = judge
        self.figure = swarm_figure
        self.workload: RecordingWorkload | None = None
        self.histories: dict[str, History] = {}
        self._fault_clock = Stopwatch()

    @property
    def running(self) -> RecordingWorkload:
        assert self.workload is not None, "start() the consistency run first"
        return self.workload

    def start(
        self, fault: str, pace: Pace | None = None, timeout_s: float = RECORDING_CALL_TIMEOUT_S
    ) -> RecordingWorkload:
        """Start the clients (each call given up after ``timeout_s``) and record
        ``BEFORE_S`` on the healthy swarm."""
        versions = sorted(set(self.cluster.engine_versions.values()))
        self.workload = RecordingWorkload(
            self.cluster,
            meta={"fault": fault, "engine": ", ".join(versions)},
            pace=pace,
            timeout_s=timeout_s,
        ).start()
        time.sleep(BEFORE_S)
        return self.workload

    @contextmanager
    def fault(self, *faults: Fault) -> Iterator[None]:
        """Mark "fault on", inject the faults in order, run the block, heal them (in reverse
        order, whatever happens), mark "fault off"."""
        self.running.mark(FAULT_ON)
        self._fault_clock = Stopwatch()
        started: list[Fault] = []
        try:
            for fault in faults:
                started.append(fault.start())
            yield
        finally:
            for fault in reversed(started):
                fault.stop()
        self.running.mark(FAULT_OFF)

    def hold(self, at_least_s: float, what: str, deposed: SwarmNode | None = None) -> None:
        """Inside ``fault``: wait for a leader other than ``deposed`` (when given), then until
        every model has an acknowledged read and write called from then on (the wait is the
        figure ``what``), and until ``at_least_s`` have passed since the fault began."""
        if deposed is not None:
            self.cluster.wait_leader(budgets.ELECTION_S, exclude=deposed.name)
        self.wait_acknowledged(what)
        time.sleep(max(0.0, at_least_s - self._fault_clock()))

    def wait_step_down(self, node: SwarmNode, timeout_s: float) -> float | None:
        """Seconds until ``node`` stops naming itself Leader in its own view (`node ls` on its
        engine fails or names another); None when it still does after ``timeout_s``."""
        clock = Stopwatch()
        while clock() < timeout_s:
            try:
                view = self.cluster.node_list(via=node, timeout_s=2.0)
            except EngineAPIError:
                return clock()
            if not any(info.leader and info.hostname == node.name for info in view):
                return clock()
            time.sleep(0.2)
        return None

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

    def assert_linearizable_but_deposed(self, deposed: SwarmNode) -> list[StaleReadOnDeposedLeader]:
        """The model Swarm keeps when a leader is deposed without knowing it (frozen, or cut
        off from the other managers' Raft port): every write and every read is linearizable
        except the reads ``deposed`` served from "fault on" until the swarm was whole again.

        Each history is also checked whole: a violation that is exactly stale reads on
        ``deposed`` is returned (figure ``<model>_stale_reads``), any other one fails here."""
        found: list[StaleReadOnDeposedLeader] = []
        checks: list[Verdict] = []
        for name, history in self.histories.items():
            window = Deposed(deposed.name, history.mark_time(FAULT_ON), history.mark_time(WHOLE))
            verdicts, failure = self.judge.linearizable_but_deposed(name, history, [window])
            checks.extend(verdicts)
            if failure is not None:
                found.append(failure)
        self._spread()
        assert_all(checks)
        return found


@pytest.fixture
def consistency(
    swarm_cluster: Swarm,
    history_checker: Path,
    judge_history: HistoryJudge,
    swarm_figure: Recorder,
) -> Iterator[ConsistencyRun]:
    """A recorded run across one fault (see ``ConsistencyRun``); its clients stop after the
    test whatever happens. Skips first where the history checker cannot be built."""
    judge_history.checker = history_checker
    run = ConsistencyRun(swarm_cluster, judge_history, swarm_figure)
    try:
        yield run
    finally:
        if run.workload is not None:
            run.workload.stop()
