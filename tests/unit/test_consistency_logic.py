"""The pure parts of the consistency checks: which errors are refusals, stale reads found in a
history, a history without some reads, the spread over a fault, the Raft-port partition's rules
and where a recorded client's operations went."""

from __future__ import annotations

from dataclasses import replace

import pytest

from swarmcheck.checkers.history import HistoryRecorder
from swarmcheck.checkers.spread import acknowledged_by_phase, check_spread
from swarmcheck.checkers.stale_reads import stale_read_failure, stale_reads, without_reads
from swarmcheck.errors import (
    CheckerError,
    EngineAPIError,
    EngineUnreachable,
    StaleReadOnDeposedLeader,
)
from swarmcheck.faults.raft_port import port_drop_rules
from swarmcheck.workload.control_objects import RegisterState
from swarmcheck.workload.outcomes import NO_SUCH_SERVICE, failure_of, is_already_exists
from swarmcheck.workload.recording import RegisterModel, SetModel, node_of
from tests.histories import MS, grow_only_set, register

# --- outcomes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (
            EngineAPIError("x", 500, "rpc error: code = Unknown desc = update out of sequence"),
            "fail",
        ),
        (EngineAPIError("x", 503, "This node is not a swarm manager. Worker nodes can't"), "fail"),
        (EngineAPIError("x", 500, "rpc error: more than one redirect to leader"), "fail"),
        (EngineAPIError("x", 500, "The swarm does not have a leader. It's possible"), "info"),
        (
            EngineAPIError("x", 500, "rpc error: code = Unknown desc = node lost leader status"),
            "info",
        ),
        (EngineAPIError("x", 500, "context deadline exceeded"), "info"),
        (EngineAPIError("x", 400, "something the workload did not expect"), "info"),
        (
            EngineUnreachable("engine on m1 did not answer: Read timed out. (read timeout=5)"),
            "info",
        ),
        (EngineUnreachable("engine on m1 did not answer: ('Connection aborted.', ...)"), "info"),
        (EngineUnreachable("engine on m1 did not answer: [Errno 111] Connection refused"), "fail"),
        (EngineUnreachable("did not answer: [Errno 2] No such file or directory"), "fail"),
    ],
)
def test_only_documented_refusals_and_unsent_requests_are_failures(
    error: EngineAPIError, status: str
) -> None:
    assert failure_of(error).status == status


def test_an_unsent_request_says_so() -> None:
    outcome = failure_of(EngineUnreachable("engine did not answer: [Errno 111] Connection refused"))
    assert outcome.error.startswith("not sent: ")


def test_409_already_exists_is_an_applied_create() -> None:
    assert is_already_exists(EngineAPIError("x", 409, "config x already exists"))
    assert not is_already_exists(EngineAPIError("x", 409, "update out of sequence"))
    assert not is_already_exists(EngineAPIError("x", 500, "rpc error: already exists"))


# --- stale reads --------------------------------------------------------------------------------


def test_a_read_older_than_an_acknowledged_cas_is_stale() -> None:
    history = (
        register(10, "init")
        .cas(0, 0, 5, 10, "a")
        .read(1, 6, 8, 10, "init")  # called after the cas returned: stale
        .read(1, 9, 10, 12, "a")
        .build()
    )
    [found] = stale_reads(history)
    assert found.read.index == 1 and found.newer.index == 0
    assert "older than the acknowledged write of 'a'" in str(found)


def test_a_read_overlapping_the_write_is_not_stale() -> None:
    history = register(10, "init").cas(0, 0, 5, 10, "a").read(1, 4, 8, 10, "init").build()
    assert stale_reads(history) == []


def test_a_version_going_down_after_a_read_is_stale() -> None:
    history = register(10, "init").read(0, 0, 1, 14, "a").read(1, 2, 3, 12, "b").build()
    [found] = stale_reads(history)
    assert "lower than version 14" in found.missed


