"""Checkers: each passes on healthy samples and fails with what was seen when broken."""

from __future__ import annotations

import dataclasses

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
    longest_gap,
)
from swarmcheck.checkers.availability import AddressProbe, address_failures, gap_between_successes
from swarmcheck.checkers.containers import ContainerSample, check_kept_running, check_scaled
from swarmcheck.checkers.convergence import engine_disagreements
from swarmcheck.checkers.rolling import (
    Handover,
    UpdateSample,
    check_rolling_update,
    parse_timestamp,
)
from swarmcheck.checkers.verdict import assert_all
from swarmcheck.client.swarm import TaskInfo
from swarmcheck.errors import CheckerError, SwarmPromiseBroken
from swarmcheck.operations.services import _task_summary
from swarmcheck.reporting.plot import availability_figures


def test_verdict_assert_ok() -> None:
    Verdict("x", True, "fine", {}).assert_ok()
    with pytest.raises(SwarmPromiseBroken) as err:
        Verdict("x", False, "bad", {}, expected="a", seen="b").assert_ok()
    assert str(err.value) == "x: bad\nexpected: a\nseen:     b"


# --- leaders -------------------------------------------------------------------------------


def leader_round(t: float, **views: str) -> list[LeaderSample]:
    """One sampling round: observer=leader it names ("" for none, "a+b" for two)."""
    return [
        LeaderSample.of_view(t, o, (x for x in named.split("+") if x), answered=None)
        for o, named in views.items()
    ]


def test_a_view_is_sampled_with_its_leaders_in_order_and_its_own_claim() -> None:
    """Both samplers build their samples from a node list this way."""
    two = LeaderSample.of_view(1.0, "m2", ["m3", "m2"], answered=1.2)
    assert (two.leader, two.leaders, two.claims_leadership) == ("m2", ("m2", "m3"), True)
    assert two.answered == 1.2
    none = LeaderSample.of_view(1.0, "m1", [], answered=None)
    assert (none.leader, none.leaders, none.claims_leadership) == (None, (), False)


def test_one_leader_throughout_passes() -> None:
    samples = leader_round(0.0, m1="m1", m2="m1", m3="m1") + leader_round(1.0, m1="m1", m2="m1")
    v = check_single_leader(samples)
    assert v.ok and v.figures["rounds"] == 2 and v.figures["split_brain_rounds"] == 0
    v.assert_ok()


def test_two_managers_naming_different_leaders_is_a_split() -> None:
    # m3 names the old leader while m2 names itself: not a deposed leader's own view
    samples = leader_round(0.0, m1="m1", m2="m1", m3="m1") + leader_round(5.0, m2="m2", m3="m1")
    v = check_single_leader(samples)
    assert not v.ok and v.figures["split_brain_rounds"] == 1
    with pytest.raises(
        SwarmPromiseBroken, match=r"t=5\.0s: m1 and m2 \(m2 names m2, m3 names m1\)"
    ):
        v.assert_ok()


def test_two_self_claims_without_a_former_leader_is_a_split() -> None:
    v = check_single_leader(leader_round(3.0, m1="m1", m2="m2", m3="m1"))
    assert not v.ok and "m1 and m2" in v.summary


def test_one_view_naming_two_leaders_is_a_split() -> None:
    v = check_single_leader(leader_round(0.0, m1="m1+m2", m2="m1"))
    assert not v.ok and "one view lists two leaders (m1 names m1+m2" in v.summary


def test_deposed_leader_naming_itself_briefly_is_allowed() -> None:
    # m1 frozen, m2 elected; unfrozen, m1 names itself for 1 s until it hears the new term
    samples = (
        leader_round(0.0, m1="m1", m2="m1", m3="m1")
        + leader_round(15.0, m2="m2", m3="m2")
        + leader_round(16.0, m1="m1", m2="m2", m3="m2")
        + leader_round(17.0, m1="m1", m2="m2", m3="m2")
        + leader_round(18.0, m1="m2", m2="m2", m3="m2")
    )
    v = check_single_leader(samples)
    assert v.ok, v.summary
    assert v.figures["deposed_leader_rounds"] == 2 and v.figures["deposed_leader_s"] == 1.0


def test_isolated_leader_overlapping_its_successor_is_allowed_within_an_election_tick() -> None:
    samples = leader_round(0.0, m1="m1", m2="m1", m3="m1")
    samples += [s for t in range(12, 21, 2) for s in leader_round(t, m1="m1", m2="m2", m3="m2")]
    assert check_single_leader(samples).ok  # 8 s of overlap
    late = samples + leader_round(23.0, m1="m1", m2="m2", m3="m2")
    v = check_single_leader(late)  # 11 s: longer than Raft allows
    assert not v.ok and "deposed leader m1 still names itself 11.0s after" in v.summary


def test_deposed_leader_while_a_voter_knows_no_leader_yet_is_allowed() -> None:
    # stability round 5 on ad71d26: m3 just won, m2 voted but has not heard from it yet
    samples = leader_round(0.0, m1="m1", m2="m1", m3="m1")
    samples += leader_round(8.0, m1="m1", m2="", m3="m3")
    samples += leader_round(9.0, m1="m3", m2="m3", m3="m3")
    v = check_single_leader(samples)
    assert v.ok and v.figures["deposed_leader_rounds"] == 1, v.summary


