"""`swarmcheck matrix`: run the suites once per engine and write the compatibility matrix.

Each engine gets its own pytest process (a failure or a crash on one engine does not stop the
others) and its own folder: ``reports/matrix/<engine>/`` with ``allure-results/``,
``junit.xml``, ``outcomes.json`` and ``pytest.log``. The engines run one after another: on a
small machine two swarms at once would slow each other and make the figures incomparable.

Then the matrix (``reporting.matrix``) is written as ``reports/matrix.md`` and
``reports/matrix.html``, every engine's Allure results are merged into
``reports/matrix/allure-results`` (each result carries its engine as a parameter, so history
never mixes engines) with the matrix as one more result, and the HTML report is generated
into ``reports/matrix/html``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from swarmcheck.config import REPORTS, SELECT, SWARM, engine_options
from swarmcheck.errors import EnvironmentProblem
from swarmcheck.reporting.allure_files import write_categories, write_environment
from swarmcheck.reporting.matrix import (
    OUTCOMES_FILE,
    Difference,
    EngineRun,
    differences,
    read_run,
    render_html,
    render_markdown,
    unconfirmed,
    write_allure_result,
)

log = logging.getLogger("swarmcheck.reporting")

DEFAULT_SUITES = ("suites/conformance", "suites/release")
"""The conformance suites, and the release checks (mixed versions, the engine upgrade), which
run wherever an older engine exists to mix with or upgrade from (skipped, saying so, on the
oldest)."""
STOP_GRACE_S = 180.0
"""How long an interrupted engine run gets to remove its swarm."""

Echo = Callable[[str], None]


@dataclass(frozen=True)
class MatrixResult:
    runs: list[EngineRun]
    differences: list[Difference]
    markdown: Path
    page: Path
    html: Path | None
    interrupted: bool = False

    @property
    def exit_code(self) -> int:
        """0 all passed; 1 a check failed on some engine; 2 a run gave no results; 130 ^C."""
        if self.interrupted:
            return 130
        if any(r.problem for r in self.runs):
            return 2
        if any(r.count("failed") or r.count("error") for r in self.runs):
            return 1
        return 0


def slug(engine: str) -> str:
    """A folder name for an engine: ``my/dind:28`` -> ``my_dind_28``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", engine).strip("_") or "engine"


def pytest_command(
    engine: str, folder: Path, suites: Sequence[str], extra: Sequence[str], python: str
) -> list[str]:
    """The pytest command of one engine's run, its reports all inside ``folder``."""
    return [
        python,
        "-m",
        "pytest",
        *suites,
        f"{SWARM.flag}=dind",
        *engine_options(engine),
        f"{REPORTS.flag}={folder}",
        f"--alluredir={folder / 'allure-results'}",
        "--clean-alluredir",
        f"--junitxml={folder / 'junit.xml'}",
        *extra,
    ]


def run_engine(
    engine: str,
    folder: Path,
    suites: Sequence[str],
    extra: Sequence[str],
    echo: Echo,
    python: str = sys.executable,
) -> EngineRun:
    """One engine's pytest run (its output echoed with the engine as prefix and kept in
    pytest.log); its results, or a run with a problem when it produced none."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / OUTCOMES_FILE).unlink(missing_ok=True)  # never read a previous run's results
    command = pytest_command(engine, folder, suites, extra, python)
    echo(f"[{engine}] {' '.join(command)}")
    started = time.monotonic()
    with (folder / "pytest.log").open("w") as out:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            bufsize=1,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                echo(f"[{engine}] {line.rstrip()}")
            returncode = proc.wait()
        except KeyboardInterrupt:
            # the run removes its swarm on SIGINT (SIGTERM too): let it, then stop
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_GRACE_S)
            raise
    duration = time.monotonic() - started
    run = read_run(folder / OUTCOMES_FILE, engine, returncode=returncode, duration_s=duration)
    echo(
        f"[{engine}] done in {duration:.0f} s (exit {returncode}): "
        + (
            run.problem
            or f"{run.count('passed')} passed, {run.count('failed')} failed, "
            f"{run.count('skipped')} skipped, {run.count('error')} errors"
        )
    )
    return run


def confirm_differences(
    runs: list[EngineRun],
    reports: Path,
    suites: Sequence[str],
    extra: Sequence[str],
    times: int,
    echo: Echo,
    runner: Callable[..., EngineRun] = run_engine,
) -> list[EngineRun]:
    """Re-run, ``times`` more on every engine, only the checks whose results differed, so
    the matrix compares the most common status and median figures, and says which first-run
    differences the re-runs did not confirm."""
    ids = sorted({d.key.split("[", 1)[0] for d in differences(runs)})
    if not ids:
        return runs
    echo(
        f"re-running {len(ids)} checks that differed, {times} more times per engine: "
        + ", ".join(ids)
    )
    select = f"{SELECT.flag}={','.join(ids)}"
    confirmed = []
    for run in runs:
        if run.problem is not None:
            confirmed.append(run)
            continue
        reruns = list(run.reruns)
        for index in range(times):
            folder = reports / "matrix" / slug(run.engine) / f"confirm-{index + 1}"
            again = runner(run.engine, folder, suites, [*extra, select], echo)
            reruns.append(again.results)
        confirmed.append(replace(run, reruns=tuple(reruns)))
    return confirmed


def merge_allure(runs: Sequence[EngineRun], target: Path) -> Path:
    """Every engine's Allure results in one folder (results carry their engine parameter),
    with one environment naming the engines and their versions."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for run in runs:
        source = Path(run.directory) / "allure-results"
        if not source.is_dir():
            continue
        for item in source.iterdir():
            if item.is_file() and item.name not in ("environment.properties", "categories.json"):
                shutil.copy2(item, target / item.name)
    write_environment(
        target,
        {f"engine {r.engine}": r.version or "(no swarm started)" for r in runs},
    )
    write_categories(target)
    return target


