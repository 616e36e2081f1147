"""Report steps and attachments for cluster actions, faults and checks, without depending on
any report format.

Library code wraps each change to the swarm in ``step(title)``: it always logs the title with
its duration, and runs inside whatever step recorder is installed. A check attaches a text or
JSON document to its report with ``attach``. The pytest plugin installs a recorder that makes
Allure steps and an attacher that makes Allure attachments; outside pytest nothing else
happens. A leaf module: it imports nothing of swarmcheck, so the client and cluster layers can
use it freely.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

log = logging.getLogger("swarmcheck.steps")

StepRecorder = Callable[[str], AbstractContextManager[object]]
Attacher = Callable[[str, str, str], None]
"""(body, name, kind): kind is one of KINDS."""
KINDS = ("text", "json", "html")

_recorder: StepRecorder | None = None
_attacher: Attacher | None = None


def install_recorder(recorder: StepRecorder | None) -> StepRecorder | None:
    """Make ``recorder(title)`` wrap every step (None: only log); return the previous one."""
    global _recorder
    previous, _recorder = _recorder, recorder
    return previous


@contextmanager
def step(title: str) -> Iterator[None]:
    """Run a block as a named step; its duration goes into the step's log line."""
    started = time.monotonic()
    outer = _recorder(title) if _recorder is not None else contextlib.nullcontext()
    with outer:
        try:
            yield
        finally:
            log.info("%s (%.2f s)", title, time.monotonic() - started)


def install_attacher(attacher: Attacher | None) -> Attacher | None:
    """Make ``attacher(body, name, kind)`` receive every attachment (None: only log); return
    the previous one."""
    global _attacher
    previous, _attacher = _attacher, attacher
    return previous


def attach(body: str, name: str, kind: str = "text") -> None:
    """Attach ``body`` (``kind`` text, json or html) to the report of the check now running."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if _attacher is None:
        log.info("attachment %s (%d characters)", name, len(body))
        return
    _attacher(body, name, kind)


def attach_file(path: str | Path, name: str, kind: str = "text") -> None:
    """Attach a file's text (a saved history, a checker's visualization) like ``attach``."""
    attach(Path(path).read_text(encoding="utf-8"), name, kind)