def test_a_list_missing_an_acknowledged_create_or_an_earlier_name_is_stale() -> None:
    history = (
        grow_only_set()
        .create(0, 0, 1, "a")
        .list(1, 2, 3, [])  # lacks a
        .create(0, 4, 5, "b", status="info")
        .list(1, 6, 7, ["a", "b"])
        .list(2, 8, 9, ["a"])  # lacks b, which the list before showed
        .build()
    )
    found = stale_reads(history)
    assert [s.read.index for s in found] == [1, 4]
    assert "whose create was acknowledged" in found[0].missed
    assert "that an earlier list showed" in found[1].missed


def test_without_reads_keeps_every_write_and_notes_why() -> None:
    history = register().read(0, 0, 1, 10, "init").cas(1, 2, 3, 10, "a").read(2, 4, 5, 11, "a")
    rest = without_reads(history.build(), lambda op: op.client in (1, 2), "clients 1 and 2")
    assert [(op.index, op.f) for op in rest.operations] == [(0, "read"), (1, "cas")]
    assert rest.meta["without"] == "clients 1 and 2" and rest.meta["reads_left_out"] == 1


def test_stale_reads_all_on_the_deposed_leader_are_the_expected_failure() -> None:
    history = register().cas(0, 0, 5, 10, "a").read(1, 6, 8, 10, "init").build()
    stale = stale_reads(history)
    failure = stale_read_failure(stale, lambda op: op.client == 1, "m1 (deposed leader)")
    assert isinstance(failure, StaleReadOnDeposedLeader)
    assert "1 stale read(s) on m1 (deposed leader)" in str(failure)


def test_a_stale_read_elsewhere_or_none_at_all_is_another_failure() -> None:
    history = register().cas(0, 0, 5, 10, "a").read(1, 6, 8, 10, "init").build()
    stale = stale_reads(history)
    assert stale_read_failure(stale, lambda op: op.client == 2, "m2") is None
    assert stale_read_failure([], lambda op: True, "m1") is None


# --- spread -------------------------------------------------------------------------------------


def test_the_spread_counts_acknowledged_reads_and_writes_by_phase() -> None:
    history = (
        register()
        .read(0, 0, 1, 10, "init")
        .cas(0, 2, 3, 10, "a")
        .mark(4, "on")
        .read(0, 5, 6, 11, "a")
        .cas(0, 7, 8, 11, "b", status="info")
        .mark(9, "off")
        .read(1, 10, 11, 12, "b")
        .cas(1, 12, 13, 12, "c")
        .build()
    )
    assert acknowledged_by_phase(history, 4 * MS, 9 * MS) == {
        "before": {"reads": 1, "writes": 1},
        "during": {"reads": 1, "writes": 0},
        "after": {"reads": 1, "writes": 1},
    }
    verdict = check_spread(history, "on", "off")
    assert not verdict.ok and verdict.seen == "none acknowledged: writes during"
    assert verdict.figures["during_reads"] == 1


def test_a_history_without_the_marks_is_a_checker_error() -> None:
    with pytest.raises(CheckerError, match="no mark 'on'"):
        check_spread(register().build(), "on", "off")


# --- the Raft-port partition and recorded processes -------------------------------------------


def test_the_raft_port_rules_cut_both_directions_for_each_address_once() -> None:
    rules = port_drop_rules("SC-1", ["10.0.0.11", "10.0.0.241", "10.0.0.11"], 2377)
    assert len(rules) == 8  # 2 addresses x (to, from) x (our port, their port)
    assert ["-A", "SC-1", "-d", "10.0.0.11", "-p", "tcp", "--dport", "2377", "-j", "DROP"] in rules
    assert ["-A", "SC-1", "-s", "10.0.0.241", "-p", "tcp", "--sport", "2377", "-j", "DROP"] in rules


def test_a_process_names_its_node() -> None:
    assert node_of("manager1") == "manager1"
    assert node_of("manager1/probe0") == node_of("manager1/final") == "manager1"


def test_renumbered_operations_stay_valid() -> None:
    history = register().read(0, 0, 1, 10, "init").read(1, 2, 3, 10, "init").build()
    rest = without_reads(history, lambda op: op.index == 0, "the first")
    assert rest.operations == (replace(history.operations[1], index=0),)


