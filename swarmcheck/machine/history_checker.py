"""The history checker: a small Go program using Porcupine, built here from its source.

The source (``fixtures/history-checker/``, package data through ``swarmcheck.recipes``) pins
:data:`PORCUPINE_MODULE` at :data:`PORCUPINE_VERSION` in go.mod and go.sum; ``go build`` fetches
it from the Go module proxy the first time on a machine. The binary is cached under
``$XDG_CACHE_HOME/swarmcheck/history-checker/`` (default ``~/.cache``), named after a hash of the
source files, the build flags and the machine's architecture: built once per machine and source,
under a file lock so parallel processes build it once, with a progress line every 10 s.

Where Go is missing (or too old, or the module proxy cannot be reached) and no binary is cached,
:func:`ensure_history_checker` raises ``HistoryCheckerUnavailable``, an ``EnvironmentProblem``:
the consistency checks skip with its reason; they never pass without a verdict.
"""

from __future__ import annotations

import hashlib
import logging
import os
import platform
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from swarmcheck.cache import cache_dir, file_lock, is_built_binary
from swarmcheck.errors import CheckerError, HistoryCheckerUnavailable
from swarmcheck.progress import run_with_progress
from swarmcheck.recipes import history_checker_sources
from swarmcheck.timing import Stopwatch

log = logging.getLogger("swarmcheck.machine")

PORCUPINE_MODULE = "github.com/anishathalye/porcupine"
PORCUPINE_VERSION = "v1.3.1"
MIN_GO = (1, 21)  # go.mod says "go 1.21"
BINARY_NAME = "history-checker"

#: Bump when the build changes in a way the source files and flags do not capture.
_BUILD_REVISION = 1
_GO_BUILD_FLAGS = ("-mod=readonly", "-trimpath", "-ldflags=-s -w")
# GOTOOLCHAIN=local: never download another Go; CGO off: a static binary that needs nothing.
_GO_ENV = {"CGO_ENABLED": "0", "GOTOOLCHAIN": "local"}
_FETCH_TIMEOUT_S = 10 * 60
_BUILD_TIMEOUT_S = 10 * 60


def source_hash() -> str:
    """Hash of what determines the binary: every source file, the flags, the architecture."""
    digest = hashlib.sha256()
    for part in (str(_BUILD_REVISION), " ".join(_GO_BUILD_FLAGS), platform.machine()):
        digest.update(part.encode() + b"\0")
    for source in history_checker_sources():
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def binary_path() -> Path:
    """Where the binary for this source is cached (it may not be built yet)."""
    folder = cache_dir(BINARY_NAME)
    return folder / f"{BINARY_NAME}-{PORCUPINE_VERSION}-{platform.machine()}-{source_hash()[:12]}"


def cached_history_checker() -> Path | None:
    """The built binary, or None when it is not built yet."""
    binary = binary_path()
    return binary if is_built_binary(binary) else None


def ensure_history_checker() -> Path:
    """The history checker's binary, built first if needed (once per machine and source).

    Raises:
        HistoryCheckerUnavailable: it is not built and Go is missing or too old, or Porcupine
            cannot be fetched from the Go module proxy.
        CheckerError: the source does not compile (a swarmcheck defect, not the machine's).
    """
    binary = binary_path()
    if is_built_binary(binary):
        return binary
    with file_lock(binary.parent / ".build.lock"):
        if is_built_binary(binary):  # another process built it while we waited
            return binary
        _build(binary)
    return binary


def require_go() -> str:
    """The ``go`` command, at least :data:`MIN_GO`; HistoryCheckerUnavailable saying why not."""
    go = shutil.which("go")
    if go is None:
        raise HistoryCheckerUnavailable(_unavailable("no `go` command on PATH"))
    try:
        done = subprocess.run(
            [go, "env", "GOVERSION"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            env={**os.environ, **_GO_ENV},
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise HistoryCheckerUnavailable(
            _unavailable(f"`{go} env GOVERSION` failed: {exc}")
        ) from exc
    found = re.match(r"go(\d+)\.(\d+)", done.stdout.strip())
    if found is None or (int(found[1]), int(found[2])) < MIN_GO:
        raise HistoryCheckerUnavailable(
            _unavailable(f"{go} is {done.stdout.strip() or 'of an unknown version'}")
        )
    return go


def _unavailable(why: str) -> str:
    return (
        f"the history checker (Porcupine {PORCUPINE_VERSION}) is not built and cannot be built "
        f"here: {why}. Install Go >= {MIN_GO[0]}.{MIN_GO[1]} (it must be on PATH as `go`; the "
        "first build fetches Porcupine from the Go module proxy, seconds once per machine), "
        "then run `swarmcheck setup --history-checker`"
    )


def _build(binary: Path) -> None:
    go = require_go()
    log.warning("building the history checker (Porcupine %s) with Go, once", PORCUPINE_VERSION)
    clock = Stopwatch()
    env = {**os.environ, **_GO_ENV}
    with tempfile.TemporaryDirectory(dir=binary.parent, prefix=".build-") as scratch:
        work = Path(scratch)
        for source in history_checker_sources():
            (work / source.name).write_bytes(source.read_bytes())
        # -C (Go >= 1.20, first flag): run in the copied module
        fetch = [go, "mod", "download", "-C", scratch, PORCUPINE_MODULE]
        done = _run(fetch, env, "fetching Porcupine", _FETCH_TIMEOUT_S)
        if done is not None:
            raise HistoryCheckerUnavailable(
                _unavailable(
                    f"`{' '.join(fetch)}` failed (is the Go module proxy reachable?)\n{done}"
                )
            )
        out = work / BINARY_NAME
        build = [go, "build", "-C", scratch, *_GO_BUILD_FLAGS, "-o", str(out), "."]
        done = _run(build, env, "building the history checker", _BUILD_TIMEOUT_S)
        if done is not None or not is_built_binary(out):
            raise CheckerError(
                f"the history checker's source does not build with `{' '.join(build)}` "
                f"(a swarmcheck defect):\n{done or 'no binary was written'}"
            )
        os.replace(out, binary)  # same file system: atomic
    log.warning("built the history checker in %.0f s; cached at %s", clock(), binary)


def _run(command: list[str], env: dict[str, str], what: str, timeout_s: float) -> str | None:
    """Run a Go command; None when it worked, else what went wrong."""
    try:
        done = run_with_progress(command, what, log, timeout_s=timeout_s, env=env)
    except OSError as exc:
        return f"cannot run {command[0]}: {exc}"
    if done.timed_out:
        return f"timed out after {timeout_s:.0f} s\n{done.tail}"
    if done.returncode != 0:
        return f"exit {done.returncode}\n{done.tail}"
    return None
