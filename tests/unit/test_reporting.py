"""Tests for swarmcheck.reporting: SVG plot, Allure side files, HTML generation, summary."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from swarmcheck.errors import ConfigError, EnvironmentProblem
from swarmcheck.machine import allure as allure_cli
from swarmcheck.machine.allure import ensure_allure_cli
from swarmcheck.reporting import (
    CATEGORY_ENVIRONMENT,
    CATEGORY_FRAMEWORK,
    CATEGORY_NOT_THIS_RUN,
    CATEGORY_PRODUCT,
    CATEGORY_SKIPPED,
    Outcome,
    availability_figures,
    build_categories,
    format_summary,
    generate_html,
    render_availability_svg,
    write_categories,
    write_environment,
    write_executor,
)
from swarmcheck.reporting import html as html_mod
from swarmcheck.reporting.allure3 import HISTORY_FILE, trend_points
from swarmcheck.reporting.allure_files import (
    escape_properties_key,
    escape_properties_value,
    executor_from_env,
)
from swarmcheck.reporting.summary import format_figure

SVG_NS = "{http://www.w3.org/2000/svg}"

# --- helpers -------------------------------------------------------------------------------


def sample_probes(
    duration_s: float = 60.0, step_s: float = 0.5, outage: tuple[float, float] = (20.0, 26.0)
) -> list[tuple[float, bool, float | None]]:
    """Probes every ``step_s``: ok with ~10 ms latency, failing during ``outage``."""
    probes: list[tuple[float, bool, float | None]] = []
    for i in range(int(duration_s / step_s)):
        t = i * step_s
        failed = outage[0] <= t < outage[1]
        probes.append((t, not failed, None if failed else 10.0 + (i % 7)))
    return probes


def svg_texts(svg: str) -> list[str]:
    """All text content of an SVG document (parsing it proves it is well-formed XML)."""
    root = ET.fromstring(svg)
    return ["".join(el.itertext()) for el in root.iter(f"{SVG_NS}text")]


def allure_result(
    name: str,
    status: str,
    message: str | None = None,
    *,
    history_id: str | None = None,
    start_ms: int | None = None,
    attachments: list[dict[str, str]] | None = None,
    steps: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A test result in Allure 2's ``*-result.json`` format, written by hand."""
    start = start_ms if start_ms is not None else int(time.time() * 1000)
    result: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "historyId": history_id or name,
        "testCaseId": history_id or name,
        "fullName": f"suites.test_demo#{name}",
        "name": name,
        "status": status,
        "stage": "finished",
        "start": start,
        "stop": start + 1500,
        "steps": steps or [],
        "attachments": attachments or [],
        "parameters": [],
        "labels": [{"name": k, "value": v} for k, v in (labels or {}).items()],
    }
    if message is not None:
        result["statusDetails"] = {"message": message, "trace": f"Traceback\nE   {message}"}
    return result


def allure_step(name: str, status: str = "passed", start_ms: int = 0) -> dict[str, Any]:
    """One step of a result, in Allure 2's format."""
    return {
        "name": name,
        "status": status,
        "stage": "finished",
        "start": start_ms,
        "stop": start_ms + 200,
        "steps": [],
        "attachments": [],
        "parameters": [],
    }


def write_result(results_dir: Path, result: dict[str, Any]) -> Path:
    """Write ``result`` where Allure looks for it: ``<uuid>-result.json``."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result['uuid']}-result.json"
    path.write_text(json.dumps(result), encoding="utf-8")
    return path


def write_attachment(
    results_dir: Path, body: str, ext: str, mime: str, name: str
) -> dict[str, str]:
    """Write an attachment file and return the result's reference to it."""
    source = f"{uuid.uuid4()}-attachment.{ext}"
    (results_dir / source).write_text(body, encoding="utf-8")
    return {"name": name, "source": source, "type": mime}


def embedded_report_file(index_html: Path, name: str) -> Any:
    """Decode one JSON file a single-file Allure report embeds as ``d('name','base64')``."""
    text = index_html.read_text(encoding="utf-8")
    match = re.search(re.escape(f"d('{name}','") + r"([A-Za-z0-9+/=]*)'", text)
    assert match, f"{name} not embedded in {index_html}"
    return json.loads(base64.b64decode(match.group(1)))


