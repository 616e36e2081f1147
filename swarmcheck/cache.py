"""This machine's swarmcheck cache folder, and the one file lock that serialises work in it.

Image builds, the Toxiproxy binary, the Allure command line and package installs happen once
per machine; several processes (pytest-xdist workers, parallel runs) may reach them at the
same time, so each such step runs under :func:`file_lock`. A leaf module: it imports only
``swarmcheck.errors``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from swarmcheck.errors import EnvironmentProblem


def cache_dir(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/swarmcheck/<parts>`` (default ``~/.cache``), created if missing."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base, "swarmcheck", *parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EnvironmentProblem(f"cannot create the cache folder {path}: {exc}") from exc
    return path


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the block; other
    processes wait. Released when the block ends or the process dies."""
    try:
        handle = path.open("a+b")
    except OSError as exc:
        raise EnvironmentProblem(f"cannot open the lock file {path}: {exc}") from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_built_binary(path: Path) -> bool:
    """Whether ``path`` is an executable ELF file: a binary built into the cache (the Toxiproxy
    server, the history checker) that a killed or failed build did not leave half-written."""
    try:
        with open(path, "rb") as handle:
            return handle.read(4) == b"\x7fELF" and os.access(path, os.X_OK)
    except OSError:
        return False
