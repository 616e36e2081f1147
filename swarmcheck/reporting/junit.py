"""JUnit XML after pytest-rerunfailures: one testcase per test, with its final outcome.

pytest's JUnit writer gives every attempt of a rerun test its own ``<testcase>``, and the
failed attempts carry no failure element (their outcome is "rerun"), so a test that failed
twice and passed looks like three passes, and one that never passed looks like a pass plus a
failure. ``fold_reruns`` keeps the last attempt and turns each earlier one into a
``<flakyFailure>`` (the test passed in the end) or a ``<rerunFailure>`` (it did not) inside
it: Maven Surefire's convention, which Jenkins and GitLab read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["fold_reruns"]


def fold_reruns(path: Path, attempts: Mapping[tuple[str, str], Sequence[str]]) -> int:
    """Fold the attempts of each rerun test, keyed by (classname, name) with the failure
    message of each failed attempt, into its last testcase. Returns how many testcases were
    folded away."""
    if not attempts or not path.is_file():
        return 0
    tree = ET.parse(path)
    folded = 0
    for suite in tree.iter("testsuite"):
        cases = suite.findall("testcase")
        for key, messages in attempts.items():
            same = [c for c in cases if (c.get("classname", ""), c.get("name", "")) == key]
            if len(same) < 2:
                continue
            final, earlier = same[-1], same[:-1]
            failed = final.find("failure") is not None or final.find("error") is not None
            tag = "rerunFailure" if failed else "flakyFailure"
            for index, case in enumerate(earlier):
                message = messages[index] if index < len(messages) else "failed attempt"
                attempt = ET.SubElement(final, tag, {"message": message, "type": "rerun"})
                attempt.text = f"attempt {index + 1} of {len(same)} failed: {message}"
                suite.remove(case)
                folded += 1
    if folded:
        tree.write(path, encoding="utf-8", xml_declaration=True)
    return folded