def allure_matches(result_status: str, message: str | None, category: dict[str, Any]) -> bool:
    """Allure 2's CategoriesPlugin.matches, in Python (regexes full-matched with DOTALL)."""
    if category.get("flaky", False):
        return False
    if category.get("matchedStatuses") and result_status not in category["matchedStatuses"]:
        return False
    regex = category.get("messageRegex")
    return regex is None or (message is not None and re.fullmatch(regex, message, re.S) is not None)


def have_allure_prerequisites(tool: str = "allure2") -> bool:
    """Java (Allure 2) or Node.js (Allure 3), and npm unless the tool is already cached."""
    cached = allure_cli.allure_binary(allure_cli.default_cache_dir(tool), tool).is_file()
    runtime = "java" if tool == "allure2" else "node"
    return shutil.which(runtime) is not None and (cached or shutil.which("npm") is not None)


def embedded_report3_file(index_html: Path, name: str) -> Any:
    """Decode one JSON file a single-file Allure 3 report embeds as ``d("name","base64")``."""
    text = index_html.read_text(encoding="utf-8")
    match = re.search(re.escape(f'd("{name}","') + r'([A-Za-z0-9+/=]*)"', text)
    assert match, f"{name} not embedded in {index_html}"
    return json.loads(base64.b64decode(match.group(1)))


# --- plot ----------------------------------------------------------------------------------


def test_svg_is_valid_xml_with_shaded_windows_and_labels() -> None:
    windows = [(18.0, 30.0, "kill leader manager-1"), (40.0, 45.0, "partition worker-2")]
    svg = render_availability_svg(sample_probes(), windows, "SC-HEAL-001 heal after kill")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert root.get("viewBox") == "0 0 900 360"
    texts = svg_texts(svg)
    assert "kill leader manager-1" in texts
    assert "partition worker-2" in texts
    assert "SC-HEAL-001 heal after kill" in texts
    assert {"probe ok", "probe failed", "latency", "fault window"} <= set(texts)
    shaded = [r for r in root.iter(f"{SVG_NS}rect") if r.get("fill-opacity") == "0.18"]
    assert len(shaded) == 2
    assert root.find(f"{SVG_NS}polyline") is not None
    caption = texts[-1]
    assert "120 probes" in caption and "12 failed" in caption and "90.0%" in caption
    # the last success before the outage (19.5 s) to the first after it (26.0 s)
    assert "longest gap 6.5 s" in caption and "(from t=19.5 s)" in caption


def test_svg_with_no_probes_renders() -> None:
    svg = render_availability_svg([], [], "nothing measured")
    texts = svg_texts(svg)
    assert "no probes recorded" in texts
    assert "no latency data" in texts


def test_svg_all_failed_and_odd_input() -> None:
    probes: list[tuple[float, bool, float | None]] = [(i * 0.5, False, None) for i in range(10)]
    probes.append((float("nan"), True, 3.0))  # ignored, not a crash
    windows = [(9.0, 2.0, "reversed window"), (3.0, 4.0, "\x1b[31mred\x1b[0m label")]
    svg = render_availability_svg(probes, windows, "all <failed> & gone")
    texts = svg_texts(svg)
    assert "all <failed> & gone" in texts
    assert "reversed window" in texts
    assert "[31mred[0m label" in texts  # the ESC control characters XML forbids are dropped
    assert any("success 0.0%" in t for t in texts)


def test_availability_figures_longest_gap() -> None:
    probes = [(0.0, True, 1.0), (1.0, False, None), (2.0, False, None), (4.0, True, 1.0)]
    probes += [(5.0, False, None), (5.5, True, 1.0)]
    figures = availability_figures(probes)
    assert (figures.probes, figures.failures) == (6, 3)
    # as the availability checker defines it: from the success before to the success after
    assert figures.longest_gap_s == 4.0 and figures.longest_gap_start == 0.0
    assert availability_figures([]).success_ratio is None


