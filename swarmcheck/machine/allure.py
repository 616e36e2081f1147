"""The HTML report tools, installed once per machine from npm into swarmcheck's cache folder.

- ``allure3`` (the default): the npm package ``allure``, a Node.js program (no Java).
- ``allure2``: ``allure-commandline@2``, which runs on Java (8 or newer).

npm itself (with Node.js) is installed with apt when missing. Installs run under a lock, so
parallel processes install a tool once. ``run_tool`` runs either tool (or its installer) with
progress lines and a deadline.
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
from swarmcheck.errors import ConfigError, EnvironmentProblem
from swarmcheck.machine.debian import apt_install
from swarmcheck.progress import run_with_progress

log = logging.getLogger("swarmcheck.reporting")

ALLURE_PACKAGE = "allure-commandline@2"
ALLURE3_PACKAGE = "allure@3.18.0"
"""The version whose report was checked in a browser (categories, environment, trend, plots)."""
TOOLS = ("allure3", "allure2")
DEFAULT_TOOL = "allure3"
"""Allure 3 needs only Node.js; Allure 2 (Java) adds a categories trend and CI build names on
the trend's points (see README, "The HTML report")."""
INSTALL_TIMEOUT_S = 300.0
_TAIL_LINES = 25


def default_cache_dir(tool: str = DEFAULT_TOOL) -> Path:
    """``$XDG_CACHE_HOME/swarmcheck/allure`` (Allure 2) or ``.../allure3`` (``~/.cache/...``):
    where the report tool is installed."""
    return swarmcheck_cache("allure" if tool == "allure2" else tool)


def allure3_binary(cache_dir: Path) -> Path:
    """The Allure 3 command inside an npm prefix (a Node.js script)."""
    return cache_dir / "node_modules" / "allure" / "cli.js"


def allure_binary(cache_dir: Path, tool: str = "allure2") -> Path:
    """The report tool inside an npm prefix: Allure 2's launcher script (it runs Java
    directly, not via node), or Allure 3's command (a Node.js script)."""
    if tool == "allure3":
        return allure3_binary(cache_dir)
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
    """Allure 2 needs a Java runtime: the one in JAVA_HOME if set, else ``java`` on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
    if not java or not os.access(java, os.X_OK):
        where = f"JAVA_HOME={java_home} has no bin/java" if java_home else "no java on PATH"
        raise EnvironmentProblem(
            f"the Allure command line needs Java 8 or newer ({where}): install a Java runtime "
            "(Debian/Ubuntu: apt-get install -y default-jre-headless) or set JAVA_HOME"
        )
    run_tool([java, "-version"], 60, "java -version")


def check_node() -> str:
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


def check_tool(tool: str) -> None:
    """A report tool swarmcheck knows, else a usage error naming the choices."""
    if tool not in TOOLS:
        raise ConfigError(f"unknown report tool {tool!r}: choose {' or '.join(TOOLS)}")


def _install(npm: str, package: str, cache_dir: Path, binary: Path, tool: str) -> None:
    cache_dir.mkdir(parents=True, exist_ok=True)
    # parallel workers must not run npm into one folder at once
    with file_lock(cache_dir / ".install.lock"):
        if _usable(binary, tool):  # another process installed it while we waited
            return
        log.warning(
            "installing the report tool (%s) into %s: once, about a minute", package, cache_dir
        )
        started = time.monotonic()
        run_tool(
            [npm, "install", "--prefix", str(cache_dir), "--no-audit", "--no-fund", package],
            INSTALL_TIMEOUT_S,
            f"npm install {package}",
        )
        log.warning("installed the report tool in %.0fs", time.monotonic() - started)


def ensure_allure_cli(cache_dir: Path | None = None, tool: str = DEFAULT_TOOL) -> Path:
    """Return the report tool, installing it with npm if needed (``allure@3`` for
    ``allure3``, ``allure-commandline@2`` for ``allure2``; npm itself with apt when missing).

    ``cache_dir`` defaults to :func:`default_cache_dir`. Raises EnvironmentProblem
    naming what to install when Java (Allure 2), Node.js or npm is missing, or when the
    install fails.
    """
    check_tool(tool)
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
    _install(_npm(), package, cache_dir, binary, tool)
    if not _usable(binary, tool):
        raise EnvironmentProblem(
            f"npm installed {package} into {cache_dir} but {binary} is missing"
        )
    return binary
