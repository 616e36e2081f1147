"""Seeded chaos schedule: determinism, non-overlap, budget, round-trip and input errors."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from swarmcheck.errors import ConfigError
from swarmcheck.faults.kinds import FAULT_KINDS
from swarmcheck.faults.schedule import Schedule, plan_schedule
from swarmcheck.faults.targets import parse_target


def test_same_seed_same_schedule_different_seed_different() -> None:
    a, b = plan_schedule(7, 600), plan_schedule(7, 600)
    assert a == b and a.to_json() == b.to_json()
    assert plan_schedule(8, 600).to_json() != a.to_json()


# Schedules the planner made before the fault kinds moved into one registry (faults/kinds.py):
# a seed printed in an old night's report must still replay that night, byte for byte.
PINNED_SHA256 = {
    (7, 900): "6fa7e7f7fb03165845e6ba56ebfccb9e457a0a9d6cb154058fbbabec13f3493d",
    (42, 3600): "14152707d56dfd25f7f79a471d45a16824d94a44b41dbebde01538c95b9188c2",
}


@pytest.mark.parametrize(("seed", "duration_s"), sorted(PINNED_SHA256))
def test_a_seed_replays_the_same_schedule_byte_for_byte(seed: int, duration_s: float) -> None:
    text = plan_schedule(seed, duration_s).to_json()
    assert hashlib.sha256(text.encode()).hexdigest() == PINNED_SHA256[(seed, duration_s)]


def test_seed_7_timeline() -> None:
    assert plan_schedule(7, 100).timeline_text().splitlines() == [
        "chaos schedule seed=7: 3 faults in 100s",
        "    15.305s ->   22.776s  partition_isolate follower",
        "    33.962s ->   52.417s  partition_oneway  follower  direction=outbound",
        "    71.965s ->   77.915s  kill_task         task",
    ]


def test_kind_order_does_not_matter() -> None:
    kinds = ["latency", "kill_node", "pause_node"]
    assert plan_schedule(3, 300, kinds) == plan_schedule(3, 300, list(reversed(kinds)))


@pytest.mark.parametrize("seed", range(25))
def test_no_overlap_within_budget(seed: int) -> None:
    s = plan_schedule(seed, 400, min_gap_s=10, max_gap_s=25, min_fault_s=5, max_fault_s=20)
    assert s.faults
    ms = [(round(f.start_s * 1000), round(f.end_s * 1000)) for f in s.faults]
    assert ms[0][0] >= 10_000
    for (_, end), (start, _) in itertools.pairwise(ms):
        assert start - end >= 10_000
    assert ms[-1][1] <= 400_000 - 10_000
    for f in s.faults:
        assert 5 <= f.duration_s <= 20 and f.kind in FAULT_KINDS
        parse_target(f.target)


def test_short_run_still_fits_one_fault() -> None:
    s = plan_schedule(1, 25, max_gap_s=25, max_fault_s=20)
    assert len(s.faults) == 1 and s.faults[0].end_s <= 15


def test_restricted_kinds_targets_and_params() -> None:
    s = plan_schedule(5, 1000, ["latency", "kill_task"], targets={"latency": ["leader"]})
    assert {f.kind for f in s.faults} == {"latency", "kill_task"}
    for f in s.faults:
        if f.kind == "latency":
            assert f.target == "leader"
            assert 0 <= float(f.params["jitter_ms"]) <= float(f.params["latency_ms"]) / 4
        else:
            assert f.target == "task" and f.params == {}


def test_json_round_trip_and_timeline() -> None:
    s = plan_schedule(11, 300)
    back = Schedule.from_json(s.to_json())
    assert back == s and back.to_json() == s.to_json()
    text = s.timeline_text()
    assert text.startswith("chaos schedule seed=11:")
    assert len(text.splitlines()) == len(s.faults) + 1
    assert s.faults[0].kind in text.splitlines()[1]


def test_bad_input() -> None:
    with pytest.raises(ConfigError, match=r"unknown fault kind\(s\) 'nuke'; valid kinds: latency"):
        plan_schedule(1, 300, ["latency", "nuke"])
    with pytest.raises(ConfigError, match="cannot fit one fault"):
        plan_schedule(1, 20)
    with pytest.raises(ConfigError, match="unknown fault target 'boss'"):
        plan_schedule(1, 300, ["latency"], targets={"latency": ["boss"]})
    with pytest.raises(ConfigError, match="not a valid chaos schedule"):
        Schedule.from_json('{"seed": 1}')
    with pytest.raises(ConfigError, match=r"a latency fault takes parameters \['jitter_ms'"):
        Schedule.from_json(
            '{"seed": 1, "duration_s": 60, "faults": [{"start_s": 10, "duration_s": 5, '
            '"kind": "latency", "target": "leader", "params": {"latency_ms": 300}}]}'
        )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"seed": 1, "faults": [', "not JSON (Expecting value at line 1, column 24)"),
        ('{"seed": 1, "faults": []}', "the field 'duration_s' is missing"),
        ('{"seed": "x", "duration_s": 60, "faults": []}', "wrong type or value"),
    ],
)
def test_a_schedule_that_does_not_load_says_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Schedule.from_json(text)
    assert says in str(raised.value)
    assert "Error(" not in str(raised.value)  # no Python repr