# --- Allure side files ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "key", "value"),
    [
        ("docker engine", r"docker\ engine", "docker engine"),
        ("a=b:c", r"a\=b\:c", r"a\=b\:c"),
        ("#x", r"\#x", r"\#x"),
        (" lead", r"\ lead", r"\ lead"),
        ("C:\\dir", r"C\:\\dir", r"C\:\\dir"),
        ("two\nlines\t", r"two\nlines\t", r"two\nlines\t"),
        ("ü✓", r"\u00FC\u2713", r"\u00FC\u2713"),
        ("🐳", r"\uD83D\uDC33", r"\uD83D\uDC33"),
    ],
)
def test_properties_escaping(raw: str, key: str, value: str) -> None:
    assert escape_properties_key(raw) == key
    assert escape_properties_value(raw) == value


def test_write_environment_one_line_per_entry(tmp_path: Path) -> None:
    path = write_environment(tmp_path, {"engine": "27.1", "kernel notes": "no\nIPVS", "nodes": 3})
    lines = path.read_text(encoding="ascii").splitlines()
    assert lines == ["engine=27.1", r"kernel\ notes=no\nIPVS", "nodes=3"]


def test_categories_json_has_the_five_categories(tmp_path: Path) -> None:
    data = json.loads(write_categories(tmp_path).read_text(encoding="utf-8"))
    names = {c["name"] for c in data}
    assert names == {
        CATEGORY_PRODUCT,
        CATEGORY_ENVIRONMENT,
        CATEGORY_FRAMEWORK,
        CATEGORY_SKIPPED,
        CATEGORY_NOT_THIS_RUN,
    }
    for category in data:
        assert set(category) <= {"name", "matchedStatuses", "messageRegex", "traceRegex", "flaky"}
        assert category["matchedStatuses"]
        re.compile(category["messageRegex"])
    assert {c["flaky"] for c in data} == {False, True}  # flaky results are categorised too


@pytest.mark.parametrize(
    ("status", "message", "expected"),
    [
        ("failed", "swarmcheck.errors.SwarmPromiseBroken: replicas not healed\nexpected: 3", 0),
        ("failed", "swarmcheck.errors.PromiseTimeout: timed out after 30s waiting for a leader", 0),
        ("failed", "swarmcheck.errors.SwarmRefused: engine error on manager1 (503): no leader", 0),
        ("failed", "swarmcheck.errors.SwarmNotFound: not found on manager1: service web", 0),
        ("failed", "AssertionError: assert 2 == 3", 0),
        ("failed", "Failed: DID NOT RAISE", 0),
        ("broken", "swarmcheck.errors.EnvironmentProblem: kernel lacks IPVS", 1),
        ("broken", "swarmcheck.errors.ImageBuildError: node image build failed", 1),
        ("broken", "swarmcheck.errors.ProvisioningError: provisioning failed for node-2", 1),
        ("broken", "swarmcheck.errors.ReadinessTimeout: timed out after 60s waiting for x", 1),
        ("skipped", "Skipped: EnvironmentProblem: kernel lacks IPVS", 1),
        ("broken", "swarmcheck.errors.EngineAPIError: 500 server error", 2),
        ("broken", "KeyError: 'replicas'", 2),
        ("skipped", "Skipped: needs ipvs: the kernel has no IPVS (/proc/net/ip_vs is missing)", 3),
        ("skipped", "Skipped: nightly chaos mode is off: run with --swarm-chaos-duration", 4),
        ("skipped", "Skipped: needs 3 managers (to keep quorum), the cluster has 1", 4),
        ("skipped", "Skipped: on an existing swarm: needs a swarm of its own", 4),
        ("skipped", "XFAIL known bug\n\nAssertionError: x", None),
        ("passed", None, None),
    ],
)
def test_each_result_lands_in_at_most_one_category(
    status: str, message: str | None, expected: int | None
) -> None:
    order = [
        CATEGORY_PRODUCT,
        CATEGORY_ENVIRONMENT,
        CATEGORY_FRAMEWORK,
        CATEGORY_SKIPPED,
        CATEGORY_NOT_THIS_RUN,
    ]
    matched = [c["name"] for c in build_categories() if allure_matches(status, message, c)]
    assert matched == ([] if expected is None else [order[expected]])


