"""verdict.json: each result sorted as the report's Categories tab sorts it, the counts, the
one-word verdict, and a real pytest session (also under pytest-xdist) that writes the file."""

from __future__ import annotations

import json
from typing import Any

import pytest

from swarmcheck.reporting.allure_files import (
    CATEGORY_ENVIRONMENT,
    CATEGORY_FRAMEWORK,
    CATEGORY_NOT_THIS_RUN,
    CATEGORY_PRODUCT,
    CATEGORY_SKIPPED,
    category_of,
)
from swarmcheck.reporting.verdict import Result, classify, verdict_document

IPVS_SKIP = "Skipped: needs ipvs: the kernel has no IPVS"


@pytest.mark.parametrize(
    ("status", "message", "category"),
    [
        ("failed", "swarmcheck.errors.PromiseTimeout: no leader after 45 s", CATEGORY_PRODUCT),
        ("failed", "AssertionError: assert 2 == 3", CATEGORY_PRODUCT),
        ("broken", "swarmcheck.errors.ImageBuildError: mmdebstrap failed", CATEGORY_ENVIRONMENT),
        ("broken", "swarmcheck.errors.ProvisioningError: node1 down", CATEGORY_ENVIRONMENT),
        ("broken", "swarmcheck.errors.DiskFull: no space left on device", CATEGORY_ENVIRONMENT),
        ("skipped", "Skipped: EnvironmentProblem: no engine", CATEGORY_ENVIRONMENT),
        ("broken", "KeyError: 'Spec'", CATEGORY_FRAMEWORK),
        ("broken", "swarmcheck.errors.FaultRecoveryError: heal failed", CATEGORY_FRAMEWORK),
        ("skipped", IPVS_SKIP, CATEGORY_SKIPPED),
        ("skipped", "Skipped: nightly chaos mode is off", CATEGORY_NOT_THIS_RUN),
        ("skipped", "XFAIL engine defect\n\nAssertionError: x", None),
        ("passed", "", None),
    ],
)
def test_each_result_lands_where_the_report_files_it(
    status: str, message: str, category: str | None
) -> None:
    assert category_of(status, message) == category


@pytest.mark.parametrize(
    ("outcome", "assertion", "message", "xfail", "kind"),
    [
        ("passed", False, "", None, "passed"),
        ("failed", True, "swarmcheck.errors.SwarmPromiseBroken: 2 leaders", None,
         "broken_promise"),
        ("failed", False, "swarmcheck.errors.EnvironmentProblem: no engine", None,
         "environment_problem"),
        ("failed", False, "RuntimeError: oops", None, "framework_error"),
        ("skipped", False, IPVS_SKIP, None, "skipped"),
        ("skipped", False, "AssertionError: known defect", "moby#1", "xfailed"),
        ("passed", False, "", "moby#1", "xpassed"),
        ("failed", False, "[XPASS(strict)] moby#1", "moby#1", "xpassed"),
    ],
)  # fmt: skip
def test_classify(
    outcome: str, assertion: bool, message: str, xfail: str | None, kind: str
) -> None:
    got, _ = classify(
        outcome=outcome,
        when="call",
        exception_is_assertion=assertion,
        message=message,
        xfail_reason=xfail,
    )
    assert got == kind


def _document(results: list[Result], exit_status: int = 1) -> dict[str, Any]:
    return verdict_document(
        results,
        exit_status=exit_status,
        duration_s=12.345,
        engine="20.10.24",
        engine_versions={"bookworm": "20.10.24"},
        node_image="swarmcheck/node:bookworm",
        seed=42,
        swarmcheck_version="0.1.0",
    )


def _result(kind: str, category: str | None = None, message: str = "") -> Result:
    return Result(f"t::{kind}{message}", kind, category, message)  # type: ignore[arg-type]