def _write_matrix(
    reports: Path, runs: Sequence[EngineRun], diffs: Sequence[Difference]
) -> tuple[str, str]:
    """matrix.md, matrix.html and matrix.json under ``reports``; the Markdown and the page."""
    noise = unconfirmed(runs)
    markdown = render_markdown(runs, diffs, noise)
    page = render_html(runs, diffs, noise)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "matrix.md").write_text(markdown)
    (reports / "matrix.html").write_text(page)
    body = {
        "engines": [
            {
                "engine": r.engine,
                "label": r.label,
                "version": r.version,
                "returncode": r.returncode,
                "problem": r.problem,
                "directory": r.directory,
            }
            for r in runs
        ],
        "differences": [
            {
                "kind": d.kind,
                "check": d.key,
                "what": d.subject,
                "values": dict(d.values),
                "note": d.note,
            }
            for d in diffs
        ],
    }
    (reports / "matrix.json").write_text(json.dumps(body, indent=2) + "\n")
    return markdown, page


def _html_report(merged: Path, reports: Path, echo: Echo) -> Path | None:
    """The Allure HTML report of every engine and the matrix (None: it could not be made)."""
    from swarmcheck.reporting.html import generate_html

    try:
        return generate_html(merged, reports / "matrix" / "html")
    except EnvironmentProblem as exc:
        echo(f"swarmcheck: no HTML report ({exc}); the matrix is in {reports / 'matrix.md'}")
        return None


def run_matrix(
    engines: Sequence[str],
    reports: Path,
    *,
    suites: Sequence[str] = DEFAULT_SUITES,
    extra: Sequence[str] = (),
    html: bool = True,
    confirm: int = 0,
    echo: Echo = print,
    runner: Callable[..., EngineRun] = run_engine,
) -> MatrixResult:
    """Run ``suites`` once per engine (one after another), re-run ``confirm`` times the checks
    that differed, then write the matrix."""
    runs: list[EngineRun] = []
    interrupted = False
    for engine in engines:
        try:
            runs.append(runner(engine, reports / "matrix" / slug(engine), suites, extra, echo))
        except KeyboardInterrupt:
            echo(f"[{engine}] interrupted: writing the matrix of the engines that finished")
            interrupted = True
            break
    if confirm and not interrupted:
        try:
            runs = confirm_differences(runs, reports, suites, extra, confirm, echo, runner)
        except KeyboardInterrupt:
            echo("re-runs interrupted: writing the matrix of the first runs")
            interrupted = True
    diffs = differences(runs)
    markdown, page = _write_matrix(reports, runs, diffs)
    merged = merge_allure(runs, reports / "matrix" / "allure-results")
    write_allure_result(merged, runs, diffs, page, markdown)
    index = _html_report(merged, reports, echo) if html else None
    return MatrixResult(
        runs,
        diffs,
        reports / "matrix.md",
        reports / "matrix.html",
        index,
        interrupted,
    )