def test_write_executor(tmp_path: Path) -> None:
    path = write_executor(
        tmp_path, "nightly", "nightly #12", "https://r.example/12", build_order=12
    )
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["name"] == "nightly" and data["buildName"] == "nightly #12"
    assert data["reportUrl"] == "https://r.example/12" and data["buildOrder"] == 12
    assert "reportUrl" not in json.loads(write_executor(tmp_path, "n", "b").read_text())


# --- summary -------------------------------------------------------------------------------


def sample_outcomes() -> list[Outcome]:
    return [
        Outcome("SC-HEAL-001", "heal", "leader kill", "passed", None, {"time_to_heal_s": 6.2}),
        Outcome("SC-HEAL-002", "heal", "worker kill", "failed", "replicas not healed\nmore", {}),
        Outcome("SC-NET-001", "network", "ipvs", "skipped", "kernel lacks IPVS", {}),
        Outcome("SC-NET-002", "network", "dns", "error", "EngineAPIError: 500", {}),
        Outcome("SC-SCALE-001", "scale", "x" * 150, "passed", None, {"p99_ms": 12.3456, "n": 40}),
    ]


def test_summary_counts_reasons_figures_and_report() -> None:
    text = format_summary(sample_outcomes(), Path("/reports/nightly/index.html"))
    lines = text.splitlines()
    assert lines[0] == "swarmcheck: 5 tests: 2 passed, 1 failed, 1 skipped, 1 error"
    heal = next(line for line in lines if line.strip().startswith("heal"))
    assert heal.split()[1:] == ["1", "1", "0", "0"]
    assert "  SC-NET-001 ipvs: kernel lacks IPVS" in lines
    assert "  SC-HEAL-002 worker kill: replicas not healed" in lines
    assert any(line.startswith("  ERROR SC-NET-002") for line in lines)
    assert "more" not in text
    assert "  SC-HEAL-001 time_to_heal_s=6.2" in lines
    assert "  SC-SCALE-001 p99_ms=12.35 n=40" in lines
    assert lines[-1] == "report: /reports/nightly/index.html"
    assert all(len(line) <= 100 for line in lines[:-1])
    assert lines.index("skipped:") < lines.index("failed:") < lines.index("measured:")


def test_summary_empty_and_without_report() -> None:
    text = format_summary([], None)
    assert text.splitlines() == [
        "swarmcheck: 0 tests: 0 passed, 0 failed, 0 skipped",
        "report: none generated",
    ]


def test_summary_wraps_many_figures() -> None:
    figures = {f"figure_{i}_seconds": float(i) + 0.25 for i in range(12)}
    outcome = Outcome("SC-SOAK-001", "soak", "soak", "passed", None, figures)
    measured = format_summary([outcome], "r").split("measured:\n")[1].splitlines()[:-1]
    assert len(measured) > 1 and all(len(line) <= 100 for line in measured)
    assert measured[1].startswith(" " * 14 + "figure_")


def test_format_figure() -> None:
    assert [format_figure(v) for v in (6.2, 3.0, 0.00031, 123456.7, "up", "a b")] == [
        "6.2",
        "3",
        "0.00031",
        "123457",
        "up",
        "'a b'",
    ]


# --- HTML report ---------------------------------------------------------------------------


def test_missing_java_is_an_environment_problem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EnvironmentProblem, match="Java"):
        ensure_allure_cli(tmp_path / "cache", tool="allure2")


def test_missing_npm_is_an_environment_problem(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(allure_cli, "_check_java", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    for tool in ("allure2", "allure3"):
        with pytest.raises(EnvironmentProblem, match="npm"):
            ensure_allure_cli(tmp_path / "cache", tool=tool)


def test_missing_node_is_an_environment_problem_that_names_allure2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EnvironmentProblem, match=r"Node\.js.*--tool allure2"):
        allure_cli.check_node()


def test_an_unknown_report_tool_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    with pytest.raises(ConfigError, match="allure3 or allure2"):
        generate_html(tmp_path / "results", tmp_path / "report", tool="allure1")


def test_a_folder_holding_only_history_is_a_report_folder(tmp_path: Path) -> None:
    """What a nightly job restores from its cache: reports/html/history/ and nothing else."""
    (tmp_path / "html" / "history").mkdir(parents=True)
    html_mod._check_replaceable(tmp_path / "html")
    (tmp_path / "html" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="refusing"):
        html_mod._check_replaceable(tmp_path / "html")


def test_refuses_to_clean_a_folder_that_is_not_a_report(tmp_path: Path) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="refusing"):
        generate_html(tmp_path / "results", tmp_path / "precious")
    assert (tmp_path / "precious" / "notes.txt").exists()


