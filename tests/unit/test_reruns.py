"""pytest-rerunfailures with swarmcheck (no Docker): the summary and JUnit show the final
outcome, Allure keeps every attempt (same historyId: shown as retries)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

pytest.importorskip("pytest_rerunfailures", reason="pytest-rerunfailures is in the dev extra")

MARKER = """@pytest.mark.swarmcheck(
    id="{id}",
    area="membership",
    doc="https://docs.docker.com/engine/swarm/",
    title="{title}",
    promise="A check MUST be reported by its final outcome.",
    rows=("mem-join-worker",),
    effects=("writes",),
)"""

TESTS = f"""
from pathlib import Path

import pytest


{MARKER.format(id="SC-TEST-980", title="passes on its second attempt")}
def test_flaky():
    marker = Path("attempted")
    if not marker.exists():
        marker.write_text("1")
        raise AssertionError("first attempt fails")


{MARKER.format(id="SC-TEST-981", title="never passes")}
def test_broken():
    raise AssertionError("every attempt fails")
"""


def test_final_outcome_in_summary_and_junit_attempts_in_allure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_reruns=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--reruns", "2")

    outcomes = result.parseoutcomes()
    assert (outcomes["passed"], outcomes["failed"], outcomes["rerun"]) == (1, 1, 3)
    result.stdout.fnmatch_lines(
        [
            "swarmcheck: 2 tests: 1 passed, 1 failed, 0 skipped",
            "*SC-TEST-981 test_broken: AssertionError: every attempt fails",
            "rerun (final outcome counted above):",
            "  SC-TEST-980 test_flaky: passed after 1 rerun",
            "  SC-TEST-981 test_broken: failed after 2 reruns",
        ]
    )

    suite = ET.parse(pytester.path / "reports" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert len(suite.findall("testcase")) == 2, "one testcase per test, not per attempt"
    flaky, broken = cases["test_flaky"], cases["test_broken"]
    assert flaky.find("failure") is None and len(flaky.findall("flakyFailure")) == 1
    assert broken.find("failure") is not None and len(broken.findall("rerunFailure")) == 2
    assert suite.get("failures") == "1" and suite.get("tests") == "2"

    results = [
        json.loads(p.read_text())
        for p in (pytester.path / "reports" / "allure-results").glob("*-result.json")
    ]
    attempts = Counter((r["historyId"], r["status"]) for r in results)
    by_name = {r["fullName"].split("#")[-1]: r["historyId"] for r in results}
    assert attempts[(by_name["test_flaky"], "failed")] == 1
    assert attempts[(by_name["test_flaky"], "passed")] == 1
    assert attempts[(by_name["test_broken"], "failed")] == 3
