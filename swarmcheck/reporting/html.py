"""Turn an Allure results folder into the HTML report a person opens in the morning.

The Allure 2 command line is installed once per machine (``machine.allure``); it runs on Java.
Trends across nights need the previous report's ``history/`` copied into the new results
before generating.

``--single-file`` writes only ``index.html`` (history data is embedded in it, but no
``history/`` folder is written), so for a single-file report Allure runs twice: once
multi-file into a temporary folder, only to obtain ``history/``, which is then kept beside the
single-file ``index.html`` in the report folder for the next run to pick up.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from swarmcheck.errors import ConfigError, EnvironmentProblem
from swarmcheck.machine.allure import ensure_allure_cli, run_tool

__all__ = ["GENERATE_TIMEOUT_S", "generate_html"]

log = logging.getLogger("swarmcheck.reporting")

GENERATE_TIMEOUT_S = 300.0


def _carry_history(report_dir: Path, results_dir: Path) -> None:
    """Copy the previous report's ``history/`` into the results, so trends continue."""
    previous = report_dir / "history"
    if not previous.is_dir():
        log.info("no previous report history in %s: trends start with this run", report_dir)
        return
    target = results_dir / "history"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(previous, target)
    log.info("carried report history from %s into %s", previous, target)


def _check_replaceable(report_dir: Path) -> None:
    """``allure generate --clean`` deletes the output folder; refuse if it is not a report."""
    occupied = report_dir.is_dir() and any(report_dir.iterdir())
    if occupied and not (report_dir / "index.html").is_file():
        raise ConfigError(
            f"{report_dir} is not empty and holds no Allure report (no index.html); "
            "refusing to let `allure generate --clean` delete it: choose another report dir"
        )


def _generate(
    allure: Path,
    results_dir: Path,
    out_dir: Path,
    single_file: bool,
    report_name: str | None,
    timeout_s: float,
) -> None:
    cmd = [str(allure), "generate", str(results_dir), "-o", str(out_dir), "--clean"]
    if single_file:
        cmd.append("--single-file")
    if report_name:
        cmd += ["--name", report_name]
    started = time.monotonic()
    run_tool(cmd, timeout_s, "allure generate" + (" --single-file" if single_file else ""))
    log.info(
        "allure generate%s -> %s took %.1fs",
        " --single-file" if single_file else "",
        out_dir,
        time.monotonic() - started,
    )


def generate_html(
    results_dir: Path,
    report_dir: Path,
    single_file: bool = True,
    *,
    report_name: str | None = None,
    cache_dir: Path | None = None,
    timeout_s: float = GENERATE_TIMEOUT_S,
) -> Path:
    """Generate the HTML report from ``results_dir`` into ``report_dir``; return its index.html.

    ``report_dir`` is replaced, but its ``history/`` is carried into the new report first.
    With ``single_file`` the report is one self-contained ``index.html`` (opens from file://)
    plus the ``history/`` folder for the next run. Each Allure run is limited to ``timeout_s``.
    """
    results_dir, report_dir = Path(results_dir), Path(report_dir)
    if not results_dir.is_dir():
        raise ConfigError(f"no Allure results folder at {results_dir}: run pytest with --alluredir")
    _check_replaceable(report_dir)
    allure = ensure_allure_cli(cache_dir)
    _carry_history(report_dir, results_dir)
    started = time.monotonic()
    if single_file:
        _generate(allure, results_dir, report_dir, True, report_name, timeout_s)
        with tempfile.TemporaryDirectory(prefix="swarmcheck-allure-") as scratch:
            multi = Path(scratch) / "report"
            _generate(allure, results_dir, multi, False, report_name, timeout_s)
            if (multi / "history").is_dir():
                shutil.copytree(multi / "history", report_dir / "history")
    else:
        _generate(allure, results_dir, report_dir, False, report_name, timeout_s)
    index = report_dir / "index.html"
    if not index.is_file():
        raise EnvironmentProblem(f"allure generate reported success but wrote no {index}")
    log.info("Allure report ready at %s (%.1fs)", index, time.monotonic() - started)
    return index
