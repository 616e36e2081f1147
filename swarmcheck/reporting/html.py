"""Turn an Allure results folder into the HTML report a person opens in the morning.

The Allure 2 command line comes from npm (``allure-commandline@2``) into a cache folder, once;
it runs on Java. Trends across nights need the previous report's ``history/`` copied into the
new results before generating.

``--single-file`` writes only ``index.html`` (history data is embedded in it, but no
``history/`` folder is written), so for a single-file report Allure runs twice: once
multi-file into a temporary folder, only to obtain ``history/``, which is then kept beside the
single-file ``index.html`` in the report folder for the next run to pick up.
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
from swarmcheck.errors import ConfigError, EnvironmentProblem
from swarmcheck.progress import run_with_progress

__all__ = [
    "ALLURE_PACKAGE",
    "GENERATE_TIMEOUT_S",
    "allure_binary",
    "default_cache_dir",
    "ensure_allure_cli",
    "generate_html",
]

log = logging.getLogger("swarmcheck.reporting")

ALLURE_PACKAGE = "allure-commandline@2"
GENERATE_TIMEOUT_S = 300.0
INSTALL_TIMEOUT_S = 300.0
_TAIL_LINES = 25


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/swarmcheck/allure`` (``~/.cache/...``): where the Allure command line
    is installed."""
    return swarmcheck_cache("allure")


def allure_binary(cache_dir: Path) -> Path:
    """The Allure launcher script inside an npm prefix (it runs Java directly, not via node)."""
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


def _usable(binary: Path) -> bool:
    return binary.is_file() and os.access(binary, os.X_OK)


def ensure_allure_cli(cache_dir: Path | None = None) -> Path:
    """Return the Allure launcher, installing ``allure-commandline@2`` with npm if needed.

    ``cache_dir`` defaults to :func:`default_cache_dir`. Raises EnvironmentProblem
    naming what to install when Java or npm is missing, or when the install fails.
    """
    cache_dir = (cache_dir or default_cache_dir()).expanduser()
    _check_java()
    binary = allure_binary(cache_dir)
    if _usable(binary):
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise EnvironmentProblem(
            f"the Allure command line is not in {cache_dir} and npm is not on PATH to install "
            "it: install Node.js with npm (Debian/Ubuntu: apt-get install -y npm)"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    # parallel workers must not run npm into one folder at once
    with file_lock(cache_dir / ".install.lock"):
        if not _usable(binary):  # another process may have installed it while we waited
            log.warning(
                "installing the Allure command line (%s) into %s: once, about a minute",
                ALLURE_PACKAGE,
                cache_dir,
            )
            started = time.monotonic()
            _run(
                [
                    npm,
                    "install",
                    "--prefix",
                    str(cache_dir),
                    "--no-audit",
                    "--no-fund",
                    ALLURE_PACKAGE,
                ],
                INSTALL_TIMEOUT_S,
                f"npm install {ALLURE_PACKAGE}",
            )
            log.warning("installed the Allure command line in %.0fs", time.monotonic() - started)
    if not _usable(binary):
        raise EnvironmentProblem(
            f"npm installed {ALLURE_PACKAGE} into {cache_dir} but {binary} is missing"
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
