"""End to end: a nightly job over two nights, as docs/nightly.md's recipes keep it.

Each night is a fresh copy of this checkout (a CI job's clean workspace) running ``./run
suites`` with a short selection of checks on a real swarm (the recipes run ``./run chaos
--swarm-chaos-duration=15m``: same steps, same report, only longer). Between the nights only
what the recipe keeps is carried over, read from the recipe's YAML in docs/nightly.md itself:
GitLab's cache (its ``paths``, restored where they were), or GitHub's artifact (the uploaded
paths, stored relative to the folder they share, as upload-artifact does, then downloaded into
the download step's ``path``). The second night's report must show both nights in its trend.
A last run shows that ``./run`` fails when the report cannot be made.

The nights use this test's Python environment (``SWARMCHECK_PYTHON``), not a venv each.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swarmcheck.reporting.allure3 import HISTORY_FILE, trend_points

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
NIGHTLY_DOC = ROOT / "docs" / "nightly.md"
CHECKS = "SC-MEM-002 or SC-UPD-001"
NIGHT_TIMEOUT_S = 600.0
REPORT_FAILED = 6  # ./run's status when the checks passed but the report was not made
IGNORED = (
    ".git", "reports", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache",
    ".ruff_cache", ".tox", ".venv", "node_modules",
)  # fmt: skip

yaml = pytest.importorskip("yaml", reason="pyyaml is in the test extra")


def recipe_blocks() -> list[dict[str, Any]]:
    """The YAML recipes of docs/nightly.md, parsed."""
    blocks = re.findall(r"```yaml\n(.*?)```", NIGHTLY_DOC.read_text(), flags=re.S)
    return [yaml.safe_load(block) for block in blocks]


@dataclass(frozen=True)
class Keeps:
    """What a recipe carries from one night to the next: paths relative to the workspace,
    and where each lands in the next night's workspace."""

    name: str
    carried: tuple[tuple[str, str], ...]
    """(path in tonight's workspace, path in tomorrow's workspace)"""


def gitlab_keeps() -> Keeps:
    job = next(b for b in recipe_blocks() if "swarm-nightly" in b)["swarm-nightly"]
    paths = [p.rstrip("/") for p in job["cache"]["paths"]]
    assert job["cache"].get("when") == "always", "a failing night must keep its history too"
    return Keeps("gitlab cache", tuple((p, p) for p in paths))  # restored where it was


def _step(steps: list[dict[str, Any]], action: str) -> dict[str, Any]:
    return next(s for s in steps if str(s.get("uses", "")).startswith(action))


def github_keeps() -> Keeps:
    workflow = next(b for b in recipe_blocks() if "jobs" in b)
    steps = workflow["jobs"]["chaos"]["steps"]
    upload = _step(steps, "actions/upload-artifact")["with"]
    download = _step(steps, "dawidd6/action-download-artifact")["with"]
    assert upload["name"] == download["name"], "the download must fetch the uploaded artifact"
    paths = [p.strip().rstrip("/") for p in str(upload["path"]).splitlines() if p.strip()]
    # upload-artifact stores the files relative to the folder all paths share
    common = os.path.commonpath(paths)
    if common in paths:  # a single path: its own parent folder is the root
        common = os.path.dirname(common)
    target = str(download["path"]).rstrip("/")
    carried = tuple((p, os.path.join(target, os.path.relpath(p, common))) for p in paths)
    return Keeps("github artifact", carried)


def fresh_workspace(where: Path) -> Path:
    """A clean checkout, as a CI job gets it."""
    shutil.copytree(ROOT, where, symlinks=True, ignore=shutil.ignore_patterns(*IGNORED))
    return where


def night(workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``./run suites`` in the workspace with this test's Python environment."""
    env = {**os.environ, "SWARMCHECK_PYTHON": sys.executable, "COLUMNS": "200"}
    return subprocess.run(
        ["./run", "suites", "-k", CHECKS, *args],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=NIGHT_TIMEOUT_S,
        check=False,
    )


def carry(keeps: Keeps, tonight: Path, tomorrow: Path) -> list[str]:
    """Copy what the recipe keeps; return what was kept (relative paths in tomorrow)."""
    kept = []
    for source, target in keeps.carried:
        src, dst = tonight / source, tomorrow / target
        if src.is_dir():
            shutil.copytree(src, dst)
        elif src.is_file():
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        else:
            continue
        kept.append(target)
    return kept


def embedded(index_html: Path, name: str) -> Any:
    """A JSON file an Allure 3 single-file report embeds as ``d("name","base64")``."""
    text = index_html.read_text(encoding="utf-8")
    match = re.search(re.escape(f'd("{name}","') + r'([A-Za-z0-9+/=]*)"', text)
    assert match, f"{name} is not embedded in {index_html}"
    return json.loads(base64.b64decode(match.group(1)))


def status_trend(index_html: Path) -> list[dict[str, Any]]:
    """The points of the report's status trend (Allure 3's "Status dynamics" chart)."""
    charts = embedded(index_html, "widgets/charts.json")["general"]
    chart = next(c for c in charts.values() if c["type"] == "statusDynamics")
    return list(chart["data"])


def ran(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{(result.stdout + result.stderr)[-5000:]}"


@pytest.mark.parametrize("recipe", ["gitlab", "github"])
def test_two_nights_keep_the_trend(recipe: str, tmp_path: Path) -> None:
    keeps = gitlab_keeps() if recipe == "gitlab" else github_keeps()
    first = fresh_workspace(tmp_path / "night1")
    one = night(first)
    assert one.returncode == 0, ran(one)
    report = first / "reports" / "html"
    assert trend_points(report / "history" / HISTORY_FILE) == 1, ran(one)

    second = fresh_workspace(tmp_path / "night2")
    kept = carry(keeps, first, second)
    assert kept, f"the {keeps.name} kept nothing of {keeps.carried}"
    assert (second / "reports" / "html" / "history" / HISTORY_FILE).is_file(), (
        f"the {keeps.name} did not bring last night's history to reports/html/history: kept {kept}"
    )
    two = night(second)
    assert two.returncode == 0, ran(two)
    index = second / "reports" / "html" / "index.html"
    assert trend_points(second / "reports" / "html" / "history" / HISTORY_FILE) == 2
    points = status_trend(index)
    assert len(points) == 2, points  # last night's and tonight's
    assert [p["statistic"]["passed"] for p in points] == [2, 2], points

    verdict = json.loads((second / "reports" / "verdict.json").read_text())
    assert verdict["verdict"] == "passed" and verdict["exit_status"] == 0, verdict
    assert verdict["counts"]["passed"] == 2 and verdict["tests"] == 2, verdict
    assert verdict["engine"] and verdict["duration_s"] > 0, verdict


def test_run_fails_when_the_report_cannot_be_made(tmp_path: Path) -> None:
    """The checks pass, but the report folder holds something that is not a report."""
    workspace = fresh_workspace(tmp_path / "night")
    stray = workspace / "reports" / "html" / "notes.txt"
    stray.parent.mkdir(parents=True)
    stray.write_text("not a report")
    result = night(workspace, "-k", "SC-MEM-002")
    assert result.returncode == REPORT_FAILED, ran(result)
    assert "the HTML report could not be made" in result.stdout, ran(result)
    assert "refusing to replace it" in result.stderr, ran(result)
    assert stray.read_text() == "not a report"
    verdict = json.loads((workspace / "reports" / "verdict.json").read_text())
    assert verdict["verdict"] == "passed", verdict
