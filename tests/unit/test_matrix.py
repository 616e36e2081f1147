"""The compatibility matrix's pure parts: outcomes files, merging runs, finding differences
between engines, rendering, and the runner's loop with a stand-in for pytest."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from swarmcheck.config import engine_options
from swarmcheck.reporting.matrix import (
    EngineRun,
    Result,
    differences,
    figure_moved,
    normalize_message,
    read_run,
    render_html,
    render_markdown,
    result_key,
    settle,
    unconfirmed,
    write_allure_result,
    write_outcomes,
)
from swarmcheck.reporting.matrix_runner import (
    MatrixResult,
    pytest_command,
    run_matrix,
    slug,
)
from swarmcheck.reporting.summary import Outcome


def run(engine: str, *results: Result, problem: str | None = None) -> EngineRun:
    return EngineRun(engine, f"{engine} (Docker x)", f"{engine}-1.0", results, 0, 60.0, problem)


def passed(key: str, **figures: float | int | str) -> Result:
    return Result(key, key.split("[")[0], "raft", "test_x", "passed", None, figures)


def test_result_keys_keep_the_parameters_of_a_parametrized_check() -> None:
    assert result_key("SC-REL-004", "test_failover[old-to-new]") == "SC-REL-004[old-to-new]"
    assert result_key("SC-MEM-002", "test_join") == "SC-MEM-002"


def test_messages_compare_without_ids_addresses_and_times() -> None:
    one = "task 4f2c1d9e8a7b of web on 10.199.3.12:2377 still running after 12.5 s"
    two = "task 9a8b7c6d5e4f of web on 10.199.9.11:2377 still running after 30s"
    assert normalize_message(one) == normalize_message(two)
    assert normalize_message("This node is not a swarm manager.") != normalize_message(
        "This node is not a swarm manager. Use docker swarm init"
    )


@pytest.mark.parametrize(
    ("name", "values", "moved"),
    [
        ("failover_s", [5.0, 12.0], True),
        ("failover_s", [5.0, 9.9], False),  # under 2x
        ("update_s", [0.02, 0.05], False),  # 2.5x, but under the 1 s noise floor
        ("max_latency_ms", [30, 90], False),  # under the 100 ms floor
        ("max_latency_ms", [90, 400], True),
        ("failures", [0, 1], True),  # from zero
        ("failures", [0, 0], False),
        ("failover_s", [5.0], False),  # one engine only
    ],
)
def test_figure_moved_more_than_twice_beyond_the_noise_floor(
    name: str, values: list[float], moved: bool
) -> None:
    assert figure_moved(name, values) is moved


def test_differences_name_behaviour_message_and_figure_changes() -> None:
    old = run(
        "bookworm",
        passed("SC-RAFT-001", failover_s=12.0),
        Result("SC-MEM-002", "SC-MEM-002", "membership", "t", "failed", "refused: A"),
        Result("SC-NET-001", "SC-NET-001", "networking", "t", "skipped", "needs ipvs"),
        passed("SC-X-001", refusal="no such node", answers="v1=10"),
        passed("SC-Y-001"),
    )
    new = run(
        "trixie",
        passed("SC-RAFT-001", failover_s=30.0),
        Result("SC-MEM-002", "SC-MEM-002", "membership", "t", "failed", "refused: B"),
        Result("SC-NET-001", "SC-NET-001", "networking", "t", "failed", "boom"),
        passed("SC-X-001", refusal="node not found", answers="v1=99"),
    )
    found = {(d.kind, d.key, d.subject): d for d in differences([old, new])}
    assert set(found) == {
        ("figure", "SC-RAFT-001", "failover_s"),
        ("message", "SC-MEM-002", "reason"),
        ("behaviour", "SC-NET-001", "status"),
        ("message", "SC-X-001", "refusal"),  # 'answers' describes the run, not a message
        ("behaviour", "SC-Y-001", "status"),  # not run on trixie
    }
    assert found[("figure", "SC-RAFT-001", "failover_s")].note == "moved 2.5x"
    assert found[("behaviour", "SC-Y-001", "status")].values == {
        "bookworm": "passed",
        "trixie": "not run",
    }


def test_same_results_on_every_engine_are_no_difference() -> None:
    runs = [run(e, passed("SC-RAFT-001", failover_s=12.0)) for e in ("bookworm", "sid")]
    assert differences(runs) == []


def test_a_check_that_needs_an_older_engine_is_compared_only_where_it_applies() -> None:
    def no_older(engine: str) -> Result:
        reason = f"no older engine than the one under test ({engine}) to mix with: give ..."
        return Result("SC-REL-001", "SC-REL-001", "release", "t", "skipped", reason)

    oldest = run("bookworm", no_older("bookworm"))
    trixie = run("trixie", passed("SC-REL-001", rejoins_s=6.0))
    sid = run("sid", Result("SC-REL-001", "SC-REL-001", "release", "t", "failed", "boom"))
    assert differences([oldest, trixie]) == []  # the oldest engine has nothing to mix with
    found = differences([oldest, trixie, sid])
    assert [(d.kind, d.key, dict(d.values)) for d in found] == [
        ("behaviour", "SC-REL-001", {"trixie": "passed", "sid": "failed: boom"})
    ]
    # a skip for another reason is still a difference
    other = run("bookworm", replace(no_older("bookworm"), reason="needs ipvs"))
    assert [d.kind for d in differences([other, trixie])] == ["behaviour"]
    assert "skipped: no older engine" in render_markdown([oldest, trixie], [])


def test_a_run_without_results_is_a_problem_not_a_difference_per_check() -> None:
    runs = [run("bookworm", passed("SC-RAFT-001")), run("sid", problem="crashed")]
    assert differences(runs) == []
    page = render_markdown(runs, [])
    assert "**Runs without results:**" in page
    assert "- sid (Docker x): crashed" in page


def test_outcomes_file_round_trips_and_a_missing_one_is_a_problem(tmp_path: Path) -> None:
    outcomes = [
        Outcome("SC-REL-004", "release", "test_f[old-to-new]", "passed", None, {"f_s": 1.5}),
        Outcome("SC-NET-002", "networking", "test_n", "skipped", "needs ipvs"),
    ]
    path = write_outcomes(
        tmp_path / "r" / "outcomes.json",
        "trixie",
        "trixie (Docker 26.1)",
        {"trixie": "26.1.5", "bookworm": "20.10.24"},
        outcomes,
    )
    loaded = read_run(path, "trixie", returncode=1, duration_s=3.0)
    assert loaded.version == "26.1.5"
    assert loaded.versions == {"trixie": "26.1.5", "bookworm": "20.10.24"}
    assert [r.key for r in loaded.results] == ["SC-REL-004[old-to-new]", "SC-NET-002"]
    assert loaded.results[0].figures == {"f_s": 1.5}
    assert loaded.results[1].reason == "needs ipvs"
    missing = read_run(tmp_path / "none" / "outcomes.json", "sid", returncode=4)
    assert missing.problem is not None and "no results" in missing.problem
    assert missing.results == ()


def test_renderings_show_every_check_and_figure_side_by_side() -> None:
    runs = [
        run("bookworm", passed("SC-RAFT-001", failover_s=12.0)),
        run("trixie", passed("SC-RAFT-001", failover_s=30.0)),
    ]
    diffs = differences(runs)
    markdown = render_markdown(runs, diffs)
    assert "## Differences between engines (1)" in markdown
    assert "| SC-RAFT-001 | failover_s | 12 | 30 | moved 2.5x |" in markdown
    assert "| SC-RAFT-001 | failover_s | **12** | **30** |" in markdown
    assert "| SC-RAFT-001 | raft | passed | passed |" in markdown
    page = render_html(runs, diffs)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert "bookworm (Docker x) (bookworm-1.0)" in page


def test_allure_result_carries_the_matrix(tmp_path: Path) -> None:
    runs = [run("bookworm", passed("SC-RAFT-001"))]
    path = write_allure_result(tmp_path, runs, [], "<html></html>", "# m")
    result = json.loads(path.read_text())
    assert result["status"] == "passed"
    assert result["parameters"] == [{"name": "engines", "value": "bookworm"}]
    sources = [a["source"] for a in result["attachments"]]
    assert all((tmp_path / s).is_file() for s in sources)


def test_engine_options_and_folders() -> None:
    assert engine_options("sid") == ("--swarm-debian-suite=sid",)
    assert engine_options("my/dind:28") == ("--swarm-engine-image=my/dind:28",)
    assert slug("my/dind:28") == "my_dind_28"
    command = pytest_command("sid", Path("/r/sid"), ["suites/conformance"], ["-x"], "py")
    assert command[:4] == ["py", "-m", "pytest", "suites/conformance"]
    assert "--junitxml=/r/sid/junit.xml" in command and command[-1] == "-x"


def test_one_engine_failing_does_not_stop_the_others(tmp_path: Path) -> None:
    asked: list[str] = []

    def fake(
        engine: str, folder: Path, suites: Sequence[str], extra: Sequence[str], echo: object
    ) -> EngineRun:
        asked.append(engine)
        if engine == "trixie":
            return EngineRun(engine, engine, "", problem="crashed", directory=str(folder))
        failed = Result("SC-A-001", "SC-A-001", "raft", "t", "failed", "no")
        return EngineRun(engine, engine, "1", (failed,), 1, 1.0, directory=str(folder))

    result: MatrixResult = run_matrix(
        ["bookworm", "trixie", "sid"], tmp_path, html=False, echo=lambda _: None, runner=fake
    )
    assert asked == ["bookworm", "trixie", "sid"]
    assert result.exit_code == 2
    assert (tmp_path / "matrix.md").is_file() and (tmp_path / "matrix.html").is_file()
    summary = json.loads((tmp_path / "matrix.json").read_text())
    assert [e["engine"] for e in summary["engines"]] == ["bookworm", "trixie", "sid"]
    merged = list((tmp_path / "matrix" / "allure-results").glob("*-result.json"))
    assert len(merged) == 1  # the matrix itself (the fake runs wrote no results)


def test_reruns_settle_on_the_common_status_and_median_figures() -> None:
    first = run("bookworm", passed("SC-UPD-001", update_s=12.0))
    again = (passed("SC-UPD-001", update_s=5.0),)
    failed = (Result("SC-UPD-001", "SC-UPD-001", "updates", "t", "failed", "gap", {}),)
    settled = settle(replace(first, reruns=(again, failed)))
    result = settled.results[0]
    assert result.status == "passed" and result.runs == 3
    assert result.tally == "3 runs: 2 passed, 1 failed"
    assert result.figures["update_s"] == 8.5  # the median of the two samples that have it


def test_a_difference_the_reruns_do_not_confirm_is_listed_apart() -> None:
    old = run("bookworm", passed("SC-UPD-001", update_s=12.0))
    new = run("trixie", passed("SC-UPD-001", update_s=4.7))
    assert [d.subject for d in differences([old, new])] == ["update_s"]
    old = replace(old, reruns=((passed("SC-UPD-001", update_s=5.0),),))
    new = replace(new, reruns=((passed("SC-UPD-001", update_s=5.2),),))
    assert differences([old, new]) == []
    noise = unconfirmed([old, new])
    assert [(d.kind, d.subject) for d in noise] == [("figure", "update_s")]
    assert "Not confirmed by the re-runs (1)" in render_markdown([old, new], [], noise)


def test_confirm_reruns_only_the_checks_that_differed(tmp_path: Path) -> None:
    calls: list[tuple[str, tuple[str, ...]]] = []

    def fake(
        engine: str, folder: Path, suites: Sequence[str], extra: Sequence[str], echo: object
    ) -> EngineRun:
        calls.append((engine, tuple(extra)))
        moved = 30.0 if engine == "trixie" and not extra else 12.0
        results = (passed("SC-RAFT-001", failover_s=moved), passed("SC-MEM-001"))
        return EngineRun(engine, engine, "1", results, 0, 1.0, directory=str(folder))

    result = run_matrix(
        ["bookworm", "trixie"], tmp_path, html=False, confirm=2, echo=lambda _: None, runner=fake
    )
    reruns = [extra for _, extra in calls if extra]
    assert reruns == [("--swarm-select=SC-RAFT-001",)] * 4  # 2 more runs x 2 engines
    assert result.differences == []  # 30 once, 12 twice: the median did not move
    assert "Not confirmed by the re-runs (1)" in result.markdown.read_text()
