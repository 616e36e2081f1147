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
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from swarmcheck.cache import cache_dir as swarmcheck_cache
from swarmcheck.cache import file_lock
from swarmcheck.cluster.debian import apt_install
from swarmcheck.errors import ConfigError, EnvironmentProblem
from swarmcheck.progress import run_with_progress
from swarmcheck.reporting.allure3 import (
    ALLURE3_PACKAGE,
    HISTORY_FILE,
    allure3_binary,
    allure3_config,
    write_config,
)

__all__ = [
    "ALLURE_PACKAGE",
    "DEFAULT_TOOL",
    "GENERATE_TIMEOUT_S",
    "TOOLS",
    "allure_binary",
    "default_cache_dir",
    "ensure_allure_cli",
    "generate_html",
]

log = logging.getLogger("swarmcheck.reporting")

ALLURE_PACKAGE = "allure-commandline@2"
TOOLS = ("allure3", "allure2")
DEFAULT_TOOL = "allure3"
"""Allure 3 needs only Node.js; Allure 2 (Java) adds a categories trend and CI build names on
the trend's points (see README, "The HTML report")."""
GENERATE_TIMEOUT_S = 300.0
INSTALL_TIMEOUT_S = 300.0
_TAIL_LINES = 25


def default_cache_dir(tool: str = DEFAULT_TOOL) -> Path:
    """``$XDG_CACHE_HOME/swarmcheck/allure`` (Allure 2) or ``.../allure3`` (``~/.cache/...``):
    where the report tool is installed."""
    return swarmcheck_cache("allure" if tool == "allure2" else tool)


def allure_binary(cache_dir: Path, tool: str = "allure2") -> Path:
    """The report tool inside an npm prefix: Allure 2's launcher script (it runs Java
    directly, not via node), or Allure 3's command (a Node.js script)."""
    if tool == "allure3":
        return allure3_binary(cache_dir)
    return cache_dir / "node_modules" / "allure-commandline" / "dist" / "bin" / "allure"


def _tail(output: str) -> str:
    lines = output.strip().splitlines()
    return "\n".join(lines[-_TAIL_LINES:]) if lines else "(no output)"


def _run(cmd: Sequence[str], timeout_s: float, what: str) -> str:
    """Run ``cmd`` in its own process group (a progress line every few seconds); kill the
    whole group when it overruns. Returns the output's tail."""
    log.debug("running: %s", " ".join(cmd))
    try:
        done = run_with_progress(cmd, what, log, timeout_s=timeout_s, tail_lines=_TAIL_LINES)
    except OSError as exc:
        raise EnvironmentProblem(f"{what}: could not start {cmd[0]}: {exc}") from exc
    if done.timed_out:
        raise EnvironmentProblem(
            f"{what} did not finish within {timeout_s:.0f}s; last output:\n"
            f"{done.tail or '(no output)'}"
        )
    if done.returncode != 0:
        raise EnvironmentProblem(
            f"{what} failed (exit code {done.returncode}); last output:\n"
            f"{done.tail or '(no output)'}"
        )
    return done.tail


def _check_java() -> None:
    """Allure needs a Java runtime: the one in JAVA_HOME if set, else ``java`` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no java on PATH"
        raise EnvironmentProblem(
            f"the Allure command line needs Java 8 or newer ({where}): install a Java runtime "
            "(Debian/Ubuntu: apt-get install -y default-jre-headless) or set JAVA_HOME"
        )
    _run([java, "-version"], 60, "java -version")


def _check_node() -> str:
    """Allure 3 runs on Node.js: ``node`` on PATH (Debian and Ubuntu's npm package brings it)."""
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        raise EnvironmentProblem(
            "the Allure 3 report needs Node.js (no node on PATH): install it (Debian/Ubuntu: "
            "apt-get install -y npm), or use Allure 2 with Java: swarmcheck report --tool allure2"
        )
    return node


def _usable(binary: Path, tool: str) -> bool:
    """Allure 2's launcher is executed; Allure 3's script is read by node."""
    return binary.is_file() and os.access(binary, os.X_OK if tool == "allure2" else os.R_OK)


def _npm() -> str:
    """npm on PATH, installed with apt (Debian's npm brings Node.js) when it is missing."""
    npm = shutil.which("npm")
    if npm is None:
        apt_install(
            "npm",
            why="npm installs the Allure report tool (and brings Node.js): install Node.js "
            "with npm yourself, or skip the HTML report (the results stay in "
            "reports/allure-results)",
        )
        npm = shutil.which("npm")
    if npm is None:
        raise EnvironmentProblem("apt-get installed npm but there is still no npm on PATH")
    return npm


def _check_tool(tool: str) -> None:
    if tool not in TOOLS:
        raise ConfigError(f"unknown report tool {tool!r}: choose {' or '.join(TOOLS)}")


def ensure_allure_cli(cache_dir: Path | None = None, tool: str = DEFAULT_TOOL) -> Path:
    """Return the report tool, installing it with npm if needed (``allure@3`` for
    ``allure3``, ``allure-commandline@2`` for ``allure2``; npm itself with apt when missing).

    ``cache_dir`` defaults to :func:`default_cache_dir`. Raises EnvironmentProblem
    naming what to install when Java (Allure 2), Node.js or npm is missing, or when the
    install fails.
    """
    _check_tool(tool)
    cache_dir = (cache_dir or default_cache_dir(tool)).expanduser()
    if tool == "allure2":
        _check_java()
    package = ALLURE3_PACKAGE if tool == "allure3" else ALLURE_PACKAGE
    binary = allure_binary(cache_dir, tool)
    if _usable(binary, tool):
        return binary
    if shutil.which("npm") is None and cache_dir != default_cache_dir(tool):
        # an explicit folder (tests, a user's choice): say what is missing, install nothing
        raise EnvironmentProblem(
            f"the Allure command line is not in {cache_dir} and npm is not on PATH to install "
            "it: install Node.js with npm (Debian/Ubuntu: apt-get install -y npm)"
        )
    npm = _npm()
    cache_dir.mkdir(parents=True, exist_ok=True)
    # parallel workers must not run npm into one folder at once
    with file_lock(cache_dir / ".install.lock"):
        if not _usable(binary, tool):  # another process may have installed it while we waited
            log.warning(
                "installing the report tool (%s) into %s: once, about a minute",
                package,
                cache_dir,
            )
            started = time.monotonic()
            _run(
                [npm, "install", "--prefix", str(cache_dir), "--no-audit", "--no-fund", package],
                INSTALL_TIMEOUT_S,
                f"npm install {package}",
            )
            log.warning("installed the report tool in %.0fs", time.monotonic() - started)
    if not _usable(binary, tool):
        raise EnvironmentProblem(
            f"npm installed {package} into {cache_dir} but {binary} is missing"
        )
    return binary


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
    _run(cmd, timeout_s, "allure generate" + (" --single-file" if single_file else ""))
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
    _check_tool(tool)
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
    node = _check_node()
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
        _run(
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