def test_subprocess_timeout_is_an_environment_problem() -> None:
    started = time.monotonic()
    with pytest.raises(EnvironmentProblem, match="did not finish within"):
        allure_cli.run_tool(["sh", "-c", "echo working; sleep 30"], 0.5, "slow tool")
    assert time.monotonic() - started < 10


def write_night(results: Path, night: int) -> None:
    """One night's results: environment, categories, executor, a passed check with a plot
    and a failed one."""
    if results.exists():
        shutil.rmtree(results)  # as pytest --clean-alluredir would
    results.mkdir()
    write_categories(results)
    write_environment(results, {"engine": "27.1", "kernel": "6.1 (no IPVS)"})
    write_executor(results, "nightly", f"nightly #{night}", build_order=night)
    svg = render_availability_svg(sample_probes(), [(18.0, 30.0, "kill leader")], "SC-HEAL-001")
    plot = write_attachment(results, svg, "svg", "image/svg+xml", "availability")
    write_result(
        results,
        allure_result(
            "SC-HEAL-001 leader kill",
            "passed",
            attachments=[plot],
            steps=[allure_step("kill leader"), allure_step("wait for heal")],
        ),
    )
    write_result(
        results,
        allure_result("SC-HEAL-002 worker kill", "failed", "SwarmPromiseBroken: not healed"),
    )


def test_generate_html_twice_carries_history(tmp_path: Path) -> None:
    if not have_allure_prerequisites("allure2"):
        pytest.skip("needs Java and npm (or a cached Allure CLI) to generate the HTML report")
    results, report = tmp_path / "results", tmp_path / "report"
    for night in (1, 2):
        write_night(results, night)
        index = generate_html(results, report, single_file=True, tool="allure2")

    assert index == report / "index.html" and index.stat().st_size > 100_000
    history = json.loads((report / "history" / "history.json").read_text(encoding="utf-8"))
    assert len(history) == 2
    assert sorted(len(entry["items"]) for entry in history.values()) == [2, 2]
    trend = json.loads((report / "history" / "history-trend.json").read_text(encoding="utf-8"))
    assert [point["buildOrder"] for point in trend] == [2, 1]
    categories = embedded_report_file(index, "data/categories.json")
    assert [c["name"] for c in categories["children"]] == [CATEGORY_PRODUCT]
    environment = embedded_report_file(index, "widgets/environment.json")
    assert {"name": "kernel", "values": ["6.1 (no IPVS)"]} in environment


def test_allure3_twice_carries_history(tmp_path: Path) -> None:
    """Allure 3: the trend grows from the history file kept in the report's history/ (also
    when that folder is all the report folder holds, as a nightly cache restores it); the
    categories, the environment and the plot are in the single file."""
    if not have_allure_prerequisites("allure3"):
        pytest.skip("needs Node.js and npm (or a cached Allure 3) to generate the HTML report")
    results, report = tmp_path / "results", tmp_path / "report"
    for night in (1, 2):
        write_night(results, night)
        index = generate_html(results, report, single_file=True)
        if night == 1:  # keep only what the GitLab recipe's cache keeps
            (report / "index.html").unlink()
            for extra in report.iterdir():
                if extra.name != "history":
                    extra.unlink()

    assert index == report / "index.html" and index.stat().st_size > 100_000
    assert trend_points(report / "history" / HISTORY_FILE) == 2
    charts = embedded_report3_file(index, "widgets/charts.json")["general"]
    dynamics = next(chart for chart in charts.values() if chart["type"] == "statusDynamics")
    assert len(dynamics["data"]) == 2, dynamics  # last night and this one
    tree = embedded_report3_file(index, "widgets/categories.json")
    names = [tree["nodes"][root]["name"] for root in tree["roots"]]
    assert names == [CATEGORY_PRODUCT]
    environment = embedded_report3_file(index, "widgets/allure_environment.json")
    assert {"name": "kernel", "values": ["6.1 (no IPVS)"]} in environment, environment
    assert "image/svg+xml" in index.read_text(encoding="utf-8")


