"""Nightly controls (no Docker): --swarm-chaos-faults limits the kinds, --swarm-chaos-schedule
replays a night from its schedule JSON, and bad input is a usage error naming the option."""

from __future__ import annotations

import pytest

from swarmcheck.faults.schedule import plan_schedule

SHOW = """
def test_show(swarm_chaos_schedule):
    schedule = swarm_chaos_schedule
    if schedule is None:
        print("SCHEDULE none")
    else:
        kinds = sorted({f.kind for f in schedule.faults})
        print("SCHEDULE", schedule.seed, schedule.duration_s,
              len(schedule.faults), ",".join(kinds))
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_show=SHOW)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", *args)


def test_fault_kinds_limit_the_planned_schedule(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        "--swarm-chaos-duration=5m",
        "--swarm-seed=3",
        "--swarm-chaos-faults=latency,pause_node",
    )
    result.assert_outcomes(passed=1)
    expected = plan_schedule(3, 300, ("latency", "pause_node"))
    kinds = ",".join(sorted({f.kind for f in expected.faults}))
    result.stdout.fnmatch_lines(
        [
            "swarmcheck nightly chaos: 300 s, seed 3, kinds latency,pause_node*",
            f"*SCHEDULE 3 300.0 {len(expected.faults)} {kinds}",
        ]
    )
    assert set(kinds.split(",")) <= {"latency", "pause_node"}


def test_a_schedule_file_replays_the_night(pytester: pytest.Pytester) -> None:
    night = plan_schedule(1234, 120)
    pytester.path.joinpath("night.json").write_text(night.to_json())
    result = run(pytester, "--swarm-chaos-schedule=night.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            f"swarmcheck nightly chaos: replaying a schedule of {len(night.faults)} faults*",
            f"*SCHEDULE 1234 120.0 {len(night.faults)} *",
        ]
    )


def test_without_nightly_options_there_is_no_schedule(pytester: pytest.Pytester) -> None:
    run(pytester).stdout.fnmatch_lines(["*SCHEDULE none"])


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (
            ["--swarm-chaos-faults=latency,earthquake"],
            "--swarm-chaos-faults='latency,earthquake': unknown fault kind(s) earthquake; "
            "choose among latency,",
        ),
        (["--swarm-chaos-faults=,"], "no kind given"),
        (["--swarm-chaos-schedule=missing.json"], "--swarm-chaos-schedule=missing.json"),
        (["--swarm-chaos-schedule=corrupt.json"], "not a valid chaos schedule"),
        (["--swarm-chaos-schedule=alien.json"], "unknown fault kind(s) 'earthquake'"),
        (
            ["--swarm-chaos-schedule=good.json", "--swarm-seed=5"],
            "replays a night as it was planned: drop --swarm-seed",
        ),
    ],
)
def test_bad_nightly_input_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str], says: str
) -> None:
    pytester.path.joinpath("corrupt.json").write_text('{"seed": 1, "faults": [')
    pytester.path.joinpath("alien.json").write_text(
        '{"seed": 1, "duration_s": 60, "faults": [{"start_s": 10, "duration_s": 5, '
        '"kind": "earthquake", "target": "leader", "params": {}}]}'
    )
    pytester.path.joinpath("good.json").write_text(plan_schedule(1, 60).to_json())
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    assert says in result.stderr.str()
    assert "Traceback" not in result.stderr.str()