def test_two_self_claims_beside_a_leaderless_view_are_a_split_without_a_former_leader() -> None:
    v = check_single_leader(leader_round(3.0, m1="m1", m2="", m3="m3"))
    assert not v.ok and "m1 and m3" in v.summary


def test_an_answer_from_a_later_moment_is_set_aside() -> None:
    # m1 frozen at 8.0 answers when it thaws 1.8 s later, already naming its successor, while
    # its round-mates still named m1: compared as one moment that would read as a split
    samples = leader_round(0.0, m1="m1", m2="m1", m3="m1")
    samples += [
        LeaderSample(8.0, "m1", "m3", answered=9.8),
        LeaderSample(8.0, "m2", "m1", answered=8.1),
        LeaderSample(8.0, "m3", "m1", answered=8.05),
    ]
    v = check_single_leader(samples)
    assert v.ok and v.figures["late_samples"] == 1, v.summary
    timely = [dataclasses.replace(s, answered=s.t + 0.5) for s in samples]
    assert not check_single_leader(timely).ok  # the same views, all of one moment


def test_only_late_answers_cannot_be_judged() -> None:
    with pytest.raises(CheckerError, match=r"answered more than 1\.0s after"):
        check_single_leader([LeaderSample(0.0, "m1", "m1", answered=2.5)])


def test_deposed_leader_named_by_another_manager_is_a_split() -> None:
    samples = leader_round(0.0, m1="m1", m2="m1", m3="m1")
    samples += leader_round(15.0, m1="m1", m2="m2", m3="m1")
    assert not check_single_leader(samples).ok


def test_sampler_fields_stay_compatible() -> None:
    sample = LeaderSample(3.2, "m2", "m1", self_claims=True)
    assert sample.leaders == ("m1", "m2") and sample.claims_leadership
    assert LeaderSample(0.0, "m1", None).leaders == ()


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


def test_gap_is_measured_between_successes_and_shared_with_the_plot() -> None:
    probes = [Probe(0.0, True), Probe(1.0, False), Probe(2.0, False), Probe(4.0, True)]
    probes += [Probe(5.0, False), Probe(5.5, True)]
    assert longest_gap(probes) == (4.0, 0.0, 4.0)  # last success before to first after
    points = [(p.t, p.ok, 1.0) for p in probes]
    figures = availability_figures(points)
    assert (figures.longest_gap_s, figures.longest_gap_start) == (4.0, 0.0)
    assert check_availability(probes, 0.0).figures["longest_gap_s"] == 4.0
    assert gap_between_successes([]) == (0.0, 0.0, 0.0)


def test_address_failures_per_address() -> None:
    attempts = [AddressProbe(0.0, "a", True, "v1"), AddressProbe(0.0, "b", False)]
    attempts += [AddressProbe(1.0, "b", True, "v2")]
    assert address_failures(attempts) == {"a": (1, 0), "b": (1, 1)}


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


def test_assert_all_names_every_failed_verdict() -> None:
    assert_all([Verdict("a", True, "fine", {})])
    with pytest.raises(SwarmPromiseBroken, match=r"^b: bad; c: worse\nexpected: b: x; c: y"):
        assert_all(
            [Verdict("b", False, "bad", {}, "x", "1"), Verdict("c", False, "worse", {}, "y")]
        )


# --- rolling update ------------------------------------------------------------------------


def update_samples(
    healthy: list[int], meant: list[int] | None = None, running: list[int] | None = None
) -> list[UpdateSample]:
    """Samples every 0.2 s from both sources with the given counts."""
    out = []
    for i, h in enumerate(healthy):
        t = i * 0.2
        m = meant[i] if meant else 3
        out.append(UpdateSample(t, "managers", h, h, meant=m))
        out.append(UpdateSample(t + 0.01, "engines", running[i] if running else h, h))
    return out


def handover(slot: int, old_stopped: float | None, new_running: float | None) -> Handover:
    return Handover(slot, f"old{slot}", old_stopped, f"new{slot}", new_running)


START_FIRST = [handover(1, 13.5, 10.0), handover(2, 18.0, 14.0), handover(3, 22.0, 18.5)]
STOP_FIRST = [handover(1, 10.0, 11.5), handover(2, 14.0, 15.1), handover(3, 18.0, 19.2)]


def test_start_first_update_passes() -> None:
    samples = update_samples(
        [3, 3, 3, 3, 3, 3], meant=[3, 4, 4, 3, 4, 3], running=[3, 4, 5, 5, 4, 3]
    )
    v = check_rolling_update(samples, START_FIRST, replicas=3)
    assert v.ok, v.summary
    assert v.figures["max_running"] == 5 and v.figures["max_meant"] == 4
    assert v.figures["min_handover_overlap_s"] == 3.5