# --- categories of real results ------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
CATEGORIZED = '''
"""One test per way a check can end; each raises what swarmcheck raises in that case."""
import docker.errors
import pytest
import requests

from swarmcheck.client.errors import translate
from swarmcheck.cluster.pool import given_up
from swarmcheck.errors import PromiseTimeout, ProvisioningError
from swarmcheck.timing import wait_until


def test_promise_timeout():
    # a wait for a documented behaviour (a leader) that never came
    wait_until(lambda: None, what="a leader", timeout_s=0.1, timeout_error=PromiseTimeout)


def test_swarm_refused():
    # an engine of the swarm under test answered a documented operation with an error
    response = requests.Response()
    response.status_code = 503
    refused = docker.errors.APIError(
        "503", response=response, explanation="rpc error: The swarm does not have a leader"
    )
    raise translate(refused, "manager1", swarm=True)


def test_swarm_never_whole_twice():
    # the pool gave up on a shape whose swarm never formed
    raise given_up([PromiseTimeout("a whole swarm", 60.0, "manager1 sees 0 leaders")] * 2)


def test_node_could_not_start():
    raise ProvisioningError("could not start node container sc-1-manager1: no space", "manager1")


def test_engine_never_answered():
    wait_until(lambda: None, what="manager1's engine to answer", timeout_s=0.1)


def test_bug_in_swarmcheck():
    {}["replicas"]


def test_platform_lacks_a_feature():
    pytest.skip("needs ipvs: the kernel has no IPVS (/proc/net/ip_vs is missing)")


def test_mode_not_asked_for():
    pytest.skip("nightly chaos mode is off: run with --swarm-chaos-duration")
'''
EXPECTED_CATEGORY = {
    "test_promise_timeout": CATEGORY_PRODUCT,
    "test_swarm_refused": CATEGORY_PRODUCT,
    "test_swarm_never_whole_twice": CATEGORY_PRODUCT,
    "test_node_could_not_start": CATEGORY_ENVIRONMENT,
    "test_engine_never_answered": CATEGORY_ENVIRONMENT,
    "test_bug_in_swarmcheck": CATEGORY_FRAMEWORK,
    "test_platform_lacks_a_feature": CATEGORY_SKIPPED,
    "test_mode_not_asked_for": CATEGORY_NOT_THIS_RUN,
}


@pytest.fixture(scope="module")
def categorized_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """CATEGORIZED run with allure-pytest, and swarmcheck's categories beside the results."""
    root = tmp_path_factory.mktemp("categorized")
    (root / "test_categorized.py").write_text(CATEGORIZED)
    results = root / "results"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--alluredir={results}",
         f"--swarm-reports={root / 'reports'}", "test_categorized.py"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "1 passed" not in done.stdout and "6 failed, 2 skipped" in done.stdout, done.stdout
    write_categories(results)
    return results


@pytest.fixture(scope="module", params=["allure2", "allure3"])
def allure_categories(
    request: pytest.FixtureRequest, categorized_results: Path
) -> dict[str, list[str]]:
    """The report tool on the categorized results: per test name, the categories the report
    files it under (Allure 2's data/categories.json, Allure 3's widgets/categories.json)."""
    tool = request.param
    if not have_allure_prerequisites(tool):
        pytest.skip(f"needs {tool}'s runtime and npm (or a cached tool) for the HTML report")
    report = categorized_results.parent / f"report-{tool}"
    generate_html(categorized_results, report, single_file=False, tool=tool)
    found: dict[str, list[str]] = {}
    if tool == "allure3":
        tree = json.loads((report / "widgets" / "categories.json").read_text(encoding="utf-8"))
        nodes = tree["nodes"]

        def leaves(node_id: str) -> list[str]:
            node = nodes[node_id]
            if node["type"] == "tr":
                return [node["name"]]
            return [name for child in node.get("childrenIds", []) for name in leaves(child)]

        for root in tree["roots"]:
            for name in leaves(root):
                found.setdefault(name, []).append(nodes[root]["name"])
        return found
    tree = json.loads((report / "data" / "categories.json").read_text(encoding="utf-8"))
    for category in tree["children"]:
        for group in category["children"]:  # one group per message
            for leaf in group.get("children", [group]):
                found.setdefault(leaf["name"], []).append(category["name"])
    return found


