"""The Allure 2 command line, installed once per machine for the HTML report.

It comes from npm (``allure-commandline@2``) into swarmcheck's cache folder, under a lock so
parallel processes install it once, and runs on Java.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from swarmcheck.cache import cache_dir as swarmcheck_cache
from swarmcheck.cache import file_lock
from swarmcheck.errors import EnvironmentProblem
from swarmcheck.progress import run_with_progress

log = logging.getLogger("swarmcheck.reporting")

ALLURE_PACKAGE = "allure-commandline@2"
INSTALL_TIMEOUT_S = 300.0
_TAIL_LINES = 25


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/swarmcheck/allure`` (``~/.cache/...``): where the Allure command line
    is installed."""
    return swarmcheck_cache("allure")


def allure_binary(cache_dir: Path) -> Path:
    """The Allure launcher script inside an npm prefix (it runs Java directly, not via node)."""
    return cache_dir / "node_modules" / "allure-commandline" / "dist" / "bin" / "allure"


def run_tool(cmd: Sequence[str], timeout_s: float, what: str) -> str:
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
    run_tool([java, "-version"], 60, "java -version")


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
            run_tool(
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
