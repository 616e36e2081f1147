"""The one sampler loop: a thread that takes a sample every interval until stopped.

Every sampler of swarmcheck (leaders, containers, update progress, node states, writes) is a
``Sampler``: it says what one round reads (``sample``), and the base runs the rounds, keeps
the samples with their times and survives what a fault does to the swarm meanwhile. A round
or a target that does not answer (an engine stopped, frozen or cut off: ``EngineAPIError``)
is a recorded gap, never a hung or failed check; the checker judges samples and gaps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, Self, TypeVar

from swarmcheck.errors import EngineAPIError
from swarmcheck.timing import boot_clock

S = TypeVar("S")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Gap:
    """A round (``target`` "round") or one target of a round that gave no sample, at ``t``
    (``timing.boot_clock``), and why."""

    t: float
    target: str
    error: str


class Sampler(Generic[S]):
    """Samples every ``interval_s`` in a thread of its own, from ``start()`` (or entering it as
    a context manager) until ``stop()``; ``samples`` and ``gaps`` grow meanwhile.

    A subclass says what one round reads: ``sample(t)`` returns the round's samples (``t``:
    when the round began, ``timing.boot_clock``); an ``EngineAPIError`` it raises is a gap for
    the whole round. Targets asked at once (``ask_each``, with ``parallel`` threads) give
    a gap each when they do not answer, and the round keeps the others' samples.
    """

    name = "sampler"

    def __init__(self, interval_s: float, stop_timeout_s: float, parallel: int = 1) -> None:
        self.interval_s = interval_s
        self.stop_timeout_s = stop_timeout_s
        """How long ``stop()`` waits for the round in progress (its calls' timeouts)."""
        self.samples: list[S] = []
        self.gaps: list[Gap] = []
        self.started = time.monotonic()
        self._parallel = max(1, parallel)
        self._pool: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def sample(self, t: float) -> Iterable[S]:
        """One round's samples (``t``: when it began)."""
        raise NotImplementedError

    def start(self) -> Self:
        self.started = time.monotonic()
        self._thread.start()
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> list[S]:
        """Stop sampling (after the round in progress); the samples taken."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.stop_timeout_s)
        return list(self.samples)

    def ask_each(self, t: float, targets: Sequence[T], ask: Callable[[T], R | None]) -> list[R]:
        """``ask`` each target at once; a target that raises ``EngineAPIError`` is a gap, one
        that answers None gave nothing to record."""

        def one(target: T) -> R | Gap | None:
            try:
                return ask(target)
            except EngineAPIError as exc:
                return Gap(t, str(getattr(target, "name", target)), str(exc)[:200])

        found: list[R] = []
        for answer in self._running_pool().map(one, targets):
            if isinstance(answer, Gap):
                self.gaps.append(answer)
            elif answer is not None:
                found.append(answer)
        return found

    def submit(self, ask: Callable[[float], R], t: float) -> Future[R]:
        """Start ``ask(t)`` beside the round's other asks (``ask_each``)."""
        return self._running_pool().submit(ask, t)

    def _running_pool(self) -> ThreadPoolExecutor:
        assert self._pool is not None, "asks are made in sample(), while the sampler runs"
        return self._pool

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=self._parallel) as pool:
            self._pool = pool
            while not self._stop.is_set():
                t = boot_clock()
                try:
                    self.samples.extend(self.sample(t))
                except EngineAPIError as exc:
                    self.gaps.append(Gap(t, "round", str(exc)[:200]))
                self._stop.wait(self.interval_s)
