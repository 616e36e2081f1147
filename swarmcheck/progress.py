"""Long set-up commands (mmdebstrap, go install, npm install) with a sign of life.

A person running ``./run suites`` on a fresh machine waits minutes for the node image, the
Toxiproxy build and the Allure command line. ``run_with_progress`` runs such a command in its
own process group and logs a line every ``every_s`` seconds with the time so far and the
command's latest output line (mmdebstrap's ``I: ...`` steps, the Go package being compiled,
npm's messages), so the wait is never silent. A leaf module: it imports nothing of swarmcheck.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PROGRESS_EVERY_S = 10.0


@dataclass(frozen=True)
class Finished:
    """How a command ended: its exit code (None: killed at the timeout) and its output tail."""

    returncode: int | None
    tail: str
    elapsed_s: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def run_with_progress(
    cmd: Sequence[str],
    what: str,
    log: logging.Logger,
    *,
    timeout_s: float,
    env: Mapping[str, str] | None = None,
    every_s: float = PROGRESS_EVERY_S,
    tail_lines: int = 25,
) -> Finished:
    """Run ``cmd``; log ``what: N s so far (latest output)`` every ``every_s`` seconds.

    Output (stdout and stderr together) is kept to its last ``tail_lines`` lines for error
    messages. At ``timeout_s`` the whole process group is killed. Raises OSError when the
    command cannot start.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        list(cmd),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        env=dict(env) if env is not None else None,
        start_new_session=True,
    )
    tail: deque[str] = deque(maxlen=tail_lines)

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip():
                tail.append(line.rstrip())

    reader = threading.Thread(target=read, name=f"progress {what}", daemon=True)
    reader.start()
    deadline = started + timeout_s
    returncode: int | None = None
    while True:
        try:
            returncode = proc.wait(timeout=max(0.0, min(every_s, deadline - time.monotonic())))
            break
        except subprocess.TimeoutExpired:
            elapsed = time.monotonic() - started
            if time.monotonic() >= deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                returncode = None
                break
            latest = tail[-1][:120] if tail else "no output yet"
            log.warning("%s: %.0f s so far (%s)", what, elapsed, latest)
    reader.join(timeout=5)
    return Finished(returncode, "\n".join(tail), time.monotonic() - started)
