"""Fixtures suites use: the session's cluster pool, a reset cluster per test, figures."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from swarmcheck.client.engine import host_client
from swarmcheck.cluster import hostengine, reaper
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.pool import ClusterPool
from swarmcheck.config import Settings
from swarmcheck.errors import EnvironmentProblem
from swarmcheck.plugin.allure_hooks import attach_state
from swarmcheck.plugin.keys import CLUSTER_KEY, FIGURE_PREFIX, POOL_KEY, SETTINGS_KEY
from swarmcheck.plugin.session import shape_of

Recorder = Callable[[str, float | int | str], None]


@pytest.fixture(scope="session")
def swarm_settings(pytestconfig: pytest.Config) -> Settings:
    """The run's settings, as parsed from the command line."""
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def swarm_pool(pytestconfig: pytest.Config, swarm_settings: Settings) -> Iterator[ClusterPool]:
    """Starts the engine if needed, sweeps leftovers of killed runs, and owns the clusters."""
    if swarm_settings.swarm == "none":
        pytest.skip("--swarm=none was given: this test needs a swarm (use --swarm=dind)")
    try:
        hostengine.ensure_engine()
    except EnvironmentProblem as exc:
        pytest.exit(f"swarmcheck cannot run swarm tests here: {exc}", returncode=3)
    host = host_client()
    reaper.sweep_stale(host)
    pool = ClusterPool(host)
    pytestconfig.stash[POOL_KEY] = pool
    try:
        yield pool
    finally:
        pool.release()
        host.close()


@pytest.fixture
def cluster(
    request: pytest.FixtureRequest, swarm_pool: ClusterPool, swarm_settings: Settings
) -> Iterator[Cluster]:
    """A healthy, reset swarm of the shape the test's `swarm` marker asks for (default 3
    managers). Nodes the test stops or pauses are restored afterwards; a cluster that cannot
    be restored is replaced before the next test."""
    cluster = swarm_pool.acquire(shape_of(request.node, swarm_settings.cluster))
    request.node.stash[CLUSTER_KEY] = cluster
    attach_state(cluster, " (before)")
    yield cluster
    attach_state(cluster, " (after)")
    swarm_pool.after_test(cluster)


@pytest.fixture
def fresh_cluster(
    request: pytest.FixtureRequest, swarm_pool: ClusterPool, swarm_settings: Settings
) -> Iterator[Cluster]:
    """A swarm of its own for a test that damages it beyond repair; removed afterwards."""
    with swarm_pool.fresh(shape_of(request.node, swarm_settings.cluster)) as cluster:
        request.node.stash[CLUSTER_KEY] = cluster
        yield cluster


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Recorder:
    """Record a measured figure (a time, a count): shown in the summary, JUnit and Allure."""

    def record(name: str, value: float | int | str) -> None:
        if isinstance(value, float):
            value = round(value, 3)
        request.node.user_properties.append((FIGURE_PREFIX + name, value))

    return record
