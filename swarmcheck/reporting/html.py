"""Turn an Allure results folder into the HTML report a person opens in the morning.

Two report tools, each installed from npm into a cache folder, once:

- ``allure3`` (the default): the npm package ``allure``, which runs on Node.js. Its trend
  lives in one file, ``history/history.jsonl`` in the report folder (``reporting.allure3``).
- ``allure2``: ``allure-commandline@2``, which runs on Java (8 or newer). Trends need the
  previous report's ``history/`` copied into the new results before generating.
  ``--single-file`` writes only ``index.html`` (no ``history/`` folder), so for a single-file
  report Allure 2 runs twice: once multi-file into a temporary folder, only to obtain
  ``history/``, which is then kept beside the single-file ``index.html``.

Either way the report folder holds ``index.html`` and ``history/``; a folder that holds only
``history/`` (what a nightly job restores from its cache) is a report folder too.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from swarmcheck.errors import ConfigError, EnvironmentProblem
from swarmcheck.machine.allure import (
    DEFAULT_TOOL,
    check_node,
    check_tool,
    ensure_allure_cli,
    run_tool,
)
from swarmcheck.reporting.allure3 import HISTORY_FILE, allure3_config, write_config

__all__ = ["DEFAULT_TOOL", "GENERATE_TIMEOUT_S", "generate_html"]

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
    """The report folder is replaced; refuse if it holds something else than a report: an
    ``index.html``, or only the ``history/`` a nightly job restored from its cache."""
    entries = {entry.name for entry in report_dir.iterdir()} if report_dir.is_dir() else set()
    if entries - {"history"} and "index.html" not in entries:
        raise ConfigError(
            f"{report_dir} is not empty and holds no Allure report (no index.html, and more "
            f"than a history/ folder: {', '.join(sorted(entries)[:5])}); refusing to replace "
            "it: choose another report dir"
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
    tool: str = DEFAULT_TOOL,
) -> Path:
    """Generate the HTML report from ``results_dir`` into ``report_dir``; return its index.html.

    ``report_dir`` is replaced, but its ``history/`` is carried into the new report first.
    With ``single_file`` the report is one self-contained ``index.html`` (opens from file://)
    plus the ``history/`` folder for the next run. Each Allure run is limited to ``timeout_s``.
    """
    check_tool(tool)
    results_dir, report_dir = Path(results_dir), Path(report_dir)
    if not results_dir.is_dir():
        raise ConfigError(f"no Allure results folder at {results_dir}: run pytest with --alluredir")
    _check_replaceable(report_dir)
    allure = ensure_allure_cli(cache_dir, tool)
    started = time.monotonic()
    if tool == "allure3":
        _generate3(allure, results_dir, report_dir, single_file, report_name, timeout_s)
    else:
        _carry_history(report_dir, results_dir)
        _generate(allure, results_dir, report_dir, single_file, report_name, timeout_s)
        if single_file:  # Allure 2 writes no history/ then: a multi-file run makes it
            with tempfile.TemporaryDirectory(prefix="swarmcheck-allure-") as scratch:
                multi = Path(scratch) / "report"
                _generate(allure, results_dir, multi, False, report_name, timeout_s)
                if (multi / "history").is_dir():
                    shutil.copytree(multi / "history", report_dir / "history")
    index = report_dir / "index.html"
    if not index.is_file():
        raise EnvironmentProblem(f"allure generate reported success but wrote no {index}")
    log.info("Allure report ready at %s (%.1fs)", index, time.monotonic() - started)
    return index


def _generate3(
    allure: Path,
    results_dir: Path,
    report_dir: Path,
    single_file: bool,
    report_name: str | None,
    timeout_s: float,
) -> None:
    """Allure 3 into a scratch folder, the previous history file given to it; then the report
    folder is replaced by the new report and its (now one run longer) history."""
    node = check_node()
    previous = report_dir / "history" / HISTORY_FILE
    with tempfile.TemporaryDirectory(prefix="swarmcheck-allure3-") as scratch:
        out = Path(scratch) / "report"
        history = Path(scratch) / "history" / HISTORY_FILE
        history.parent.mkdir()
        if previous.is_file():
            shutil.copyfile(previous, history)
        else:
            log.info("no previous report history in %s: trends start with this run", report_dir)
        config = allure3_config(out, history, single_file=single_file, report_name=report_name)
        rc = write_config(Path(scratch) / "allurerc.json", config)
        clock = time.monotonic()
        run_tool(
            [node, str(allure), "generate", "--config", str(rc), str(results_dir.absolute())],
            timeout_s,
            "allure generate (Allure 3)",
        )
        log.info("allure generate (Allure 3) -> %s took %.1fs", out, time.monotonic() - clock)
        if not (out / "index.html").is_file():
            raise EnvironmentProblem(f"Allure 3 reported success but wrote no {out}/index.html")
        shutil.copytree(history.parent, out / "history")
        if report_dir.exists():
            shutil.rmtree(report_dir)
        report_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(out), str(report_dir))
