"""One cluster reused across tests: restored, reset or replaced as tests need.

Bringing a swarm up costs seconds, a reset well under one; so a session keeps one cluster of
the shape the current test asks for, repairs what a test broke (stopped or paused nodes), and
replaces it only when it cannot be trusted any more.

An engine that cannot form a healthy swarm at all (it never elects a leader, a node never
gets Ready) would make every test pay a full bring-up and its timeout again. After
``MAX_FAILED_BRINGUPS`` failed bring-ups of one shape, the remaining tests of that shape fail at
once with the first failure's reason and exception type (so with its report category).

With --swarm-keep-on-failure the cluster of a failed check is kept (``keep``): marked, left
running as the check left it, and forgotten by the pool, which brings up another for the next
test. At most ``MAX_KEPT`` are kept per pool (per pytest process): a run on an engine that
breaks many promises must not fill the machine with swarms.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import docker

from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.interface import Swarm
from swarmcheck.cluster.kept import KeptCluster, KeptNode, mark_kept
from swarmcheck.errors import SwarmcheckError
from swarmcheck.labels import new_run_id
from swarmcheck.machine.images import ClusterImages, add_engine_images, prepare_images
from swarmcheck.spec import ClusterSpec
from swarmcheck.timing import Stopwatch

log = logging.getLogger("swarmcheck.cluster")

RESTORE_TIMEOUT_S = 60.0
MAX_FAILED_BRINGUPS = 2
MAX_KEPT = 3
"""Clusters kept after failed checks, at most, per pool (an idle three-manager swarm holds ~140
MiB, measured with docker stats; more with the services its check left)."""


class ClusterPool:
    """Hands out healthy clusters; owns their teardown."""

    capabilities = Cluster.capabilities

    def __init__(
        self,
        host: docker.DockerClient,
        make_cluster: Callable[[ClusterSpec], Cluster] | None = None,
    ) -> None:
        self.host = host
        self.current: Cluster | None = None
        self._images: ClusterImages | None = None
        self._make = make_cluster or (
            lambda spec: Cluster(spec=spec, run_id=new_run_id(), host=host)
        )
        self.bringups: list[float] = []
        self.resets: list[float] = []
        self.engine_version = ""
        self.failed_bringups: dict[ClusterSpec, list[Exception]] = {}
        """Why bring-ups of each shape failed, oldest first."""
        self.kept: list[KeptCluster] = []
        """Clusters kept after failed checks (--swarm-keep-on-failure), oldest first."""

    @property
    def node_image(self) -> str:
        return self._images.node if self._images else "(not built)"

    def images(self, spec: ClusterSpec) -> ClusterImages:
        if self._images is None:
            self._images = prepare_images(self.host, spec)
        return add_engine_images(self.host, self._images, spec)  # a mixed-version swarm

    def acquire(self, spec: ClusterSpec, effects: frozenset[str] = frozenset()) -> Cluster:
        """A healthy cluster of ``spec``: the current one if it fits and can be restored. A
        swarm swarmcheck owns may have any ``effects``: it is restored, reset or replaced."""
        cluster = self.current
        if cluster is not None and (cluster.spec != spec or cluster.dirty):
            log.warning(
                "replacing cluster %s: %s",
                cluster.run_id,
                cluster.dirty or "the next tests need another shape",
            )
            self.release()
        elif cluster is not None:
            try:
                restore_nodes(cluster)
                return cluster
            except BaseException as exc:
                if not isinstance(exc, SwarmcheckError):
                    cluster.dirty = f"restore interrupted: {type(exc).__name__}"
                    raise
                log.warning(
                    "cluster %s could not be restored (%s): replacing it",
                    cluster.run_id,
                    str(exc).splitlines()[0],
                )
                self.release()
        return self._bring_up(spec)

    def _bring_up(self, spec: ClusterSpec) -> Cluster:
        cluster = self._up(spec)
        self.current = cluster
        return cluster

    def _up(self, spec: ClusterSpec) -> Cluster:
        """A new cluster of ``spec``; a failed bring-up is removed at once and remembered."""
        failures = self.failed_bringups.setdefault(spec, [])
        if len(failures) >= MAX_FAILED_BRINGUPS:
            raise given_up(failures)
        clock = Stopwatch()
        cluster = self._make(spec)
        try:
            cluster.up(self.images(spec))
        except BaseException as exc:  # removed on Ctrl-C too; only failures count
            if isinstance(exc, Exception):
                failures.append(exc)
                log.warning(
                    "bring-up %d of a swarm of %s failed: %s",
                    len(failures),
                    shape(spec),
                    (str(exc).splitlines() or [type(exc).__name__])[0],
                )
            cluster.down()
            raise
        self.bringups.append(clock())
        self.engine_version = cluster.engine_version
        return cluster

    def after_test(self, cluster: Swarm) -> None:
        """Reset the cluster for the next test; mark it dirty when that fails (a cluster the
        pool no longer holds, or holds dirty, is left to its teardown)."""
        current = self.current
        if current is None or cluster is not current or current.dirty:
            return
        cluster = current
        clock = Stopwatch()
        try:
            restore_nodes(cluster)
            cluster.reset()
            self.resets.append(clock())
        except SwarmcheckError as exc:
            cluster.dirty = f"reset failed: {str(exc).splitlines()[0]}"
        except BaseException as exc:  # interrupted (a test timeout, Ctrl-C) or a bug: the
            cluster.dirty = f"reset interrupted: {type(exc).__name__}"  # state is unknown
            raise

    def release(self) -> None:
        if self.current is not None:
            # interrupted half-way, the next acquire removes what is left
            self.current.dirty = self.current.dirty or "it is being removed"
            removed = self.current.down()
            log.info("cluster %s removed: %s", self.current.run_id, removed)
            self.current = None

    @contextmanager
    def fresh(self, spec: ClusterSpec) -> Iterator[Cluster]:
        """A dedicated cluster for one destructive test, removed afterwards (unless kept)."""
        cluster = self._up(spec)
        try:
            yield cluster
        finally:
            if not self.is_kept(cluster):
                cluster.down()

    def keep(self, cluster: Cluster, tests: Sequence[str]) -> KeptCluster | str:
        """Leave ``cluster`` running for a person to look into, after ``tests`` failed on it:
        the kept cluster, or why it is not kept (it is then reset or replaced as usual).

        Faults must be healed before (the caller's part): a kept cluster is left as the check
        left it, with no fault active. The mark comes last: interrupted before it, the cluster
        is still the pool's and removed with the rest.
        """
        if cluster.dirty:
            return f"it cannot be trusted: {cluster.dirty}"
        if len(self.kept) >= MAX_KEPT:
            return f"{MAX_KEPT} clusters are kept already (at most {MAX_KEPT} per pytest process)"
        try:
            nodes = [
                KeptNode(n.name, n.role, n.container_name, n.api_socket, n.container.status)
                for n in cluster.nodes
            ]
            kept = mark_kept(self.host, cluster.run_id, nodes, tests)
        except SwarmcheckError as exc:
            return f"it could not be marked kept: {str(exc).splitlines()[0]}"
        self.kept.append(kept)
        if cluster is self.current:
            self.current = None
        for node in cluster.nodes:
            node.close()
        log.warning(
            "kept cluster %s after %s failed (--swarm-keep-on-failure); the next tests get another",
            cluster.run_id,
            ", ".join(tests),
        )
        return kept

    def is_kept(self, cluster: Cluster) -> bool:
        return any(k.run_id == cluster.run_id for k in self.kept)


def shape(spec: ClusterSpec) -> str:
    return f"{spec.managers} managers, {spec.workers} workers" + (
        " (control plane through Toxiproxy)" if spec.control_plane_proxy else ""
    )


def given_up(failures: list[Exception]) -> Exception:
    """The first failure again (same type, so the same report category), saying that this
    shape is not tried any more."""
    first = failures[0]
    head = (str(first).splitlines() or [type(first).__name__])[0]
    rest = "\n".join(str(first).splitlines()[1:])
    message = (
        f"not bringing up a swarm of this shape again: {len(failures)} bring-ups failed, "
        f"the first with: {head}" + (f"\n{rest}" if rest else "")
    )
    # Built without calling the type's __init__ (whose arguments differ per type): the same
    # attributes, a new message.
    again = type(first).__new__(type(first), message)
    again.__dict__.update(first.__dict__)
    again.args = (message,)
    again.__cause__ = first
    return again


def restore_nodes(cluster: Cluster) -> None:
    """Start stopped node containers, unpause paused ones, then wait for a whole swarm."""
    touched = []
    for node in cluster.nodes:
        container = node.container
        if container.status == "paused":
            container.unpause()
            touched.append(node.name)
        elif container.status in ("exited", "created"):
            container.start()
            touched.append(node.name)
    if touched:
        log.warning("restoring nodes a test left down: %s", ", ".join(touched))
        for name in touched:
            cluster.node(name).wait_engine()
    if touched or cluster.health_problems():
        cluster.wait_healthy(RESTORE_TIMEOUT_S)
