"""Report steps for cluster actions and faults: an Allure step when a test report is being
written (a no-op otherwise), and a log line with its duration either way."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import allure

log = logging.getLogger("swarmcheck.steps")


@contextmanager
def step(title: str) -> Iterator[None]:
    """Run a block as a named step; its duration goes into the step title's log line."""
    started = time.monotonic()
    with allure.step(title):
        try:
            yield
        finally:
            log.info("%s (%.2f s)", title, time.monotonic() - started)
