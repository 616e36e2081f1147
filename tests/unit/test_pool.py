"""The cluster pool under interrupts (a pytest-timeout alarm, Ctrl-C): a cluster whose
bring-up, restore or reset did not finish is never handed out again; and clusters kept after
a failed check (--swarm-keep-on-failure) are marked, forgotten and never removed by the pool
(no Docker needed)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from swarmcheck import labels
from swarmcheck.cluster.kept import KeptCluster
from swarmcheck.cluster.pool import MAX_KEPT, ClusterPool
from swarmcheck.spec import ClusterSpec


class TimedOut(BaseException):
    """What pytest-timeout raises in the middle of whatever runs (pytest's Failed)."""


class FakeCluster:
    """Enough of Cluster for the pool: counts resets and removals, can be interrupted."""

    def __init__(self, spec: ClusterSpec, number: int) -> None:
        self.spec = spec
        self.run_id = f"fake{number}"
        self.dirty: str | None = None
        self.engine_version = "20.10"
        self.interrupt: set[str] = set()
        self.removed = False
        self.nodes = [
            SimpleNamespace(
                name="manager1",
                role="manager",
                container_name=f"sc-{self.run_id}-manager1",
                api_socket=f"/tmp/swarmcheck-0/{self.run_id}/manager1/docker.sock",
                close=lambda: None,
                container=SimpleNamespace(status="running"),
            )
        ]

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


class FakeVolumes:
    """The host engine's volumes, as far as marking a cluster kept uses them."""

    def __init__(self) -> None:
        self.made: dict[str, dict[str, str]] = {}

    def create(self, name: str, labels: dict[str, str]) -> None:
        self.made[name] = labels


@pytest.fixture
def pool() -> ClusterPool:
    made: list[FakeCluster] = []

    def make(spec: ClusterSpec) -> Any:
        made.append(FakeCluster(spec, len(made)))
        return made[-1]

    host: Any = SimpleNamespace(volumes=FakeVolumes())
    pool = ClusterPool(host=host, make_cluster=make)
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


def test_a_kept_cluster_is_marked_forgotten_and_never_removed(pool: ClusterPool) -> None:
    spec = ClusterSpec(managers=1)
    first: Any = pool.acquire(spec)

    kept = pool.keep(first, ["test_x.py::test_fails"])

    assert isinstance(kept, KeptCluster) and kept.run_id == first.run_id
    assert kept.tests == ("test_x.py::test_fails",)
    assert kept.nodes[0].container == "sc-fake0-manager1"
    mark = pool.host.volumes.made["sc-fake0-kept"]
    assert mark[labels.RUN] == "fake0" and labels.KEPT in mark
    assert KeptCluster.from_mark(mark) == kept, "the mark describes the kept cluster"
    assert pool.current is None, "the pool still holds the kept cluster"
    second = pool.acquire(spec)
    assert second is not first, "the next test got the kept cluster"
    pool.release()
    assert second.removed and not first.removed


def test_a_kept_fresh_cluster_is_not_removed(pool: ClusterPool) -> None:
    with pool.fresh(ClusterSpec(managers=1)) as cluster:
        pool.keep(cluster, ["test_x.py::test_destroys"])
    assert not cluster.removed and pool.is_kept(cluster)
    with pool.fresh(ClusterSpec(managers=1)) as other:
        pass
    assert other.removed


def test_at_most_max_kept_clusters_and_never_a_dirty_one(pool: ClusterPool) -> None:
    spec = ClusterSpec(managers=1)
    for number in range(MAX_KEPT):
        assert isinstance(pool.keep(pool.acquire(spec), [f"t{number}"]), KeptCluster)
    one_more: Any = pool.acquire(spec)
    why = pool.keep(one_more, ["t-last"])
    assert why == f"{MAX_KEPT} clusters are kept already (at most {MAX_KEPT} per pytest process)"
    assert pool.current is one_more, "a cluster not kept stays the pool's"

    fresh_pool = ClusterPool(host=pool.host, make_cluster=pool._make)
    fresh_pool._images = object()  # type: ignore[assignment]
    dirty: Any = fresh_pool.acquire(spec)
    dirty.dirty = "healing failed (iptables)"
    assert fresh_pool.keep(dirty, ["t"]) == "it cannot be trusted: healing failed (iptables)"
    assert fresh_pool.kept == []
