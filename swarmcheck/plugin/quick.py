"""Quick mode (--swarm-quick): a first look at a new engine in about a minute and a half.

One check per catalog area, the behaviours of Docker's swarm tutorial (create a swarm, deploy,
scale, drain, rolling update: the rows whose documentation is a swarm-tutorial page) first.
Within an area the pick is deterministic for a given machine, so two quick runs on two
engines compare the same checks: a check of a tutorial row, then one that shares no
fixture's state with others (``chunks.shared_fixture``: what it took says nothing of its cost
alone), then one that took at most ``SHORT_S`` the last time it ran here, else the shortest
(plugin/durations.py; a quick run lasts as long as its longest check), then one that needs no
swarm of its own (a bring-up costs seconds, a long check a minute), then one on the run's
default cluster shape, then the first in collection order.
The report says it was a quick run: the summary's first line, verdict.json (``"quick":
true``) and the Allure environment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest

from swarmcheck.catalog.model import Check, load_catalog
from swarmcheck.config import QUICK
from swarmcheck.plugin.chunks import shared_fixture
from swarmcheck.plugin.durations import read_durations
from swarmcheck.plugin.keys import SETTINGS_KEY
from swarmcheck.plugin.markers import check_of, shape_of

TUTORIAL = "/swarm-tutorial/"
"""What the documentation link of a row from Docker's swarm tutorial contains."""
SHORT_S = 30.0
"""Checks that took at most this the last time they ran here count as equally short; of
longer ones the shortest is picked (a quick run lasts as long as its longest check)."""


@dataclass(frozen=True)
class Candidate:
    index: int
    """Position in collection order."""
    area: str
    tutorial: bool
    destructive: bool
    default_shape: bool
    shares: bool = False
    """It shares a fixture's state with other checks (whose cost the first pays alone)."""
    took_s: float = 0.0
    """How long it took the last time it ran here (0: never ran)."""


def quick_pick(candidates: Sequence[Candidate]) -> list[int]:
    """The indexes of the checks a quick run keeps: one per area, tutorial ones first, then
    in collection order."""

    def rank(c: Candidate) -> tuple[bool, bool, float, bool, bool, int]:
        longer = c.took_s if c.took_s > SHORT_S else 0.0  # short ones are alike: no flapping
        return (not c.tutorial, c.shares, longer, c.destructive, not c.default_shape, c.index)

    best: dict[str, Candidate] = {}
    for c in candidates:
        held = best.get(c.area)
        if held is None or rank(c) < rank(held):
            best[c.area] = c
    chosen = sorted(best.values(), key=lambda c: (not c.tutorial, c.index))
    return [c.index for c in chosen]


def tutorial_rows() -> frozenset[str]:
    return frozenset(r.key for r in load_catalog().rows if TUTORIAL in r.doc)


def candidate(
    index: int,
    check: Check,
    item: pytest.Item,
    tutorial: frozenset[str],
    durations: Mapping[str, float],
) -> Candidate:
    default = item.config.stash[SETTINGS_KEY].cluster
    return Candidate(
        index=index,
        area=check.area,
        tutorial=bool(tutorial & set(check.rows)),
        destructive=check.destructive,
        default_shape=shape_of(item, default) == default,
        shares=shared_fixture(item) is not None,
        took_s=durations.get(item.nodeid, 0.0),
    )


def keep_quick(items: list[pytest.Item], config: pytest.Config) -> None:
    """--swarm-quick: keep one check per area (the rest are deselected), tutorial ones first."""
    if not config.stash[SETTINGS_KEY].quick:
        return
    tutorial = tutorial_rows()
    durations = read_durations()
    candidates = []
    for index, item in enumerate(items):
        check = check_of(item)
        if check is not None:
            candidates.append(candidate(index, check, item, tutorial, durations))
    if not candidates:
        raise pytest.UsageError(f"{QUICK.flag}: the run collects no swarmcheck checks")
    keep = [items[i] for i in quick_pick(candidates)]
    kept = {id(item) for item in keep}
    drop = [item for item in items if id(item) not in kept]
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep
