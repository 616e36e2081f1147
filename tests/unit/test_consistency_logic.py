"""The pure parts of the consistency checks: which errors are refusals, stale reads found in a
history, a history without some reads, the spread over a fault, the Raft-port partition's rules
and where a recorded client's operations went."""

from __future__ import annotations

from dataclasses import replace

import pytest

from swarmcheck.checkers.spread import acknowledged_by_phase, check_spread
from swarmcheck.checkers.stale_reads import stale_read_failure, stale_reads, without_reads
from swarmcheck.errors import (
    CheckerError,
    EngineAPIError,
    EngineUnreachable,
    StaleReadOnDeposedLeader,
)
from swarmcheck.faults.raft_port import port_drop_rules
from swarmcheck.workload.outcomes import failure_of, is_already_exists
from swarmcheck.workload.recording import node_of
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