def test_stop_first_update_fails_the_start_first_check() -> None:
    samples = update_samples([3, 2, 2, 2, 3, 2, 2, 3])
    v = check_rolling_update(samples, STOP_FIRST, replicas=3)
    assert not v.ok
    assert "fewer than 3 healthy tasks 4 time(s)" in v.summary, v.summary
    assert "slot 1: the old task stopped 1.50s before its replacement ran (stop-first order)" in (
        v.summary
    )
    assert check_rolling_update(samples, STOP_FIRST, replicas=3, order="stop-first").ok


def test_a_single_low_sample_is_not_a_dip() -> None:
    # one sample reads the engines one after the other: a handover can fall between reads
    assert check_rolling_update(update_samples([3, 3, 2, 3, 3]), START_FIRST, replicas=3).ok


def test_too_many_tasks_meant_to_run_fails() -> None:
    samples = update_samples([3, 3, 3, 3, 3], meant=[3, 5, 5, 4, 3])
    v = check_rolling_update(samples, START_FIRST, replicas=3)
    assert not v.ok and "more than 4 tasks meant to run: 5 per the managers" in v.summary


def test_rolling_check_needs_samples_and_every_slot() -> None:
    with pytest.raises(CheckerError, match="2 samples from the engines"):
        check_rolling_update(update_samples([3, 3]), START_FIRST, replicas=3)
    with pytest.raises(CheckerError, match="2 slot handovers for 3 replicas"):
        check_rolling_update(update_samples([3] * 6), START_FIRST[:2], replicas=3)
    unreplaced = [*START_FIRST[:2], handover(3, None, None)]
    v = check_rolling_update(update_samples([3] * 6), unreplaced, replicas=3)
    assert not v.ok and "slot 3: task old3 was never replaced by a running one" in v.summary


def test_parse_timestamp() -> None:
    assert parse_timestamp("2026-11-25T23:40:01.123456789Z") == pytest.approx(1795650001.123456)
    assert parse_timestamp("2026-11-25T23:40:01Z") == 1795650001.0
    assert parse_timestamp("") is None and parse_timestamp("0001-01-01T00:00:00Z") is None
    with pytest.raises(CheckerError):
        parse_timestamp("yesterday")


# --- engines -------------------------------------------------------------------------------


def task(task_id: str, node: str, container: str | None) -> TaskInfo:
    return TaskInfo(task_id, "web", 1, node, "running", "running", container, "v1", None, "")


def test_engines_agreeing_with_the_managers() -> None:
    tasks = [task("t1", "n1", "c1"), task("t2", "n2", "c2")]
    assert engine_disagreements(tasks, {"n1": frozenset({"c1"}), "n2": frozenset({"c2"})}) == []


def test_engine_disagreements_are_named() -> None:
    tasks = [task("t1", "n1", "c1"), task("t2", "n2", "c2"), task("t3", "n9", "c3")]
    engines = {"n1": frozenset(), "n2": None, "n3": frozenset({"c7"})}
    assert engine_disagreements(tasks, engines) == [
        "task t1 is running per the managers, but its container c1 is not running on node n1",
        "task t2: the engine of node n2 did not answer",
        "task t3 is placed on node n9, not a node of the cluster",
        "node n3 runs 1 container(s) of the service that no running task owns: c7",
    ]


def test_kept_running() -> None:
    before = {"m1": frozenset({"a"}), "w1": frozenset({"b", "c"})}
    same = [ContainerSample(t, n, c) for t in (0.0, 2.0, 4.0) for n, c in before.items()]
    v = check_kept_running(before, same)
    assert v.ok and v.figures["watched_s"] == 4.0
    changed = [*same, ContainerSample(6.0, "w1", frozenset({"b", "d"}))]
    v = check_kept_running(before, changed)
    assert not v.ok and v.summary.endswith("w1 at t=6.0s: stopped c, started d")
    unanswered = [s for s in same if s.node == "m1"] + [ContainerSample(0.0, "w1", None)]
    with pytest.raises(CheckerError, match="w1's engine answered 0 of 1 times"):
        check_kept_running(before, unanswered)


def test_scaled_by_difference() -> None:
    one = {"m1": frozenset({"a"})}
    three = {"m1": frozenset({"a", "b"}), "m2": frozenset({"c"})}
    assert check_scaled(one, three, 3).ok
    assert check_scaled(three, {"m1": frozenset({"b"})}, 1).ok
    v = check_scaled(one, {"m1": frozenset({"x", "y", "z"})}, 3)
    assert not v.ok and "scaling up from 1 stopped a" in v.summary
    v = check_scaled(three, {"m1": frozenset({"b", "x"})}, 2)
    assert not v.ok and "scaling down from 3 started x" in v.summary


def test_convergence_summary_names_the_tasks_beyond_the_count() -> None:
    # A wait that sees more running tasks than replicas says where each one runs.
    extra = [task("t1", "n1", "c1"), task("t2", "n2", "c2")]
    assert _task_summary(extra, [], 1) == (
        "2/1 running (slot 1 task t1 on node n1, slot 1 task t2 on node n2)"
    )
    assert _task_summary(extra[:1], [], 1) == "1/1 running"
