"""Report steps for cluster actions and faults, without depending on any report format.

Library code wraps each change to the swarm in ``step(title)``: it always logs the title with
its duration, and runs inside whatever step recorder is installed. The pytest plugin installs
one that makes Allure steps; outside pytest nothing else happens. A leaf module: it imports
nothing of swarmcheck, so the client and cluster layers can use it freely.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

log = logging.getLogger("swarmcheck.steps")

StepRecorder = Callable[[str], AbstractContextManager[object]]

_recorder: StepRecorder | None = None


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
