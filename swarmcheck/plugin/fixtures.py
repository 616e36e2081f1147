"""Fixtures suites use: the session's cluster pool, a reset cluster per test, figures.

Every fixture name starts with ``swarm_`` (``swarm_cluster``, ``swarm_fresh_cluster``,
``swarm_figure``), so none collides with a project's own; the old names are deprecated aliases
for one release (renamed.py)."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from swarmcheck.client.engine import host_client
from swarmcheck.cluster import reaper
from swarmcheck.cluster.capabilities import feature_missing
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.existing import ExistingPool, parse_endpoints
from swarmcheck.cluster.interface import Pool, Swarm
from swarmcheck.cluster.kept import left_note
from swarmcheck.cluster.pool import ClusterPool
from swarmcheck.config import Settings
from swarmcheck.errors import EnvironmentProblem, FaultRecoveryError
from swarmcheck.machine import hostengine
from swarmcheck.plugin.admission import PREFIX, permitted, shape_reason, skip_reason
from swarmcheck.plugin.allure_hooks import attach_state
from swarmcheck.plugin.keys import (
    CLUSTER_KEY,
    ENGINE_VERSIONS_KEY,
    FAILED_KEY,
    FAULT_LOG_KEY,
    FEATURES_KEY,
    FIGURE_PREFIX,
    KEPT_KEY,
    POOL_KEY,
    SETTINGS_KEY,
)
from swarmcheck.plugin.markers import check_of, missing_engine, shape_of
from swarmcheck.recording import Recorder

log = logging.getLogger("swarmcheck.cluster")


@pytest.fixture(scope="session")
def swarm_settings(pytestconfig: pytest.Config) -> Settings:
    """The run's settings, as parsed from the command line."""
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def swarm_pool(pytestconfig: pytest.Config, swarm_settings: Settings) -> Iterator[Pool]:
    """Starts the engine if needed, sweeps leftovers of killed runs, and owns the clusters."""
    if swarm_settings.swarm == "none":
        pytest.skip("--swarm=none was given: this test needs a swarm (use --swarm=dind)")
    if swarm_settings.swarm == "existing":
        existing = ExistingPool(
            parse_endpoints(swarm_settings.existing, swarm_settings.existing_tls)
        )
        pytestconfig.stash[POOL_KEY] = existing
        try:
            yield existing
        finally:
            existing.release()
        return
    try:
        hostengine.ensure_engine()
    except EnvironmentProblem as exc:
        pytest.exit(f"swarmcheck cannot run swarm tests here: {exc}", returncode=3)
    host = host_client()
    swept = reaper.sweep_stale(host)
    for kept in swept.kept.left:
        log.warning("%s", left_note(kept, swept.at))
    pool = ClusterPool(host)
    pytestconfig.stash[POOL_KEY] = pool
    try:
        yield pool
    finally:
        pool.release()
        host.close()


def _known_missing(item: pytest.Item) -> str | None:
    """Why the item cannot run, from features already probed in this run and the engines it
    asks for (no node needed)."""
    engine_reason = missing_engine(item)
    if engine_reason:
        return engine_reason
    check = check_of(item)
    seen = item.config.stash.setdefault(FEATURES_KEY, {})
    for feature in check.needs if check else ():
        if seen.get(feature):
            return seen[feature]
    return None


def _skip_without_features(item: pytest.Item, cluster: Swarm) -> None:
    """Skip, with the reason found inside a node, when the platform lacks a feature the
    check needs (`needs=`). Nodes share the host's kernel: each feature is probed once, in a
    node container (a swarm without them cannot tell)."""
    check = check_of(item)
    seen = item.config.stash.setdefault(FEATURES_KEY, {})
    for feature in check.needs if check else ():
        if not isinstance(cluster, Cluster):
            pytest.skip(f"{PREFIX}needs {feature}, which is probed inside a node container")
        if feature not in seen:
            seen[feature] = feature_missing(feature, cluster.managers[0])
        reason = seen[feature]
        if reason:
            pytest.skip(reason)


def _remember_versions(config: pytest.Config, cluster: Swarm) -> None:
    """Which version each engine of the run reported (reports name engines by version)."""
    seen = config.stash.setdefault(ENGINE_VERSIONS_KEY, {})
    for engine, name in zip(cluster.spec.node_engines(), cluster.spec.node_names(), strict=True):
        version = cluster.engine_versions.get(name)
        if version:
            seen.setdefault(engine, version)