# --- the models' clients, against a fake control API -------------------------------------------


class FakeRegister:
    """A register that answers like the swarm: refuses a stale version, or fails as told."""

    def __init__(self, version: int = 7, value: str = "init") -> None:
        self.state = RegisterState(version, value)
        self.next_error: EngineAPIError | None = None

    def _raise(self) -> None:
        error, self.next_error = self.next_error, None
        if error is not None:
            raise error

    def read(self, api: object, node: str) -> RegisterState:
        self._raise()
        return self.state

    def cas(self, api: object, node: str, version: int, value: str) -> None:
        self._raise()
        if version != self.state.version:
            raise EngineAPIError(
                "x", 500, "rpc error: code = Unknown desc = update out of sequence"
            )
        self.state = RegisterState(version + 2, value)  # the engine may bump it more than once


def _register_model() -> tuple[RegisterModel, FakeRegister, HistoryRecorder]:
    fake = FakeRegister()
    recorder = HistoryRecorder("cas-register", initial={"version": 7, "value": "init"})
    return RegisterModel(recorder, "t", fake), fake, recorder  # type: ignore[arg-type]


def test_a_register_client_reads_before_it_writes_with_the_version_it_read() -> None:
    model, _, recorder = _register_model()
    client = recorder.client("m1")
    assert model.step(client, None, "m1", write=True)  # nothing read yet: a read
    assert model.step(client, None, "m1", write=True)  # cas with version 7
    assert model.step(client, None, "m1", write=True)  # after a cas: a read again
    ops = recorder.history().operations
    assert [(op.f, op.status) for op in ops] == [("read", "ok"), ("cas", "ok"), ("read", "ok")]
    assert ops[1].input == {"expect_version": 7, "value": "t.m1.0"}
    assert ops[2].output == {"version": 9, "value": "t.m1.0"}


def test_a_register_client_records_refusals_unknowns_and_a_missing_service() -> None:
    model, fake, recorder = _register_model()
    client = recorder.client("m1/probe0")
    model.read(client, None, "m1")
    fake.state = RegisterState(8, "other")  # someone else wrote meanwhile
    assert not model.step(client, None, "m1", write=True)  # stale version: refused
    model.read(client, None, "m1")
    fake.next_error = EngineUnreachable("engine on m1 did not answer: Read timed out.")
    assert not model.step(client, None, "m1", write=True)
    fake.next_error = EngineAPIError("x", 404, "service t not found")
    assert model.read(client, None, "m1")
    ops = recorder.history().operations
    assert [op.status for op in ops] == ["ok", "fail", "ok", "info", "ok"]
    assert ops[1].input["value"] == "t.m1-probe0.0"  # a process name made fit for a value
    assert ops[4].client != ops[3].client  # after an unknown outcome: a new client id
    assert ops[4].output == {"version": 0, "value": NO_SUCH_SERVICE}


class FakeConfigs:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.next_error: EngineAPIError | None = None

    def create(self, api: object, node: str, name: str) -> None:
        error, self.next_error = self.next_error, None
        if error is not None:
            raise error
        self.names.append(name)

    def list(self, api: object, node: str) -> list[str]:
        return sorted(self.names)


def test_a_set_client_counts_409_as_applied() -> None:
    fake = FakeConfigs()
    recorder = HistoryRecorder("grow-only-set", initial={"names": []})
    model = SetModel(recorder, "t", fake)  # type: ignore[arg-type]
    client = recorder.client("m2")
    model.step(client, None, "m2", write=True)
    fake.next_error = EngineAPIError("x", 409, "config t.m2.1 already exists")
    model.step(client, None, "m2", write=True)
    model.step(client, None, "m2", write=False)
    ops = recorder.history().operations
    assert [(op.f, op.status, op.output) for op in ops] == [
        ("create", "ok", {"existed": False}),
        ("create", "ok", {"existed": True}),
        ("list", "ok", {"names": ["t.m2.0"]}),
    ]
