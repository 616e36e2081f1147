"""The history format, the recorder's rules and the outcome rules (pure Python, no Go)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from swarmcheck.checkers.history import (
    CHECKER_INPUT_FORMAT,
    UNSEEN_UNKNOWN_WRITE,
    HistoryRecorder,
    calls_by_phase,
    history_from_json,
    load_history,
    outcome_counts,
    prepare,
    validate,
)
from swarmcheck.errors import CheckerError
from tests.histories import MS, grow_only_set, register


def ticking(step: int = 5) -> Callable[[], int]:
    """A clock that advances ``step`` ns at each reading: every time is distinct."""
    counter = itertools.count(1000, step)
    return lambda: next(counter)


def test_recorder_keeps_call_return_outcome_and_one_clock() -> None:
    recorder = HistoryRecorder(
        "cas-register", initial={"version": 1, "value": "init"}, clock=ticking()
    )
    client = recorder.client("m1")
    with client.op("read") as op:
        op.ok({"version": 1, "value": "init"})
    with client.op("cas", {"expect_version": 1, "value": "a"}) as op:
        op.fail("update out of sequence")
    history = recorder.history()
    first, second = history.operations
    assert (first.status, first.output, first.client) == ("ok", {"version": 1, "value": "init"}, 0)
    assert (second.status, second.error) == ("fail", "update out of sequence")
    assert 0 < first.call < first.returned <= second.call < second.returned
    validate(history)


def test_after_an_unknown_outcome_the_client_goes_on_under_a_new_id() -> None:
    recorder = HistoryRecorder("cas-register", clock=ticking())
    one, two = recorder.client("m1"), recorder.client("m2")
    with one.op("cas", {"expect_version": 1, "value": "a"}) as op:
        op.info("context deadline exceeded")
    with one.op("read") as op:
        op.ok({"version": 2, "value": "a"})
    ids = [op.client for op in recorder.history().operations]
    assert ids[0] == 0 and ids[1] not in (0, two.client_id)
    assert one.process == "m1" and one.client_id == ids[1]


def test_a_client_never_has_two_operations_in_flight() -> None:
    recorder = HistoryRecorder("grow-only-set", clock=ticking())
    client = recorder.client("m1")
    pending = client.begin("create", {"name": "c-1"})
    with pytest.raises(CheckerError, match="one operation at a time per client"):
        client.begin("list")
    pending.ok({"existed": False})
    with pytest.raises(CheckerError, match="already has its outcome"):
        pending.ok()
    with client.op("list") as op:
        op.ok({"names": ["c-1"]})


def test_written_values_must_be_unique_and_operations_known() -> None:
    recorder = HistoryRecorder("cas-register", initial={"version": 1, "value": "init"})
    client = recorder.client("m1")
    with pytest.raises(CheckerError, match="written before"):
        client.begin("cas", {"expect_version": 1, "value": "init"})
    with pytest.raises(CheckerError, match="not an operation of a cas-register"):
        client.begin("create", {"name": "x"})
    with pytest.raises(CheckerError, match="unknown model"):
        HistoryRecorder("queue")


def test_an_exception_in_the_block_records_an_unknown_outcome_and_propagates() -> None:
    recorder = HistoryRecorder("cas-register", clock=ticking())
    client = recorder.client("m1")
    with pytest.raises(TimeoutError), client.op("cas", {"expect_version": 3, "value": "a"}):
        raise TimeoutError("read timed out")
    (op,) = recorder.history().operations
    assert (op.status, op.error) == ("info", "TimeoutError: read timed out")
    with pytest.raises(CheckerError, match="ended without an outcome"), client.op("read"):
        pass
    assert recorder.history().operations[-1].status == "info"


def test_a_snapshot_records_operations_in_flight_as_unknown() -> None:
    recorder = HistoryRecorder("grow-only-set", clock=ticking())
    recorder.mark("fault on")
    recorder.client("m1").begin("create", {"name": "c-1"})
    history = recorder.history()
    (op,) = history.operations
    assert op.status == "info" and "in flight" in (op.error or "")
    assert history.mark_time("fault on") < op.call
    with pytest.raises(CheckerError, match="no mark 'fault off'"):
        history.mark_time("fault off")


def test_a_mark_can_be_set_in_the_past_and_marks_stay_in_time_order() -> None:
    recorder = HistoryRecorder("grow-only-set", clock=lambda: 10_000_000_000)
    recorder.mark("now")
    at = recorder.mark("fault began", ago_s=2.5)
    history = recorder.history()
    assert at == history.mark_time("now") - 2_500_000_000
    assert [m.label for m in history.marks] == ["fault began", "now"]


def test_threads_record_one_valid_history() -> None:
    recorder = HistoryRecorder("grow-only-set")

    def work(process: str) -> None:
        client = recorder.client(process)
        for n in range(200):
            with client.op("create", {"name": f"{process}-{n}"}) as op:
                if n % 17 == 0:
                    op.info("timeout")
                else:
                    op.ok({"existed": False})

    threads = [threading.Thread(target=work, args=(f"m{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = recorder.history()
    assert [op.index for op in history.operations] == list(range(800))
    validate(history)  # no client overlaps itself, none goes on after an info
    assert outcome_counts(history)["create"] == {"ok": 4 * 188, "fail": 0, "info": 4 * 12}


def test_a_history_survives_its_json_form(tmp_path: Path) -> None:
    recorder = HistoryRecorder(
        "cas-register", initial={"version": 1, "value": "init"}, meta={"fault": "pause"}
    )
    client = recorder.client("m1")
    with client.op("read") as op:
        op.ok({"version": 1, "value": "init"})
    recorder.mark("fault on")
    history = recorder.history()
    saved = history.save(tmp_path / "h" / "history.json")
    assert load_history(saved) == history
    assert json.loads(saved.read_text())["format"] == "swarmcheck-history/1"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(format="jepsen"), "expected 'swarmcheck-history/1'"),
        (lambda d: d.update(model="queue"), "unknown model 'queue'"),
        (
            lambda d: d["operations"][0].update(status="maybe"),
            "status must be one of ok, fail, info",
        ),
        (lambda d: d["operations"][0].update({"return": None}), "no return time"),
        (lambda d: d["operations"][0].update({"return": 1}), "returns (1) before its call"),
        (lambda d: d["operations"][0].update(output={"value": "init"}), "a read's output is"),
        (
            lambda d: d["operations"][1]["input"].update(value="init"),
            "already in the initial state",
        ),
        (lambda d: d["operations"][1].update(f="write"), "has cas, read operations"),
        (lambda d: d["operations"][1].update(call=15 * MS), "was called while #0 was in flight"),
        (lambda d: d["operations"][1]["input"].pop("expect_version"), "integer 'expect_version'"),
        (lambda d: d.update(initial={"value": "init"}), "initial is {version: int, value: str}"),
    ],
)
def test_bad_histories_say_what_is_wrong(
    edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = register().read(0, 10, 20, 10, "init").cas(0, 30, 40, 10, "a").build().to_json()
    edit(data)
    with pytest.raises(CheckerError) as caught:
        history_from_json(data)
    assert message in str(caught.value)


def test_one_client_going_on_after_an_info_is_refused() -> None:
    history = register().cas(0, 10, 20, 10, "a", status="info").read(0, 30, 40, 11, "a").build()
    with pytest.raises(CheckerError, match="goes on under a new client id after an info"):
        validate(history)


def test_duplicate_written_values_are_refused() -> None:
    history = grow_only_set().create(0, 1, 2, "c-1").create(1, 1, 2, "c-1").build()
    with pytest.raises(CheckerError, match="'c-1' is written 2 times"):
        validate(history)


def test_outcome_rules_for_the_register() -> None:
    history = (
        register()
        .read(0, 0, 5, 10, "init")
        .read(1, 0, 5, 10, "init", status="fail")
        .read(2, 0, 5, 10, "init", status="info")
        .cas(3, 6, 9, 10, "lost", status="fail")
        .cas(4, 6, 9, 10, "unseen", status="info")
        .cas(5, 6, 9, 10, "applied", status="fail", error="update out of sequence")
        .cas(6, 6, 9, 10, "seen", status="info")
        .read(0, 20, 25, 12, "applied")
        .read(7, 30, 35, 14, "seen")
        .build()
    )
    prepared = prepare(history)
    kept = {op.index: op for op in prepared.operations}
    assert sorted(kept) == [0, 5, 6, 7, 8]
    # seen unknown writes took effect before the first read showing them returned
    assert (kept[6].status, kept[6].returned) == ("info", kept[8].returned)
    assert (kept[5].status, kept[5].returned) == ("info", kept[7].returned)
    assert "reported failed" in (kept[5].note or "")
    dropped = {op.index: why for op, why in prepared.dropped}
    assert sorted(dropped) == [1, 2, 3, 4]
    assert "observed nothing" in dropped[1] and "observed nothing" in dropped[2]
    assert "certainly not applied" in dropped[3]
    assert dropped[4] == UNSEEN_UNKNOWN_WRITE
    (false_failure,) = prepared.false_failures
    assert (false_failure.index, false_failure.value, false_failure.seen_by) == (5, "applied", 7)
    assert "update out of sequence" in str(false_failure)


def test_outcome_rules_for_the_set_and_the_checker_input() -> None:
    history = (
        grow_only_set()
        .mark(0, "fault on")
        .create(0, 1, 2, "c-1", existed=True)
        .create(1, 1, 2, "c-2", status="fail", error="not a swarm manager")
        .list(2, 3, 4, ["c-1"])
        .list(3, 3, 4, [], status="info")
        .build()
    )
    prepared = prepare(history)
    assert [op.index for op in prepared.operations] == [0, 2]
    payload = prepared.checker_input()
    assert payload["format"] == CHECKER_INPUT_FORMAT
    assert payload["operations"][0]["output"] == {"existed": True}
    rows = payload["annotations"]
    assert rows[0] == {
        "client": None,
        "tag": "marks",
        "start": 0,
        "end": 0,
        "description": "fault on",
        "details": "",
    }
    assert [row["client"] for row in rows[1:]] == [1, 3]
    json.dumps(payload)  # the checker reads it as JSON


def test_calls_by_phase_spreads_operations_around_a_fault() -> None:
    history = (
        grow_only_set()
        .create(0, 1, 2, "a")
        .create(0, 5, 6, "b")
        .create(0, 7, 8, "c")
        .create(0, 12, 13, "d")
        .build()
    )
    assert calls_by_phase(history, 5 * MS, 10 * MS) == {"before": 1, "during": 2, "after": 1}
