"""Whether a check may run on the swarm at hand: what it needs of the swarm (capabilities)
against what that kind of swarm offers, and what it does to the swarm (effects) against what
the user allowed.

A local dind swarm offers every capability and allows every effect. An existing swarm
(--swarm=existing) offers none, and allows only the effects its reset puts back exactly
(``catalog.model.RESET_EFFECTS``) unless --swarm-allow-destructive. A check needs a
capability when its swarm marker asks (``capabilities=``) or what it uses implies it
(``swarm_fresh_cluster``: ``destroy``; ``faults=True``: ``control-plane``; ``engines=``:
``engines``). Its effects are what its marker declares (``effects=``, required: a marker
without it stops the run at collection).

While a check runs on a swarm in use, its engine clients refuse any effect it did not declare
(``errors.EffectNotAllowed``): that check fails, its declaration is wrong. A check that meets
what only a swarm swarmcheck made offers (a worker whose engine --swarm-existing does not
reach: ``errors.NotOnExistingSwarm``) skips, saying so.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator

import pytest

from swarmcheck.catalog.model import EFFECTS, RESET_EFFECTS, Check
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.existing import ExistingCluster
from swarmcheck.cluster.interface import CAPABILITIES, Swarm
from swarmcheck.config import ALLOW_DESTRUCTIVE, MANAGERS, WORKERS, Settings
from swarmcheck.errors import EffectNotAllowed, NotOnExistingSwarm
from swarmcheck.plugin.markers import check_of, shape_of
from swarmcheck.spec import ClusterSpec

PREFIX = "on an existing swarm: "
EVERY_EFFECT = frozenset(EFFECTS)
SAFE_EFFECTS = RESET_EFFECTS
"""Allowed on an existing swarm without --swarm-allow-destructive: what its reset puts back."""
NO_CHECK_EFFECTS = SAFE_EFFECTS
"""What a swarm test that is no check (no swarmcheck marker: a project's own test using the
``cluster`` fixture) may do on a swarm in use."""


def capabilities_of(settings: Settings) -> frozenset[str]:
    """What the swarms of this run offer."""
    return ExistingCluster.capabilities if settings.swarm == "existing" else Cluster.capabilities


def needs(item: pytest.Item) -> list[tuple[str, str]]:
    """The capabilities ``item`` needs, each with what asks for it."""
    marker = item.get_closest_marker("swarm")
    kwargs = marker.kwargs if marker else {}
    found = []
    if "swarm_fresh_cluster" in getattr(item, "fixturenames", ()):
        found.append(("destroy", "needs a swarm of its own (swarm_fresh_cluster)"))
    if kwargs.get("faults"):
        found.append(("control-plane", "injects faults through a Toxiproxy on the control plane"))
    if kwargs.get("engines"):
        found.append(("engines", "needs nodes of the engine versions it names"))
    for capability in kwargs.get("capabilities") or ():
        found.append((str(capability), f"needs {CAPABILITIES.get(str(capability), capability)}"))
    return found


def effects_of(check: Check | None) -> frozenset[str]:
    """What a check does to the swarm, as its marker declares (``NO_CHECK_EFFECTS`` for a
    swarm test that is no check)."""
    return NO_CHECK_EFFECTS if check is None else frozenset(check.effects)


def allowed_effects(settings: Settings) -> frozenset[str]:
    """What the user lets checks do to the swarm of this run."""
    if settings.swarm != "existing" or settings.allow_destructive:
        return EVERY_EFFECT
    return SAFE_EFFECTS


def permitted(check: Check | None, settings: Settings) -> frozenset[str]:
    """What a check may do to the swarm while it runs (a swarm in use refuses the rest): what
    its marker declares; a swarm test that is no check, whatever the user allowed."""
    return allowed_effects(settings) if check is None else frozenset(check.effects)


def skip_reason(item: pytest.Item, settings: Settings) -> str | None:
    """Why ``item`` must not run on this run's swarm (None: it may)."""
    offered = capabilities_of(settings)
    for capability, why in needs(item):
        if capability not in offered:
            return f"{PREFIX}{why}, which only a swarm swarmcheck makes can offer"
    beyond = effects_of(check_of(item)) - allowed_effects(settings)
    if not beyond:
        return None
    return (
        f"{PREFIX}it {'; it '.join(EFFECTS[e] for e in sorted(beyond))}, so it runs only with "
        f"{ALLOW_DESTRUCTIVE.flag}"
    )


def shape_reason(item: pytest.Item, cluster: Swarm, default: ClusterSpec) -> str | None:
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
        f"this one has {has[0]} and {has[1]} ({MANAGERS.flag}/{WORKERS.flag} give the shape "
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
    """A check that meets what only a swarm swarmcheck made offers skips, saying what; an
    effect its declaration does not cover (``EffectNotAllowed``) fails it."""
    try:
        yield
    except Exception as exc:
        reason = _not_on_existing(exc)
        if reason is None or isinstance(reason, EffectNotAllowed):
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