@pytest.mark.parametrize(("test_name", "category"), sorted(EXPECTED_CATEGORY.items()))
def test_real_results_land_in_their_category(
    allure_categories: dict[str, list[str]], test_name: str, category: str
) -> None:
    assert allure_categories.get(test_name) == [category], allure_categories


# --- executor from the CI environment ----------------------------------------------------


def test_executor_names_the_github_actions_run() -> None:
    executor = executor_from_env(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "acme/swarm",
            "GITHUB_RUN_ID": "987",
            "GITHUB_RUN_NUMBER": "41",
            "GITHUB_WORKFLOW": "swarm nightly",
        }
    )
    assert executor.type == "github" and executor.build_name == "swarm nightly #41"
    assert executor.build_url == "https://github.com/acme/swarm/actions/runs/987"
    assert executor.build_order == 41


def test_executor_names_the_gitlab_pipeline_and_jenkins_build() -> None:
    gitlab = executor_from_env(
        {
            "GITLAB_CI": "true",
            "CI_PIPELINE_IID": "7",
            "CI_PROJECT_PATH": "acme/swarm",
            "CI_JOB_NAME": "nightly",
            "CI_JOB_URL": "https://gitlab.example/acme/swarm/-/jobs/5",
        }
    )
    assert (gitlab.type, gitlab.build_name, gitlab.build_order) == (
        "gitlab",
        "acme/swarm #7 nightly",
        7,
    )
    assert gitlab.build_url == "https://gitlab.example/acme/swarm/-/jobs/5"
    jenkins = executor_from_env(
        {
            "JENKINS_URL": "https://ci.example/",
            "JOB_NAME": "swarm-nightly",
            "BUILD_NUMBER": "12",
            "BUILD_URL": "https://ci.example/job/swarm-nightly/12/",
        }
    )
    assert (jenkins.type, jenkins.build_name, jenkins.build_order) == (
        "jenkins",
        "swarm-nightly #12",
        12,
    )


def test_executor_elsewhere_is_the_host_and_start_time() -> None:
    local = executor_from_env({}, now=datetime(2026, 11, 26, 2, 0, tzinfo=UTC))
    assert local.type == "local" and local.build_name.endswith(" 2026-11-26 02:00 UTC")
    assert local.build_url is None and local.build_order == 202611260200


def test_side_files_name_the_night(tmp_path: Path) -> None:
    """The plugin writes executor.json next to the results (here through write_executor)."""
    executor = executor_from_env({"JENKINS_URL": "x", "JOB_NAME": "n", "BUILD_NUMBER": "3"})
    path = write_executor(
        tmp_path,
        executor.name,
        executor.build_name,
        build_order=executor.build_order,
        executor_type=executor.type,
    )
    data = json.loads(path.read_text())
    assert data == {"name": "Jenkins", "type": "jenkins", "buildName": "n #3", "buildOrder": 3}


def _report(outcome: str, longrepr: object = None, **extra: object) -> pytest.TestReport:
    return pytest.TestReport(
        "suites/t.py::test_x", ("suites/t.py", 1, "test_x"), {}, outcome, longrepr, "call", **extra
    )


def test_outcome_status_names_the_reason_of_a_skip_and_of_an_expected_failure() -> None:
    from swarmcheck.plugin.report import status_and_reason

    assert status_and_reason(_report("passed")) == ("passed", None)
    skipped = _report("skipped", ("t.py", 3, "Skipped: needs ipvs: the kernel has no IPVS"))
    assert status_and_reason(skipped) == ("skipped", "needs ipvs: the kernel has no IPVS")
    xfailed = _report("skipped", "AssertionError", wasxfail="the CA keeps the old validity")
    assert status_and_reason(xfailed) == (
        "skipped",
        "expected failure (xfail): the CA keeps the old validity",
    )
