"""Negative controls of the history checker: the real Go program (Porcupine) on hand-made
histories. Those that break the model must fail, each with an explanation that names its
defect; those that only look odd (unknown outcomes, overlapping operations, a write reported
failed that was applied, versions bumped by the engine) must pass. A checker that never says
"violation" is worth nothing.

Needs Go (or a cached build of the checker); without it every test here skips with the reason
``ensure_history_checker`` gives, found at run time.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from benchmarks.bench_history_check import simulate_register, simulate_set
from swarmcheck.checkers.history import History, Operation
from swarmcheck.checkers.linearizable import LinearizabilityVerdict, check_linearizable
from swarmcheck.cli import main
from swarmcheck.errors import CheckerError, HistoryCheckerUnavailable, SwarmPromiseBroken
from swarmcheck.machine.history_checker import ensure_history_checker
from tests.histories import grow_only_set, register


@pytest.fixture(scope="module")
def checker() -> Path:
    try:
        return ensure_history_checker()
    except HistoryCheckerUnavailable as exc:
        pytest.skip(str(exc))


Judge = Callable[..., LinearizabilityVerdict]


@pytest.fixture
def judge(checker: Path, tmp_path: Path) -> Judge:
    def run(history: History, timeout_s: float = 60.0) -> LinearizabilityVerdict:
        return check_linearizable(history, checker, html=tmp_path / "h.html", timeout_s=timeout_s)

    return run


# --- histories that must fail -----------------------------------------------------------------

ILLEGAL = {
    "lost acknowledged write": (
        register().read(0, 0, 5, 10, "init").cas(0, 6, 9, 10, "a").read(1, 20, 25, 10, "init"),
        ["holds 'a' there while the read returned 'init'", "'init', is the initial value"],
    ),
    "lost write after a failover (newer version, old value)": (
        register().cas(0, 0, 9, 10, "a").read(1, 20, 25, 30, "init"),
        ["holds 'a' there while the read returned 'init'"],
    ),
    "stale read after a newer acknowledged write": (
        register()
        .cas(0, 0, 5, 10, "a")
        .read(0, 6, 8, 12, "a")
        .cas(0, 10, 15, 12, "b")
        .read(1, 20, 25, 12, "a"),
        ["holds 'b' there while the read returned 'a'", "#2 cas(v12 -> 'b') ok"],
    ),
    "two CAS successes on one version (concurrent)": (
        register().cas(0, 0, 10, 10, "a").cas(1, 2, 12, 10, "b"),
        ["two writes cannot both succeed on one version", "expected version 10"],
    ),
    "two CAS successes on one version (in sequence)": (
        register().cas(0, 0, 5, 10, "a").cas(1, 6, 9, 10, "b"),
        ["expected version 10 while the version was already at least 11"],
    ),
    "a version that goes down": (
        register().read(0, 0, 5, 14, "init").read(1, 6, 9, 12, "init"),
        ["returned version 12 while the version was already at least 14", "never go down"],
    ),
    "a read of a value nobody wrote": (
        register().read(0, 0, 5, 10, "ghost"),
        ["the read returned 'ghost'", "written by no client"],
    ),
    "an unknown write seen, then unseen": (
        register()
        .cas(0, 0, 5, 10, "a", status="info")
        .read(1, 10, 15, 12, "a")
        .read(2, 20, 25, 12, "init"),
        ["holds 'a' there while the read returned 'init'"],
    ),
    "set: an acknowledged create missing from a later list": (
        grow_only_set().create(0, 0, 5, "c-1").list(1, 10, 15, []),
        ["the list lacks 'c-1'", "acknowledged before this list was called"],
    ),
    "set: a 409 create (applied) missing from a later list": (
        grow_only_set().create(0, 0, 5, "c-1", existed=True).list(1, 10, 15, []),
        ["the list lacks 'c-1'", "409"],
    ),
    "set: a list that shrinks": (
        grow_only_set()
        .create(0, 0, 30, "c-1", status="info")
        .list(1, 5, 10, ["c-1"])
        .list(2, 12, 15, []),
        ["the list lacks 'c-1'", "already shown by the earlier #1 list"],
    ),
    "set: a list showing a create called after it returned": (
        grow_only_set().list(0, 0, 5, ["c-1"]).create(1, 10, 15, "c-1"),
        ["the list shows 'c-1', not in the set", "called after this list returned"],
    ),
    "set: concurrent lists that see each other's missing names": (
        grow_only_set()
        .create(0, 0, 50, "a")
        .create(1, 0, 50, "b")
        .list(2, 10, 20, ["a"])
        .list(3, 10, 20, ["b"]),
        ["not ordered by inclusion"],
    ),
}


@pytest.mark.parametrize("case", sorted(ILLEGAL))
def test_violations_fail_with_an_explanation(case: str, judge: Judge, tmp_path: Path) -> None:
    builder, phrases = ILLEGAL[case]
    verdict = judge(builder.build())
    assert verdict.result == "illegal", verdict.report()
    for phrase in phrases:
        assert phrase in verdict.explanation, f"{phrase!r} not in:\n{verdict.explanation}"
    assert verdict.blocking is not None
    assert verdict.html == tmp_path / "h.html" and "<html" in verdict.html.read_text().lower()
    with pytest.raises(SwarmPromiseBroken, match="ILLEGAL"):
        verdict.assert_ok()


# --- histories that must pass -----------------------------------------------------------------

LEGAL = {
    "an unknown write that later shows up": register()
    .cas(0, 0, 5, 10, "a", status="info")
    .read(1, 100, 105, 12, "a"),
    "an unknown write that never shows up": register()
    .cas(0, 0, 5, 10, "a", status="info")
    .read(1, 100, 105, 10, "init")
    .read(1, 200, 205, 15, "init"),
    "a read overlapping a write sees the old value": register()
    .cas(0, 0, 10, 10, "a")
    .read(1, 5, 8, 10, "init")
    .read(1, 20, 25, 11, "a"),
    "a read overlapping a write sees the new value": register()
    .cas(0, 0, 10, 10, "a")
    .read(1, 5, 8, 11, "a")
    .read(1, 20, 25, 11, "a"),
    "two overlapping writes, the later-called one first": register()
    .read(2, 0, 1, 10, "init")
    .cas(0, 2, 20, 13, "a")
    .cas(1, 3, 10, 10, "b")
    .read(2, 25, 30, 15, "a"),
    "versions bumped by the engine between writes": register()
    .read(0, 0, 5, 10, "init")
    .read(0, 6, 9, 14, "init")
    .cas(0, 10, 15, 14, "a")
    .read(1, 20, 25, 17, "a"),
    "a stale CAS refused (out of sequence)": register()
    .cas(0, 0, 5, 10, "a")
    .cas(1, 6, 9, 10, "b", status="fail")
    .read(2, 20, 25, 11, "a"),
    "a failed read is not checked": register()
    .cas(0, 0, 5, 10, "a")
    .read(1, 10, 15, 10, "init", status="fail"),
    "set: an unknown create that later shows up": grow_only_set()
    .create(0, 0, 5, "c-1", status="info")
    .list(1, 100, 105, ["c-1"]),
    "set: an unknown create that never shows up": grow_only_set()
    .create(0, 0, 5, "c-1", status="info")
    .list(1, 100, 105, [])
    .list(1, 200, 205, []),
    "set: a list overlapping a create sees it or not": grow_only_set()
    .create(0, 0, 10, "c-1")
    .list(1, 2, 5, [])
    .list(2, 3, 8, ["c-1"])
    .list(1, 20, 25, ["c-1"]),
    "set: a 409 counts as applied": grow_only_set()
    .create(0, 0, 5, "c-1", existed=True)
    .list(1, 10, 15, ["c-1"]),
    "set: a failed create never shows up": grow_only_set("c-0")
    .create(0, 0, 5, "c-1", status="fail", error="not a swarm manager")
    .list(1, 10, 15, ["c-0"]),
}


@pytest.mark.parametrize("case", sorted(LEGAL))
def test_odd_but_legal_histories_pass(case: str, judge: Judge, tmp_path: Path) -> None:
    verdict = judge(LEGAL[case].build())
    assert verdict.result == "ok", verdict.report()
    assert verdict.html is None and not (tmp_path / "h.html").exists()
    verdict.assert_ok()


def test_an_applied_write_reported_out_of_sequence_passes_as_a_false_failure(judge: Judge) -> None:
    """The control API proxy's retry trap: the write was applied, its client heard "update out
    of sequence". Linearizability holds (it is checked as unknown); the verdict names it."""
    history = (
        register()
        .cas(0, 0, 5, 10, "a", status="fail", error="update out of sequence")
        .read(1, 10, 15, 12, "a")
        .build()
    )
    verdict = judge(history)
    assert verdict.result == "ok"
    (found,) = verdict.false_failures
    assert (found.index, found.value, found.seen_by) == (0, "a", 1)
    assert "false failures (1)" in verdict.report()
    assert verdict.figures()["false failures"] == 1