@pytest.fixture
def swarm_cluster(
    request: pytest.FixtureRequest, swarm_pool: Pool, swarm_settings: Settings
) -> Iterator[Swarm]:
    """A healthy, reset swarm of the shape the test's `swarm` marker asks for (default 3
    managers). Nodes the test stops or pauses are restored afterwards; a cluster that cannot
    be restored is replaced before the next test."""
    missing = skip_reason(request.node, swarm_settings) or _known_missing(request.node)
    if missing:
        pytest.skip(missing)
    effects = permitted(check_of(request.node), swarm_settings)
    cluster = swarm_pool.acquire(shape_of(request.node, swarm_settings.cluster), effects)
    if swarm_settings.swarm == "existing":
        other_shape = shape_reason(request.node, cluster, swarm_settings.cluster)
        if other_shape:
            pytest.skip(other_shape)
    try:
        _skip_without_features(request.node, cluster)
    except BaseException:
        swarm_pool.after_test(cluster)
        raise
    request.node.stash[CLUSTER_KEY] = cluster
    _remember_versions(request.config, cluster)
    try:
        attach_state(cluster, " (before)")
        yield cluster
        attach_state(cluster, " (after)")
    finally:
        # also when interrupted (a pytest-timeout signal during the attachments): the reset
        # runs, and a reset that cannot finish marks the cluster for replacement
        if not _kept_after_failure(request, swarm_pool, cluster, swarm_settings):
            swarm_pool.after_test(cluster)


@pytest.fixture
def swarm_fresh_cluster(
    request: pytest.FixtureRequest, swarm_pool: Pool, swarm_settings: Settings
) -> Iterator[Cluster]:
    """A swarm of its own for a test that damages it beyond repair; removed afterwards."""
    missing = skip_reason(request.node, swarm_settings) or _known_missing(request.node)
    if missing:
        pytest.skip(missing)
    assert isinstance(swarm_pool, ClusterPool), "only dind pools offer 'destroy'"
    with swarm_pool.fresh(shape_of(request.node, swarm_settings.cluster)) as cluster:
        _skip_without_features(request.node, cluster)
        request.node.stash[CLUSTER_KEY] = cluster
        _remember_versions(request.config, cluster)
        try:
            yield cluster
        finally:
            _kept_after_failure(request, swarm_pool, cluster, swarm_settings)


def _kept_after_failure(
    request: pytest.FixtureRequest, pool: Pool, cluster: Swarm, settings: Settings
) -> bool:
    """--swarm-keep-on-failure, the test failed: heal its faults, then keep its cluster (the
    pool forgets it). Whether it was kept; why not is in the item's stash (KEPT_KEY), for
    the summary."""
    item = request.node
    if not (settings.keep_on_failure and item.stash.get(FAILED_KEY, False)):
        return False
    if not isinstance(pool, ClusterPool) or not isinstance(cluster, Cluster):
        return False  # refused at start: --swarm=existing
    try:
        faults = item.stash.get(FAULT_LOG_KEY, None)
        if faults is not None:
            faults.heal_all()  # its own teardown heals again: nothing left to do then
        outcome = pool.keep(cluster, [item.nodeid])
    except FaultRecoveryError as exc:  # the cluster is dirty: replaced, not kept
        outcome = f"a fault would not heal: {str(exc).splitlines()[0]}"
    except BaseException:  # interrupted: not kept, and not trusted any more
        cluster.dirty = cluster.dirty or "interrupted while it was being kept"
        raise
    item.stash[KEPT_KEY] = outcome
    if isinstance(outcome, str):
        log.warning("not keeping cluster %s (%s failed): %s", cluster.run_id, item.nodeid, outcome)
        return False
    return True


@pytest.fixture
def swarm_figure(request: pytest.FixtureRequest) -> Recorder:
    """Record a measured figure (a time, a count): shown in the summary, JUnit and Allure."""

    def record(name: str, value: float | int | str) -> None:
        if isinstance(value, float):
            value = round(value, 3)
        request.node.user_properties.append((FIGURE_PREFIX + name, value))

    return record
