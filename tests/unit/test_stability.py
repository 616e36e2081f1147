"""The stability runner's pure parts: the category of a result and the flake table."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.stability import (
    Failure,
    Round,
    category_of,
    failures_in,
    flake_table,
    keep_evidence,
)
from swarmcheck.reporting.allure_files import (
    CATEGORY_ENVIRONMENT,
    CATEGORY_FRAMEWORK,
    CATEGORY_NOT_THIS_RUN,
    CATEGORY_PRODUCT,
    CATEGORY_SKIPPED,
)


def test_categories_follow_the_report() -> None:
    assert category_of("failed", "AssertionError: two leaders") == CATEGORY_PRODUCT
    assert category_of("broken", "swarmcheck.errors.ImageBuildError: no disk") == (
        CATEGORY_ENVIRONMENT
    )
    assert category_of("broken", "KeyError: 'Spec'") == CATEGORY_FRAMEWORK
    assert category_of("skipped", "Skipped: needs ipvs: the kernel has no IPVS") == CATEGORY_SKIPPED
    assert category_of("skipped", "Skipped: nightly chaos mode is off") == CATEGORY_NOT_THIS_RUN


def test_failures_are_read_from_allure_results(tmp_path: Path) -> None:
    for name, status, message in (
        ("a", "passed", ""),
        ("b", "failed", "AssertionError: gap 3.0s > 1.0s\nmore"),
        ("c", "skipped", "Skipped: no IPVS"),
    ):
        (tmp_path / f"{name}-result.json").write_text(
            json.dumps(
                {
                    "fullName": f"suites.x#{name}",
                    "status": status,
                    "statusDetails": {"message": message},
                }
            )
        )
    found = failures_in(tmp_path, 2, "suites")
    assert [(f.test, f.status, f.first_line) for f in found] == [
        ("suites.x#b", "failed", "AssertionError: gap 3.0s > 1.0s"),
        ("suites.x#c", "skipped", "Skipped: no IPVS"),
    ]
    assert found[0].category == CATEGORY_PRODUCT and found[0].round == 2


def test_flake_table_counts_rounds_and_shows_leftovers() -> None:
    fail = Failure(1, "chaos", "suites.chaos#nightly", "failed", CATEGORY_PRODUCT, "gap")
    rounds = [
        Round(1, {"suites": 600.0, "chaos": 300.0}, {"suites": 0, "chaos": 1}, [fail], "none"),
        Round(2, {"suites": 610.0, "chaos": 290.0}, {"suites": 0, "chaos": 0}, [], "1 volumes"),
    ]
    table = flake_table(rounds)
    assert "suites.chaos#nightly" in table and "1/2" in table
    assert f"failed/{CATEGORY_PRODUCT} x1" in table
    assert "1 volumes" in table.splitlines()[-1]


def test_a_clean_run_says_so() -> None:
    table = flake_table([Round(1, {"suites": 1.0}, {"suites": 0}, [], "none")])
    assert "(every test passed in every round)" in table


def test_a_failing_jobs_reports_are_kept_before_the_next_job(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "allure-results").mkdir(parents=True)
    (reports / "allure-results" / "b-result.json").write_text("{}")
    (reports / "junit.xml").write_text("<testsuites/>")
    dest = reports / "stability" / "round2-suites"
    (dest / "stale").mkdir(parents=True)  # from an earlier run: replaced, not merged
    kept = keep_evidence(reports, dest)
    assert kept == dest and not (dest / "stale").exists()
    assert (dest / "allure-results" / "b-result.json").read_text() == "{}"
    assert (dest / "junit.xml").is_file() and not (dest / "outcomes.json").exists()