def test_a_false_failure_is_still_held_to_the_model(judge: Judge) -> None:
    """Treating it as unknown does not excuse it: seen, then unseen, is still a violation."""
    history = (
        register()
        .cas(0, 0, 5, 10, "a", status="fail")
        .read(1, 10, 15, 12, "a")
        .read(1, 20, 25, 12, "init")
        .build()
    )
    assert judge(history).result == "illegal"


# --- realistic histories ----------------------------------------------------------------------


@pytest.mark.parametrize("simulate", [simulate_register, simulate_set])
def test_a_simulated_linearizable_history_passes_and_one_changed_read_fails(
    simulate, judge
) -> None:
    """2,000 operations of a simulated control plane (linearizable by construction) pass; the
    same history with one acknowledged read turned stale must fail."""
    history = simulate(2000, 6)
    assert judge(history).result == "ok"
    stale = _with_one_stale_read(history)
    verdict = judge(stale)
    assert verdict.result == "illegal", "a stale read went unnoticed"


def _with_one_stale_read(history: History) -> History:
    """Replace a late acknowledged read's output by an earlier read's that differs."""
    reads = [op for op in history.operations if op.status == "ok" and op.f in ("read", "list")]
    early = reads[len(reads) // 4]
    late = next(
        op
        for op in reversed(reads)
        if op.output != early.output and op.call > (early.returned or 0)
    )
    ops = [replace(op, output=early.output) if op is late else op for op in history.operations]
    return replace(history, operations=tuple(ops))


def test_an_undecided_check_is_never_a_pass(judge: Judge) -> None:
    verdict = judge(simulate_set(2000, 6), timeout_s=1e-9)
    assert verdict.result == "unknown", verdict.report()
    with pytest.raises(CheckerError, match="not a pass"):
        verdict.assert_ok()


# --- the command line -------------------------------------------------------------------------


def test_check_history_command(
    checker: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = (
        ILLEGAL["stale read after a newer acknowledged write"][0]
        .build()
        .save(tmp_path / "bad.json")
    )
    assert main(["check-history", str(bad)]) == 1
    out = capsys.readouterr().out
    assert (
        "ILLEGAL" in out
        and "holds 'b' there" in out
        and f"visualization: {tmp_path / 'bad.html'}" in out
    )
    good = LEGAL["an unknown write that later shows up"].build().save(tmp_path / "good.json")
    assert main(["check-history", str(good)]) == 0
    assert "OK (linearizable)" in capsys.readouterr().out
    (tmp_path / "broken.json").write_text('{"format": "swarmcheck-history/1", "model": "queue"}')
    assert main(["check-history", str(tmp_path / "broken.json")]) == 2
    assert "operations must be a list" in capsys.readouterr().err


# --- the checker against brute force ----------------------------------------------------------


def _brute_force_linearizable(history: History) -> bool:
    """Try every order: each acknowledged operation takes effect inside its interval, each
    unknown write after its call or never; failed and unknown reads observe nothing."""
    spec_reads = {"read", "list"}
    ops = [op for op in history.operations if op.status == "ok" or op.f not in spec_reads]
    ops = [op for op in ops if op.status != "fail"]
    unknown = [op for op in ops if op.status == "info"]
    for applied in itertools.product((True, False), repeat=len(unknown)):
        skipped = {op.index for op, keep in zip(unknown, applied, strict=True) if not keep}
        chosen = [op for op in ops if op.index not in skipped]
        if any(_model_accepts(history, order) for order in _real_time_orders(chosen)):
            return True
    return False


def _real_time_orders(ops: list[Operation]) -> Iterator[list[Operation]]:
    """Every order in which no operation comes after one called after it returned."""
    for order in itertools.permutations(ops):
        if all(
            not (later.status == "ok" and (later.returned or 0) < earlier.call)
            for i, earlier in enumerate(order)
            for later in order[i + 1 :]
        ):
            yield list(order)


def _model_accepts(history: History, order: list[Operation]) -> bool:
    initial = history.initial or {}
    if history.model == "cas-register":
        low, value = initial["version"], initial["value"]
        for op in order:
            if op.f == "read":
                assert op.output is not None
                if op.output["value"] != value or op.output["version"] < low:
                    return False
                low = op.output["version"]
            elif op.input["expect_version"] < low:
                return False
            else:
                low, value = op.input["expect_version"] + 1, op.input["value"]
        return True
    names = set(initial.get("names", []))
    for op in order:
        if op.f == "create":
            names.add(op.input["name"])
        elif op.output is not None and set(op.output["names"]) != names:
            return False
    return True


def _random_history(rng: random.Random, model: str) -> History:
    """Six operations of three clients from the simulated (linearizable) control plane, one in
    five unknown; half of them get one acknowledged read's output replaced at random."""
    simulate = simulate_register if model == "cas-register" else simulate_set
    history = simulate(6, 3, rng.randrange(10**6), 0.2)
    reads = [op for op in history.operations if op.status == "ok" and op.f in ("read", "list")]
    if not reads or rng.random() < 0.5:
        return history
    victim = rng.choice(reads)
    written = [
        str(op.input.get("value", op.input.get("name")))
        for op in history.operations
        if op.f in ("cas", "create") and op.status != "fail"
    ]
    if model == "cas-register":
        output = {"version": rng.randint(10, 16), "value": rng.choice(["init", *written])}
    else:
        output = {"names": [name for name in written if rng.random() < 0.5]}
    ops = [replace(op, output=output) if op is victim else op for op in history.operations]
    return replace(history, operations=tuple(ops))


@pytest.mark.parametrize("model", ["cas-register", "grow-only-set"])
def test_the_checker_agrees_with_brute_force_on_random_histories(model: str, judge: Judge) -> None:
    """300 small random histories per model: the checker (outcome rules, interval narrowing,
    Porcupine) must say exactly what trying every order says. Failed writes stay unobserved
    here (a false failure is judged apart, above)."""
    rng = random.Random(21)
    verdicts = Counter[bool]()
    for _ in range(300):
        history = _random_history(rng, model)
        expected = _brute_force_linearizable(history)
        verdict = judge(history)
        assert verdict.ok == expected, (history.to_json(), verdict.report())
        verdicts[expected] += 1
    assert verdicts[True] >= 30 and verdicts[False] >= 30, verdicts  # both kinds were tried
