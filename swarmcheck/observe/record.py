"""Expensive events recorded once: a leader stop, a quorum loss or a full restart, run once on
a cluster and judged by several checks, each its own promise."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from swarmcheck.cluster.interface import Swarm
from swarmcheck.errors import SwarmcheckError

log = logging.getLogger("swarmcheck.observe")


@dataclass
class EventRecord:
    """What one expensive event (a leader stop, a quorum loss, a full restart) showed, for
    several checks to judge, each its own promise.

    The event records as it goes; if a step fails, ``failure`` keeps why, and the checks whose
    part was recorded before still judge it while the others re-raise the failure.
    """

    timeline: list[str] = field(default_factory=list)
    failure: BaseException | None = None
    started: float = field(default_factory=time.monotonic)

    def note(self, what: str) -> None:
        """A line of the event's timeline (seconds since it began)."""
        self.timeline.append(f"{time.monotonic() - self.started:6.1f}s {what}")

    def now(self) -> float:
        return time.monotonic() - self.started

    def need(self, *parts: object) -> None:
        """Raise the event's failure when a part a check needs was never recorded."""
        if all(p is not None for p in parts):
            return
        if self.failure is not None:
            raise self.failure
        raise SwarmcheckError(f"the event did not record what this check needs:\n{self.story()}")

    def story(self) -> str:
        return "\n".join(self.timeline)


_RECORDS: dict[tuple[str, str], EventRecord] = {}
_RECORDS_LOCK = threading.Lock()
E = TypeVar("E", bound=EventRecord)


def recorded_once(cluster: Swarm, name: str, record: Callable[[E], None], blank: E) -> E:
    """Run the event ``name`` on ``cluster`` once, recording into ``blank``, and hand the same
    record to every check that asks for it on this cluster (a replaced cluster runs it again).

    An exception escaping ``record`` ends the event; it is kept in ``failure``.
    """
    key = (cluster.run_id, name)
    with _RECORDS_LOCK:
        known = _RECORDS.get(key)
    if known is not None:
        assert isinstance(known, type(blank))
        return known
    blank.started = time.monotonic()
    try:
        record(blank)
    except Exception as exc:
        blank.failure = exc
        blank.note(f"the event ended early: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    log.info("recorded event %s on %s:\n%s", name, cluster.run_id, blank.story())
    with _RECORDS_LOCK:
        _RECORDS[key] = blank
    return blank
