"""``verdict.json``: what a run found, for a script (a release pipeline) rather than a person.

A pipeline must tell "Swarm broke a promise" from "the environment failed" without parsing HTML.
Each test's final result is sorted into the report's categories (``allure_files.category_of``,
the same rules as the Categories tab), counted, and summed up in one word, with the engine,
the seed and the duration beside it. Pure: the plugin feeds it test results and writes it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard, get_args

from swarmcheck.reporting.allure_files import (
    CATEGORY_ENVIRONMENT,
    CATEGORY_FRAMEWORK,
    CATEGORY_NOT_THIS_RUN,
    CATEGORY_PRODUCT,
    CATEGORY_SKIPPED,
    category_of,
)

__all__ = [
    "VERDICT_FILE",
    "Result",
    "ResultKind",
    "classify",
    "is_kind",
    "verdict_document",
    "write_verdict",
]

VERDICT_FILE = "verdict.json"
SCHEMA = 1
"""Bumped when a key changes meaning or goes away (new keys may appear without a bump)."""

ResultKind = Literal[
    "passed",
    "broken_promise",
    "environment_problem",
    "framework_error",
    "skipped",
    "xfailed",
    "xpassed",
]


def is_kind(text: str) -> TypeGuard[ResultKind]:
    """Whether ``text`` names a kind (a report that travelled from an xdist worker)."""
    return text in get_args(ResultKind)


KIND_OF_CATEGORY: Mapping[str, ResultKind] = {
    CATEGORY_PRODUCT: "broken_promise",
    CATEGORY_ENVIRONMENT: "environment_problem",
    CATEGORY_FRAMEWORK: "framework_error",
    CATEGORY_SKIPPED: "skipped",
    CATEGORY_NOT_THIS_RUN: "skipped",
}
SKIP_KEYS: Mapping[str, str] = {
    CATEGORY_SKIPPED: "platform_lacks_a_feature",
    CATEGORY_NOT_THIS_RUN: "not_part_of_this_run",
}
VERDICT_ORDER: tuple[ResultKind, ...] = (
    "broken_promise",
    "environment_problem",
    "framework_error",
)
"""The one word for a run that did not pass: its worst kind, a broken promise first (what a
release pipeline stops on), then the environment (run again elsewhere), then swarmcheck."""
PYTEST_EXIT_WORDS = {2: "interrupted", 3: "internal_error", 4: "usage_error"}
"""pytest exit statuses that end a run before its results mean anything."""


@dataclass(frozen=True)
class Result:
    """One test's final result, sorted."""

    nodeid: str
    kind: ResultKind
    category: str | None
    """The report's category (None for passed, xfailed, xpassed)."""
    message: str = ""
    """The first line of why it did not pass (the skip reason, the exception)."""
    check_id: str | None = None


def classify(
    *,
    outcome: str,
    when: str,
    exception_is_assertion: bool,
    message: str,
    xfail_reason: str | None,
) -> tuple[ResultKind, str | None]:
    """A test's kind and report category from its pytest outcome (passed, failed, skipped),
    the phase, whether the exception is an AssertionError or pytest.fail (Allure's "failed";
    any other exception is "broken"), its message as Allure writes it (``exconly()``, e.g.
    ``Skipped: needs ipvs: ...``) and the xfail reason when the test was marked xfail."""
    if xfail_reason is not None:
        if outcome == "skipped":
            return "xfailed", None
        return "xpassed", None  # passed (non-strict) or failed as XPASS(strict)
    if outcome == "passed":
        return "passed", None
    if outcome == "skipped":
        status = "skipped"
    elif exception_is_assertion:
        status = "failed"
    else:
        status = "broken"
    category = category_of(status, message)
    if category is None:  # cannot happen with swarmcheck's categories; never drop a failure
        return ("skipped" if status == "skipped" else "framework_error"), None
    return KIND_OF_CATEGORY[category], category


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def verdict_document(
    results: Iterable[Result],
    *,
    exit_status: int,
    duration_s: float,
    engine: str | None,
    engine_versions: Mapping[str, str],
    node_image: str | None,
    seed: int | None,
    swarmcheck_version: str,
    quick: bool = False,
) -> dict[str, Any]:
    """The verdict as JSON-ready data: one word, the counts per kind (skips by category and by
    reason), the tests that did not pass, and what was tested on what."""
    results = list(results)
    kinds: Counter[str] = Counter(r.kind for r in results)
    skips = [r for r in results if r.kind == "skipped"]
    return {
        "schema": SCHEMA,
        "verdict": _verdict_word(results, kinds, exit_status),
        "exit_status": exit_status,
        "tests": len(results),
        "counts": _counts(kinds, skips),
        "skip_reasons": dict(
            Counter(_first_line(r.message).removeprefix("Skipped: ") for r in skips).most_common()
        ),
        "not_passed": [
            {
                "test": r.nodeid,
                "id": r.check_id,
                "kind": r.kind,
                "category": r.category,
                "message": _first_line(r.message),
            }
            for r in results
            if r.kind in VERDICT_ORDER
        ],
        "engine": engine or None,
        "engine_versions": dict(engine_versions),
        "node_image": node_image or None,
        "seed": seed,
        "quick": quick,
        "duration_s": round(duration_s, 1),
        "swarmcheck": swarmcheck_version,
    }


def _verdict_word(results: list[Result], kinds: Counter[str], exit_status: int) -> str:
    """The one word: pytest's own when it stopped the run, else the worst kind of result."""
    worst = next((k for k in VERDICT_ORDER if kinds[k]), None)
    if exit_status in PYTEST_EXIT_WORDS:
        return PYTEST_EXIT_WORDS[exit_status]
    if worst is not None:
        return worst
    if not results:
        return "no_tests"
    if kinds["xpassed"] and exit_status != 0:
        return "unexpected_pass"  # a strict xfail passed: its defect is fixed
    return "passed"


def _counts(kinds: Counter[str], skips: list[Result]) -> dict[str, Any]:
    by_category = Counter(SKIP_KEYS.get(r.category or "", "not_part_of_this_run") for r in skips)
    return {
        "passed": kinds["passed"],
        "broken_promise": kinds["broken_promise"],
        "environment_problem": kinds["environment_problem"],
        "framework_error": kinds["framework_error"],
        "skipped": {
            "platform_lacks_a_feature": by_category["platform_lacks_a_feature"],
            "not_part_of_this_run": by_category["not_part_of_this_run"],
        },
        "xfailed": kinds["xfailed"],
        "xpassed": kinds["xpassed"],
    }


def write_verdict(path: Path, document: Mapping[str, Any]) -> Path:
    """Write ``verdict.json`` atomically (a pipeline may read it as soon as it appears)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=2) + "\n")
    partial.replace(path)
    return path
