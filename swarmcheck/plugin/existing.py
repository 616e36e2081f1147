"""--swarm=existing: which checks may run on a swarm swarmcheck did not create, and skips for
what such a swarm cannot offer.

Registered as a plugin of its own (its hook wrappers sit beside the Allure ones). Before a
check gets the swarm, ``skip_reason`` says why it must not run there: it needs a swarm of its
own, injects faults, needs engines of chosen versions, or is destructive (unless
``--swarm-allow-destructive``). While it runs, a ``NotOnExistingSwarm`` (it reached for a node
container or an engine nobody gave) turns into a skip with that reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator

import pytest

from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.config import Settings
from swarmcheck.errors import NotOnExistingSwarm
from swarmcheck.plugin.markers import check_of, shape_of

PREFIX = "on an existing swarm: "


def skip_reason(item: pytest.Item, settings: Settings) -> str | None:
    """Why ``item`` must not run on the existing swarm (None: it may)."""
    if settings.swarm != "existing":
        return None
    marker = item.get_closest_marker("swarm")
    kwargs = marker.kwargs if marker else {}
    fixtures = getattr(item, "fixturenames", ())
    if "fresh_cluster" in fixtures:
        return PREFIX + "needs a swarm of its own (fresh_cluster), which it cannot give"
    if kwargs.get("faults"):
        return (
            PREFIX + "injects faults through a Toxiproxy on the control plane, which only a "
            "swarm swarmcheck made has"
        )
    if kwargs.get("engines"):
        return PREFIX + "needs nodes of the engine versions it names"
    check = check_of(item)
    destructive = check is not None and (check.destructive or check.area.startswith("chaos/"))
    if destructive and not settings.allow_destructive:
        return PREFIX + "destructive, so it runs only with --swarm-allow-destructive"
    return None


def shape_reason(item: pytest.Item, cluster: Cluster, default: ClusterSpec) -> str | None:
    """Why the existing swarm's shape is not the one the item was written for: its swarm
    marker's managers and workers, else the run's default (--swarm-managers/--swarm-workers,
    which can describe the existing swarm). Checks count on their shape, so another one
    skips rather than fail on an assumption."""
    wants = shape_of(item, default)
    has = (len(cluster.managers), len(cluster.workers))
    if (wants.managers, wants.workers) == has:
        return None
    return (
        f"{PREFIX}written for a swarm of {wants.managers} managers and {wants.workers} workers; "
        f"this one has {has[0]} and {has[1]} (--swarm-managers/--swarm-workers give the shape "
        "of the checks without a swarm marker)"
    )


def _not_on_existing(exc: BaseException) -> NotOnExistingSwarm | None:
    """The NotOnExistingSwarm an error is, or was raised from (a fault that could not start
    on a host it does not own reports it as its cause)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return None
        if isinstance(seen, NotOnExistingSwarm):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


@contextlib.contextmanager
def _skipping_what_an_existing_swarm_cannot_do() -> Iterator[None]:
    """A check that needs what an existing swarm does not give skips, saying what."""
    try:
        yield
    except Exception as exc:
        reason = _not_on_existing(exc)
        if reason is None:
            raise
        pytest.skip(PREFIX + str(reason))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    with _skipping_what_an_existing_swarm_cannot_do():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    with _skipping_what_an_existing_swarm_cannot_do():
        return (yield)