def test_counts_per_kind_skips_by_category_and_reason() -> None:
    doc = _document(
        [
            _result("passed"),
            _result("passed", message="2"),
            _result("skipped", CATEGORY_SKIPPED, IPVS_SKIP),
            _result("skipped", CATEGORY_SKIPPED, IPVS_SKIP + " "),
            _result("skipped", CATEGORY_NOT_THIS_RUN, "Skipped: not this shape"),
            _result("xfailed"),
            _result("environment_problem", CATEGORY_ENVIRONMENT, "EnvironmentProblem: disk"),
        ]
    )
    assert doc["counts"] == {
        "passed": 2,
        "broken_promise": 0,
        "environment_problem": 1,
        "framework_error": 0,
        "skipped": {"platform_lacks_a_feature": 2, "not_part_of_this_run": 1},
        "xfailed": 1,
        "xpassed": 0,
    }
    assert doc["skip_reasons"] == {
        "needs ipvs: the kernel has no IPVS": 2,
        "not this shape": 1,
    }
    assert doc["verdict"] == "environment_problem"
    assert doc["tests"] == 7
    assert doc["not_passed"] == [
        {
            "test": "t::environment_problemEnvironmentProblem: disk",
            "id": None,
            "kind": "environment_problem",
            "category": CATEGORY_ENVIRONMENT,
            "message": "EnvironmentProblem: disk",
        }
    ]
    assert (doc["engine"], doc["seed"], doc["duration_s"]) == ("20.10.24", 42, 12.3)


@pytest.mark.parametrize(
    ("kinds", "exit_status", "verdict"),
    [
        (["passed", "skipped"], 0, "passed"),
        (["passed", "framework_error", "environment_problem", "broken_promise"], 1,
         "broken_promise"),
        (["framework_error", "environment_problem"], 1, "environment_problem"),
        (["passed", "framework_error"], 1, "framework_error"),
        (["passed", "xpassed"], 1, "unexpected_pass"),
        (["passed"], 2, "interrupted"),
        ([], 4, "usage_error"),
        ([], 5, "no_tests"),
    ],
)  # fmt: skip
def test_one_word_for_the_run(kinds: list[str], exit_status: int, verdict: str) -> None:
    results = [_result(kind, message=str(i)) for i, kind in enumerate(kinds)]
    assert _document(results, exit_status)["verdict"] == verdict


SESSION = """
import pytest

from swarmcheck.errors import EnvironmentProblem, SwarmPromiseBroken


def test_passes():
    pass


def test_promise():
    raise SwarmPromiseBroken("the leader did not change", expected="a new leader")


def test_plain_assert():
    assert 1 == 2


def test_environment():
    raise EnvironmentProblem("no engine answers")


def test_framework():
    raise KeyError("Spec")


@pytest.fixture
def broken_teardown():
    yield
    raise RuntimeError("teardown failed")


def test_teardown_breaks_a_pass(broken_teardown):
    pass


def test_needs_feature():
    pytest.skip("needs ipvs: the kernel has no IPVS")


def test_not_this_run():
    pytest.skip("nightly chaos mode is off")


@pytest.mark.xfail(reason="engine defect moby#1", strict=True)
def test_known_defect():
    assert False


@pytest.mark.xfail(reason="fixed defect", strict=False)
def test_fixed_defect():
    pass
"""


@pytest.mark.parametrize("xdist", [False, True], ids=["one-process", "xdist"])
def test_a_session_writes_the_verdict(pytester: pytest.Pytester, xdist: bool) -> None:
    if xdist:
        pytest.importorskip("xdist", reason="pytest-xdist is in the dev extra")
    pytester.makepyfile(test_sorted=SESSION)
    args = ["--swarm=none", "-p", "no:cacheprovider", f"--swarm-reports={pytester.path / 'out'}"]
    if xdist:
        args += ["-n", "2"]
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == 1
    doc = json.loads((pytester.path / "out" / "verdict.json").read_text())
    assert doc["counts"] == {
        "passed": 1,
        "broken_promise": 2,
        "environment_problem": 1,
        "framework_error": 2,
        "skipped": {"platform_lacks_a_feature": 1, "not_part_of_this_run": 1},
        "xfailed": 1,
        "xpassed": 1,
    }, doc
    assert doc["verdict"] == "broken_promise"
    assert doc["exit_status"] == 1
    assert doc["tests"] == 10
    kinds = {entry["test"].split("::")[-1]: entry["kind"] for entry in doc["not_passed"]}
    assert kinds == {
        "test_promise": "broken_promise",
        "test_plain_assert": "broken_promise",
        "test_environment": "environment_problem",
        "test_framework": "framework_error",
        "test_teardown_breaks_a_pass": "framework_error",
    }
    assert doc["duration_s"] >= 0 and doc["swarmcheck"]


def test_a_plain_session_writes_no_verdict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_ok():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 0
    assert not (pytester.path / "reports").exists()
