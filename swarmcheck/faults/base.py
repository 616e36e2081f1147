"""The fault API core: a fault starts, always heals, and leaves a window on a shared log.

Every fault records a :class:`FaultWindow` in a :class:`FaultLog` with times from
``boot_clock()`` (CLOCK_BOOTTIME), the clock availability probes write, so a report can draw
faults and probe results on one timeline. The window is conservative: it opens just before
injection begins and closes once healing has finished, so it covers every instant in which
the fault could have been in effect.

Healing is what makes a reused cluster trustworthy, hence the rules here: ``stop()`` is
idempotent, runs even when ``start()`` failed half-way, survives an interrupt while it runs
(Ctrl-C, SIGTERM or a test timeout: it finishes, then re-raises), and when it fails it marks
the cluster dirty (``cluster.dirty``) and raises :class:`FaultRecoveryError` so the pool
replaces the cluster.
"""

from __future__ import annotations

import itertools
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType, TracebackType
from typing import Any, Self

from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.node import Node
from swarmcheck.errors import FaultError, FaultRecoveryError
from swarmcheck.steps import step
from swarmcheck.timing import boot_clock

log = logging.getLogger("swarmcheck.faults")

ParamValue = str | int | float | bool | None | tuple[str, ...]


@dataclass(frozen=True)
class FaultWindow:
    """One fault on the timeline (boot-clock seconds); ``ended_at`` is None while active."""

    kind: str
    targets: tuple[str, ...]
    started_at: float
    ended_at: float | None
    params: Mapping[str, ParamValue] = field(default_factory=dict)
    apply_s: float | None = None
    """How long injecting took (None while injecting, or if it failed)."""
    heal_s: float | None = None
    """How long healing took (None until healed)."""
    error: str | None = None
    """Why injection or healing failed, if it did."""

    @property
    def active(self) -> bool:
        return self.ended_at is None

    @property
    def duration_s(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - self.started_at

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for reports."""
        return {
            "kind": self.kind,
            "targets": list(self.targets),
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.params.items()},
            "apply_s": self.apply_s,
            "heal_s": self.heal_s,
            "error": self.error,
        }


class FaultLog:
    """Thread-safe record of every fault window, and the registry of faults still active."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._windows: list[FaultWindow] = []
        self._active: dict[int, Fault] = {}

    def opened(self, fault: Fault, window: FaultWindow) -> int:
        """Record a new window for ``fault``; return its slot for :meth:`update`."""
        with self._lock:
            self._windows.append(window)
            slot = len(self._windows) - 1
            self._active[slot] = fault
            return slot

    def update(self, slot: int, window: FaultWindow) -> None:
        """Replace the window in ``slot``; a closed window leaves the active registry."""
        with self._lock:
            self._windows[slot] = window
            if not window.active:
                self._active.pop(slot, None)

    def windows(self) -> list[FaultWindow]:
        """A snapshot of every window so far, in start order."""
        with self._lock:
            return list(self._windows)

    def active(self) -> list[Fault]:
        """Faults started and not yet healed, in start order."""
        with self._lock:
            return [self._active[slot] for slot in sorted(self._active)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._windows)

    def __iter__(self) -> Iterator[FaultWindow]:
        return iter(self.windows())

    def heal_all(self) -> list[FaultWindow]:
        """Heal every active fault, newest first, then retry the failures once (a partition on a
        paused node heals only after the pause does). Returns the windows closed here. An
        interrupt (Ctrl-C, a test timeout) while healing one fault does not leave the others
        active: they are healed too, then the interrupt is re-raised.

        Raises FaultRecoveryError naming every fault that would not heal; their clusters are
        marked dirty.
        """
        healed: list[FaultWindow] = []
        pending = list(reversed(self.active()))
        failures: list[tuple[Fault, BaseException]] = []
        interrupted: BaseException | None = None
        for attempt in range(2):
            failures = []
            for fault in pending:
                try:
                    healed.append(fault.stop(_mark_dirty=attempt == 1))
                except FaultRecoveryError as exc:
                    failures.append((fault, exc))
                except Exception:
                    raise
                except BaseException as exc:  # stop() healed it and re-raised: heal the rest
                    interrupted = exc
            pending = [f for f, _ in failures]
            if not pending:
                if interrupted is not None:
                    raise interrupted
                return healed
        detail = "; ".join(f"{f.name}: {exc}" for f, exc in failures)
        raise FaultRecoveryError(
            f"{len(failures)} fault(s) could not be healed: {detail}", "heal_all"
        ) from failures[0][1]


DEFAULT_LOG = FaultLog()
"""The log faults use when none is given (a fixture normally passes its own)."""

_ids = itertools.count(1)


class Fault(ABC):
    """A fault on a cluster: ``start()`` injects it, ``stop()`` heals it; ``with`` does both.

    Subclasses set ``kind`` and implement ``_inject`` and ``_heal``. ``_heal`` must be
    idempotent and must cope with any prefix of ``_inject`` having run.
    """

    kind: str = "fault"
    """What the fault is (``FaultWindow.kind``): a class default, or set per instance."""

    def __init__(
        self,
        cluster: Cluster,
        targets: Sequence[str],
        params: Mapping[str, ParamValue] | None = None,
        log: FaultLog | None = None,
    ) -> None:
        self.cluster = cluster
        self.targets: tuple[str, ...] = tuple(targets)
        self.params: Mapping[str, ParamValue] = MappingProxyType(dict(params or {}))
        self.log = log if log is not None else DEFAULT_LOG
        self.id = f"{next(_ids):x}"
        self._lock = threading.RLock()
        self._armed = False
        self._slot: int | None = None
        self._window: FaultWindow | None = None

    # -- public API ------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self.kind}({', '.join(self.targets)})"

    @property
    def active(self) -> bool:
        """True from ``start()`` until a successful ``stop()``."""
        return self._armed

    @property
    def window(self) -> FaultWindow | None:
        return self._window

    def start(self) -> Self:
        """Inject the fault. If injection fails (or is interrupted), heal what was done and
        re-raise; a FaultRecoveryError from that healing is chained to the original error."""
        with self._lock:
            if self._armed:
                raise FaultError("already started", self.kind)
            self._armed = True
            self._slot = None  # a fault started again gets a new window
            started = boot_clock()
            self._set(FaultWindow(self.kind, self.targets, started, None, self.params))
            log.info("fault %s: injecting %s", self.name, dict(self.params))
            try:
                with step(f"inject fault {self.name} {dict(self.params) or ''}"):
                    self._inject()
            except BaseException as exc:
                self._set(replace(self._current(), error=_short(exc)))
                self.stop()
                raise
            self._set(replace(self._current(), apply_s=boot_clock() - started))
            return self

    def stop(self, *, _mark_dirty: bool = True) -> FaultWindow:
        """Heal the fault (no-op when not active); return its closed window.

        An interrupt during healing (Ctrl-C, SIGTERM, pytest-timeout's signal) does not abandon
        it: healing is retried once and the interrupt re-raised afterwards. Raises
        FaultRecoveryError if healing fails.
        """
        with self._lock:
            if not self._armed:
                if self._window is None:
                    raise FaultError("stop() before start()", self.kind)
                return self._window
            began = boot_clock()
            interrupted: BaseException | None = None
            error: Exception | None = None
            for _ in range(2):
                try:
                    with step(f"heal fault {self.name}"):
                        self._heal()
                    error = None
                    break
                except Exception as exc:  # whatever the cause, the cluster is no longer trusted
                    error = exc
                    break
                except BaseException as exc:  # Ctrl-C, SIGTERM, a test timeout: heal anyway
                    interrupted = exc
            else:
                error = FaultError("healing interrupted twice", self.kind)
            if error is not None:
                self._set(replace(self._current(), error=_short(error)))
                if _mark_dirty:
                    self.cluster.dirty = f"{self.name} could not be healed: {_short(error)}"
                raise FaultRecoveryError(
                    f"healing failed ({_short(error)}); the cluster must be replaced",
                    self.kind,
                    node=self.targets[0] if self.targets else None,
                ) from error
            ended = boot_clock()
            self._armed = False
            self._set(replace(self._current(), ended_at=ended, heal_s=ended - began))
            log.info("fault %s: healed in %.2f s", self.name, ended - began)
            if interrupted is not None:
                raise interrupted
            return self._current()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {'active' if self._armed else 'idle'}>"

    # -- for subclasses --------------------------------------------------------------------
    @abstractmethod
    def _inject(self) -> None:
        """Make the fault happen."""

    @abstractmethod
    def _heal(self) -> None:
        """Undo it; idempotent, and safe after a partial ``_inject``."""

    def _add_params(self, **extra: ParamValue) -> None:
        """Record what injecting found out (e.g. which method it used) in params and window."""
        self.params = MappingProxyType({**self.params, **extra})
        if self._window is not None:
            self._set(replace(self._window, params=self.params))

    # -- internals -------------------------------------------------------------------------
    def _current(self) -> FaultWindow:
        assert self._window is not None
        return self._window

    def _set(self, window: FaultWindow) -> None:
        self._window = window
        if self._slot is None:
            self._slot = self.log.opened(self, window)
        else:
            self.log.update(self._slot, window)


def node_of(cluster: Cluster, node: Node | str) -> Node:
    """The cluster's Node for a name or Node."""
    return cluster.node(node if isinstance(node, str) else node.name)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"
