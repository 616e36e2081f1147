"""The cluster pool under interrupts (a pytest-timeout alarm, Ctrl-C): a cluster whose
bring-up, restore or reset did not finish is never handed out again (no Docker needed)."""

from __future__ import annotations

from typing import Any

import pytest

from swarmcheck.cluster.pool import ClusterPool
from swarmcheck.spec import ClusterSpec


class TimedOut(BaseException):
    """What pytest-timeout raises in the middle of whatever runs (pytest's Failed)."""


class FakeCluster:
    """Enough of Cluster for the pool: counts resets and removals, can be interrupted."""

    def __init__(self, spec: ClusterSpec, number: int) -> None:
        self.spec = spec
        self.run_id = f"fake{number}"
        self.dirty: str | None = None
        self.nodes: list[Any] = []
        self.engine_version = "20.10"
        self.interrupt: set[str] = set()
        self.removed = False

    def _maybe(self, step: str) -> None:
        if step in self.interrupt:
            raise TimedOut(step)

    def up(self, images: object) -> FakeCluster:
        self._maybe("up")
        return self

    def reset(self) -> None:
        self._maybe("reset")

    def health_problems(self) -> list[str]:
        self._maybe("restore")
        return []

    def wait_healthy(self, timeout_s: float) -> None: ...

    def down(self) -> str:
        self.removed = True
        return "removed"


@pytest.fixture
def pool() -> ClusterPool:
    made: list[FakeCluster] = []

    def make(spec: ClusterSpec) -> Any:
        made.append(FakeCluster(spec, len(made)))
        return made[-1]

    pool = ClusterPool(host=None, make_cluster=make)  # type: ignore[arg-type]
    pool._images = object()  # type: ignore[assignment]  # no image build
    return pool


def test_a_reset_cut_short_replaces_the_cluster(pool: ClusterPool) -> None:
    spec = ClusterSpec(managers=1)
    first: Any = pool.acquire(spec)
    first.interrupt.add("reset")
    with pytest.raises(TimedOut):
        pool.after_test(first)
    assert first.dirty and "interrupted" in first.dirty

    second = pool.acquire(spec)
    assert second is not first and first.removed


def test_an_interrupted_bring_up_is_not_reused(pool: ClusterPool) -> None:
    spec = ClusterSpec(managers=1)
    made: list[Any] = []

    def make(s: ClusterSpec) -> Any:
        made.append(_interrupting(s, "up"))
        return made[-1]

    pool._make = make  # type: ignore[method-assign]
    with pytest.raises(TimedOut):
        pool.acquire(spec)
    (broken,) = made
    assert pool.current is None and broken.removed, "an interrupted bring-up is removed at once"

    pool._make = lambda s: FakeCluster(s, 9)  # type: ignore[assignment,return-value]
    assert pool.acquire(spec) is not broken


def test_an_interrupted_restore_is_not_reused(pool: ClusterPool) -> None:
    spec = ClusterSpec(managers=1)
    first: Any = pool.acquire(spec)
    pool.after_test(first)
    first.interrupt.add("restore")
    with pytest.raises(TimedOut):
        pool.acquire(spec)
    first.interrupt.clear()
    assert pool.acquire(spec) is not first and first.removed


def test_a_healthy_cluster_is_reused(pool: ClusterPool) -> None:
    spec = ClusterSpec(managers=1)
    first = pool.acquire(spec)
    pool.after_test(first)
    assert pool.acquire(spec) is first


def _interrupting(spec: ClusterSpec, step: str) -> Any:
    cluster = FakeCluster(spec, 0)
    cluster.interrupt.add(step)
    return cluster
