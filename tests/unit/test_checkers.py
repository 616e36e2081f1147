"""Checkers: each passes on healthy samples and fails with what was seen when broken."""

from __future__ import annotations

import pytest

from swarmcheck.checkers import (
    Inventory,
    LeaderSample,
    Probe,
    ReplicaSample,
    Verdict,
    check_availability,
    check_converged,
    check_nothing_lost,
    check_single_leader,
)
from swarmcheck.errors import CheckerError, SwarmPromiseBroken


def test_verdict_assert_ok() -> None:
    Verdict("x", True, "fine", {}).assert_ok()
    with pytest.raises(SwarmPromiseBroken) as err:
        Verdict("x", False, "bad", {}, expected="a", seen="b").assert_ok()
    assert str(err.value) == "x: bad\nexpected: a\nseen:     b"


# --- leaders -------------------------------------------------------------------------------


def test_stale_follower_during_election_is_fine() -> None:
    samples = [
        LeaderSample(0.0, "m1", "m1"), LeaderSample(0.1, "m2", "m1"), LeaderSample(0.2, "m3", "m1"),
        # m1 paused; m2 won the election, m3 still names the old leader for a moment
        LeaderSample(5.0, "m2", "m2"), LeaderSample(5.1, "m3", "m1"),
        LeaderSample(6.0, "m2", "m2"), LeaderSample(6.1, "m3", "m2"),
    ]  # fmt: skip
    v = check_single_leader(samples)
    assert v.ok and v.figures["rounds"] == 3 and v.figures["disagreeing_rounds"] == 1
    v.assert_ok()


def test_two_leaders_at_once_fails() -> None:
    samples = [
        LeaderSample(3.0, "m1", "m1"),
        LeaderSample(3.2, "m2", "m1", self_claims=True),
        LeaderSample(3.3, "m3", "m1"),
    ]
    v = check_single_leader(samples)
    assert not v.ok and v.figures["split_brain_rounds"] == 1
    with pytest.raises(SwarmPromiseBroken, match=r"m1 and m2 both claimed leadership"):
        v.assert_ok()
    assert "m2 at t=3.2s" in (v.seen or "")


def test_leader_handover_across_rounds_is_fine() -> None:
    # the same observer twice closes a round, so a quick handover is not two leaders
    v = check_single_leader([LeaderSample(0.0, "m1", "m1"), LeaderSample(0.5, "m1", "m2"),
                             LeaderSample(0.6, "m2", "m2")])  # fmt: skip
    assert v.ok and v.figures["rounds"] == 2


def test_leaders_no_samples() -> None:
    with pytest.raises(CheckerError):
        check_single_leader([])


# --- convergence ---------------------------------------------------------------------------


def replicas(*points: tuple[float, int]) -> list[ReplicaSample]:
    return [ReplicaSample(t, "web", 3, running) for t, running in points]


def test_converges_and_reports_time() -> None:
    samples = replicas((10.0, 1), (12.5, 3), (13.0, 2), (15.0, 3), (20.0, 3))
    v = check_converged(samples, healed_at=12.0, deadline_s=5.0)
    assert v.ok and v.figures["time_to_converge_s"] == 3.0


def test_deadline_shorter_than_heal_fails() -> None:
    samples = replicas((12.0, 1), (15.0, 2), (17.0, 2), (20.0, 3))
    v = check_converged(samples, healed_at=12.0, deadline_s=5.0)
    assert not v.ok and v.figures["time_to_converge_s"] == "never"
    assert v.summary.startswith(
        "service web did not converge to 3/3 within 5.0s after healing at t=12.0s: "
        "last seen 2/3 at t=17.0s"
    )
    assert "settled only at t=20.0s" in v.summary


def test_dropping_again_fails() -> None:
    v = check_converged(replicas((12.0, 3), (14.0, 2)), healed_at=12.0, deadline_s=5.0)
    assert not v.ok and "still 2/3 at the last sample, t=14.0s" in v.summary


def test_convergence_needs_samples_after_heal() -> None:
    with pytest.raises(CheckerError, match="no sample of service web"):
        check_converged(replicas((1.0, 3)), healed_at=12.0, deadline_s=5.0)


# --- inventory -----------------------------------------------------------------------------


def test_nothing_lost() -> None:
    before = Inventory({"web": "sha256:aaa"}, frozenset({"db-password"}), frozenset({"cfg"}),
                       frozenset({"front"}))  # fmt: skip
    after = Inventory({"web": "sha256:aaa", "new": "x"}, before.secrets, before.configs,
                      before.networks)  # fmt: skip
    assert check_nothing_lost(before, after).ok


def test_lost_secret_and_changed_spec() -> None:
    before = Inventory({"web": "sha256:aaa", "db": "sha256:ddd"}, frozenset({"db-password", "k"}))
    after = Inventory({"web": "sha256:bbb"}, frozenset({"k"}))
    v = check_nothing_lost(before, after)
    assert not v.ok and v.figures["lost"] == 2 and v.figures["changed"] == 1
    assert v.summary == (
        "lost: service db, secret db-password; changed: service web (spec sha256:aaa -> sha256:bbb)"
    )


# --- availability --------------------------------------------------------------------------


def test_availability_histogram_and_pass() -> None:
    probes = [Probe(i * 0.1, True, 2.0, "v1" if i < 6 else "v2") for i in range(10)]
    v = check_availability(probes, max_gap_s=1.0)
    assert v.ok and v.figures["answers"] == "v1=6 v2=4" and v.figures["total"] == 10


def test_gap_of_3s_fails() -> None:
    probes = [Probe(float(t), t not in (2, 3), 1.0, "v1") for t in range(1, 8)]
    v = check_availability(probes, min_success_ratio=0.5, max_gap_s=2.0)
    assert not v.ok and v.figures["failures"] == 2 and v.figures["longest_gap_s"] == 3.0
    with pytest.raises(SwarmPromiseBroken, match=r"gap 3\.0s > 2\.0s"):
        v.assert_ok()
    assert "2 of 7 probes failed" in v.summary and "t=1.0s..4.0s" in v.summary


def test_gap_counts_failing_edges() -> None:
    probes = [Probe(0.0, False, None, None), Probe(1.0, True), Probe(4.0, False, None, None)]
    v = check_availability(probes, min_success_ratio=0.0)
    assert v.figures["longest_gap_s"] == 3.0 and v.ok
    assert (
        check_availability([Probe(0, False), Probe(5, False)], 0.0).figures["longest_gap_s"] == 5.0
    )


def test_zero_probes_is_an_error_not_a_pass() -> None:
    with pytest.raises(CheckerError, match="zero probes"):
        check_availability([])
