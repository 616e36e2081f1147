"""Time and waiting, for every layer: ``wait_until`` (until something holds), ``hold``
(something keeps holding), a stopwatch and the boot clock.

A leaf module (it imports only ``swarmcheck.errors``): cluster provisioning, workloads,
faults and suites all wait through ``wait_until``, so every timeout says what was awaited,
for how long, and the last thing seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from swarmcheck.errors import EngineAPIError, ReadinessTimeout, SwarmPromiseBroken

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None],
    *,
    what: str,
    timeout_s: float,
    interval_s: float = 0.2,
    log_tail: Callable[[], str] | None = None,
    node: str | None = None,
    transient: tuple[type[BaseException], ...] = (EngineAPIError,),
    timeout_error: Callable[[str, float, str | None], Exception] | None = None,
) -> T:
    """Call ``probe`` until it returns something other than None; return that value.

    Exceptions of the ``transient`` types count as "not yet" (a node restarting, an election
    in progress); the last one is reported if the deadline passes. ``log_tail`` adds daemon
    logs to the timeout. ``timeout_error(what, timeout_s, last_error)`` builds the exception
    raised at the deadline (default: ``ReadinessTimeout``, an environment problem); checks of
    a documented behaviour pass one that raises ``SwarmPromiseBroken``.
    """
    last_error: list[str] = []

    def attempt() -> T | None:
        try:
            return probe()
        except transient as exc:
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
    last = last_error[0] if last_error else None
    if timeout_error is not None:
        raise timeout_error(what, timeout_s, last)
    raise ReadinessTimeout(
        what,
        timeout_s,
        node=node,
        log_tail=log_tail() if log_tail else None,
        last_error=last,
    )


def hold(window_s: float, problem: Callable[[], str | None], interval_s: float = 0.5) -> None:
    """Watch something for ``window_s``: ``problem()`` names what is wrong (or returns None)
    at every look, the first problem is a broken promise. For behaviours that must persist
    ("still pending", "not moved back"), where no single look proves anything. ``problem``
    may also raise a ``SwarmPromiseBroken`` of its own (with expected/seen)."""
    clock = Stopwatch()
    while True:
        wrong = problem()
        if wrong:
            raise SwarmPromiseBroken(wrong)
        if clock() >= window_s:
            return
        time.sleep(interval_s)


class Stopwatch:
    """Monotonic elapsed seconds, for the figures suites report."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.started


def boot_clock() -> float:
    """Seconds since boot: the clock probes write, so host-side events can be compared."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)
