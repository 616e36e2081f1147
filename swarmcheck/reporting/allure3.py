"""The Allure 3 report (npm package ``allure``, runs on Node.js: no Java).

Allure 3 reads the same results as Allure 2 (environment, executor, attachments), but its
report takes the categories from its configuration, not from ``categories.json`` in the
results, and keeps the trend in one JSON-lines file (``historyPath``, a line per run) instead
of a ``history/`` folder. So swarmcheck writes a configuration for each run: the categories of
``allure_files.build_categories`` in Allure 3's terms, and the history file kept in the
report's ``history/`` folder, where the nightly recipes carry it from night to night.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swarmcheck.machine.allure import ALLURE3_PACKAGE, allure3_binary
from swarmcheck.reporting.allure_files import build_categories

__all__ = [
    "ALLURE3_PACKAGE",
    "HISTORY_FILE",
    "allure3_binary",
    "allure3_categories",
    "allure3_config",
    "trend_points",
]

TREE = ("parentSuite", "suite")
"""The tree of checks: area, then file (the labels allure_hooks gives each check)."""
HISTORY_FILE = "history.jsonl"
"""Allure 3's history: one line per run, kept in the report's history/ folder."""


def allure3_categories() -> list[dict[str, Any]]:
    """swarmcheck's categories for Allure 3, which files a result under the first category
    whose regex is found anywhere in the message (Allure 2 full-matches, with DOTALL): each
    regex is anchored at both ends and ``.`` made to cross lines, so both versions file every
    result alike. The flaky twins Allure 2 needs are left out (Allure 3 matches regardless)."""
    categories = []
    for spec in build_categories():
        if spec["flaky"]:
            continue
        regex = "^(?:" + str(spec["messageRegex"]).replace(".*", r"[\s\S]*") + ")$"
        categories.append(
            {
                "name": spec["name"],
                "matchedStatuses": list(spec["matchedStatuses"]),
                "messageRegex": regex,
            }
        )
    return categories


def allure3_config(
    output: Path, history: Path, *, single_file: bool, report_name: str | None
) -> dict[str, Any]:
    """The configuration of one ``allure generate`` run (written as allurerc.json)."""
    return {
        "name": report_name or "swarmcheck",
        "output": str(output),
        "historyPath": str(history),
        "categories": allure3_categories(),
        "plugins": {
            "awesome": {
                "options": {
                    "singleFile": single_file,
                    "reportLanguage": "en",
                    "groupBy": list(TREE),
                }
            }
        },
    }


def trend_points(history: Path) -> int:
    """How many runs an Allure 3 history file holds (what the trend charts show)."""
    if not history.is_file():
        return 0
    return sum(1 for line in history.read_text(encoding="utf-8").splitlines() if line.strip())


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return path
