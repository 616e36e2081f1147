"""The refusal checkers: a write is judged on the engine's answer, and nothing a refused write
asked for may have happened after healing (pure logic, no Docker)."""

from __future__ import annotations

from typing import Any

import pytest

from swarmcheck.checkers.refusals import (
    DEADLINE_TEXT,
    LOST_LEADER_TEXT,
    MINORITY,
    NO_LEADER,
    NO_LEADER_TEXT,
    WatchedState,
    WriteAnswer,
    check_refused,
    check_unchanged,
    of_known_outcome,
    of_unknown_outcome,
    took_effect,
)
from swarmcheck.errors import CheckerError

REFUSED_TEXT = f"rpc error: code = Unknown desc = {NO_LEADER_TEXT}"
OUT_OF_SEQUENCE = "rpc error: code = Unknown desc = update out of sequence"


def answer(
    status: int | None = 500,
    text: str | None = REFUSED_TEXT,
    kind: str = "scale",
    asked: dict[str, object] | None = None,
    answered: bool = True,
) -> WriteAnswer:
    return WriteAnswer(
        kind, f"{kind} web", 1.0, 0.1, status, text, asked or {"replicas": 3}, answered
    )


def spec(replicas: int = 2, image: str = "swarmcheck/workload:v1") -> dict[str, Any]:
    return {
        "Name": "web",
        "Mode": {"Replicated": {"Replicas": replicas}},
        "TaskTemplate": {"ContainerSpec": {"Image": image}},
    }


def state(
    version: int = 30,
    replicas: int = 2,
    image: str = "swarmcheck/workload:v1",
    services: tuple[str, ...] = ("web",),
    **containers: frozenset[str] | None,
) -> WatchedState:
    return WatchedState(
        version,
        spec(replicas, image),
        frozenset(services),
        containers or {"manager1": frozenset({"c1"}), "worker1": frozenset({"c2"})},
    )


@pytest.mark.parametrize(
    ("given", "outcome"),
    [
        (answer(), "refused"),
        (answer(None, None), "accepted"),
        (answer(503, REFUSED_TEXT), "other"),  # the documented text with another status
        (answer(500, OUT_OF_SEQUENCE), "other"),  # a stale version judged by a leader
        (answer(500, f"rpc error: {DEADLINE_TEXT}"), "indeterminate"),
        (answer(500, f"raft: {LOST_LEADER_TEXT}"), "indeterminate"),
        (answer(None, "client gave up", answered=False), "unanswered"),
    ],
)
def test_a_write_is_judged_on_its_answer(given: WriteAnswer, outcome: str) -> None:
    assert given.outcome(NO_LEADER) == outcome


def test_a_partitioned_manager_may_answer_with_its_deadline() -> None:
    assert answer(500, f"rpc error: {DEADLINE_TEXT}").outcome(MINORITY) == "refused"
    assert answer(500, f"raft: {LOST_LEADER_TEXT}").outcome(MINORITY) == "other"


def test_refusals_pass_when_every_kind_is_refused_after_a_deadline() -> None:
    answers = [
        answer(500, DEADLINE_TEXT),
        answer(),
        answer(kind="update", asked={"image": "v2"}),
    ]
    verdict = check_refused(answers, NO_LEADER)

    assert verdict.ok, verdict.summary
    assert verdict.figures["writes.refused"] == 2
    assert verdict.figures["writes.indeterminate"] == 1
    assert "(1 indeterminate before it)" in verdict.summary


def test_an_accepted_write_fails_the_refusal_check() -> None:
    verdict = check_refused([answer(), answer(None, None, kind="update")], NO_LEADER)

    assert not verdict.ok
    assert "accepted: update web" in verdict.summary
    assert "no update write was refused that way" in verdict.summary


def test_a_stale_version_refusal_is_not_the_documented_one() -> None:
    verdict = check_refused([answer(500, OUT_OF_SEQUENCE)], NO_LEADER)

    assert not verdict.ok
    assert "answered otherwise" in verdict.summary and "update out of sequence" in verdict.summary


def test_only_deadlines_and_no_answers_are_no_verdict() -> None:
    verdict = check_refused(
        [answer(500, DEADLINE_TEXT), answer(None, "gave up", answered=False)], NO_LEADER
    )

    assert not verdict.ok
    assert verdict.summary == "no scale write was refused that way by an engine"


def test_no_writes_cannot_be_judged() -> None:
    with pytest.raises(CheckerError):
        check_refused([], NO_LEADER)


def test_outcomes_split_into_known_and_unknown() -> None:
    deadline, refused, gave_up = (
        answer(500, DEADLINE_TEXT),
        answer(),
        answer(None, "x", answered=False),
    )
    answers = [deadline, refused, gave_up]

    assert of_unknown_outcome(answers, NO_LEADER) == [deadline, gave_up]
    assert of_known_outcome(answers, NO_LEADER) == [refused]


def test_what_a_write_asked_for_took_effect_only_if_it_was_not_so_before() -> None:
    assert took_effect({"replicas": 3}, state(), state(version=31, replicas=3))
    assert not took_effect({"replicas": 2}, state(), state())
    assert took_effect({"service": "x"}, state(), state(services=("web", "x")))
    assert not took_effect({"image": "swarmcheck/workload:v2"}, state(), state())


def test_nothing_changed_passes() -> None:
    verdict = check_unchanged(state(), state(), [answer()])

    assert verdict.ok, verdict.summary
    assert "the same task containers on manager1, worker1" in verdict.summary


def test_a_refused_write_that_took_effect_fails() -> None:
    after = state(version=31, replicas=3)
    verdict = check_unchanged(state(), after, refused=[answer()])

    assert not verdict.ok
    assert "a refused write took effect: scale web" in verdict.summary
    assert "version went from 30 to 31" in verdict.summary


def test_a_write_of_unknown_outcome_may_take_effect() -> None:
    deadline = answer(500, DEADLINE_TEXT)
    after = state(version=31, replicas=3, manager1=frozenset({"c1", "c3"}), worker1=None)
    verdict = check_unchanged(state(), after, refused=[], unknown=[deadline])

    assert verdict.ok, verdict.summary
    assert "writes of unknown outcome took effect" in verdict.summary
    assert "not compared (engine down): worker1" in verdict.summary


def test_a_changed_version_alone_fails() -> None:
    verdict = check_unchanged(state(), state(version=31), [answer()])

    assert not verdict.ok and "version went from 30 to 31" in verdict.summary


def test_a_refused_create_that_appears_fails() -> None:
    create = answer(kind="create", asked={"service": "refused-0"})
    verdict = check_unchanged(state(), state(services=("web", "refused-0")), [create])

    assert not verdict.ok
    assert "a refused write took effect: create web" in verdict.summary
    assert "services appeared: refused-0" in verdict.summary


def test_replaced_containers_fail() -> None:
    after = state(manager1=frozenset({"c9"}), worker1=frozenset({"c2"}))
    verdict = check_unchanged(state(), after, [answer()])

    assert not verdict.ok
    assert "manager1 runs c9 instead of c1" in verdict.summary


def test_no_engine_to_compare_cannot_be_judged() -> None:
    with pytest.raises(CheckerError):
        check_unchanged(state(), state(manager1=None, worker1=None), [answer()])
