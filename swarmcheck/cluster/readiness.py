"""Waiting with a deadline: poll a condition, keep the last thing seen for the error message."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from swarmcheck.errors import EngineAPIError, ReadinessTimeout

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None],
    *,
    what: str,
    timeout_s: float,
    interval_s: float = 0.2,
    log_tail: Callable[[], str] | None = None,
    node: str | None = None,
) -> T:
    """Call ``probe`` until it returns something other than None; return that value.

    Engine errors count as "not yet" (a node restarting, an election in progress); the last
    one is reported if the deadline passes. ``log_tail`` adds daemon logs to the timeout.
    """
    last_error: list[str] = []

    def attempt() -> T | None:
        try:
            return probe()
        except EngineAPIError as exc:
            last_error[:] = [str(exc).splitlines()[0][:300]]
            return None

    retrying = Retrying(
        stop=stop_after_delay(timeout_s),
        wait=wait_fixed(interval_s),
        retry=retry_if_result(lambda value: value is None),
    )
    try:
        value = retrying(attempt)
        if value is not None:
            return value
    except RetryError:
        pass
    raise ReadinessTimeout(
        what,
        timeout_s,
        node=node,
        log_tail=log_tail() if log_tail else None,
        last_error=last_error[0] if last_error else None,
    )


class Stopwatch:
    """Monotonic elapsed seconds, for the figures suites report."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.started
