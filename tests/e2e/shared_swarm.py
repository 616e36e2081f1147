"""One swarm a module's end-to-end tests share: brought up once, lent to each test whole and
reset after it (negative and bound controls run many short tests on the same shape)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import docker
import pytest

from swarmcheck.cluster.cluster import Cluster, running_cluster
from swarmcheck.cluster.pool import restore_nodes
from swarmcheck.machine.images import prepare_images
from swarmcheck.spec import ClusterSpec


@contextmanager
def brought_up(host: docker.DockerClient, spec: ClusterSpec) -> Iterator[Cluster]:
    """A swarm of ``spec``, with its images, removed at the end."""
    with running_cluster(host, spec, prepare_images(host, spec)) as cluster:
        yield cluster


def lent(shared: Cluster, bring_back: Callable[[Cluster], None] | None = None) -> Iterator[Cluster]:
    """The shared swarm for one test (a fixture's body: ``yield from lent(shared)``): skipped
    when an earlier test left it dirty, whole before the test, and afterwards put back
    (``bring_back`` first, for what a whole swarm needs back before it can be waited for),
    with its nodes restored and what the test made removed."""
    if shared.dirty:
        pytest.skip(f"the shared cluster is dirty: {shared.dirty}")
    restore_nodes(shared)
    yield shared
    if not shared.dirty:
        if bring_back is not None:
            bring_back(shared)
        restore_nodes(shared)
        shared.reset()
