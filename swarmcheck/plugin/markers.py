"""What a test's markers say: its check (the ``swarmcheck`` marker, parsed into a
``catalog.Check`` at collection) and the cluster it needs (the ``swarm`` marker's shape and
engines), with what is wrong with either."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from swarmcheck.catalog.model import EFFECTS, Check, parse_check
from swarmcheck.cluster.interface import CAPABILITIES
from swarmcheck.config import DEBIAN_SUITE, UPGRADE_FROM, Settings
from swarmcheck.errors import ConfigError
from swarmcheck.plugin.keys import CHECK_KEY, SETTINGS_KEY
from swarmcheck.spec import (
    DEBIAN_ORDER,
    NO_OLDER_ENGINE,
    ClusterSpec,
    describe,
    looks_like_engine,
)

MARKERS = (
    "swarmcheck(id, area, doc, title, promise, rows, effects, needs=()): a conformance or "
    "chaos check: its stable id, area, documentation link, what it checks, Swarm's promise "
    "(one RFC 2119 sentence), the catalog rows it covers, what it does to the swarm it runs on "
    f"({', '.join(EFFECTS)}) and the platform features it needs (e.g. 'ipvs')",
    "swarm(managers=None, workers=None, faults=False, engines=None, capabilities=()): the "
    "cluster this test needs: its shape; engines= gives one engine per node (managers, then "
    f"workers): 'old', 'new' (see {UPGRADE_FROM.flag}), a Debian suite or a dind image; "
    f"capabilities= what it needs of the swarm beyond reading it ({', '.join(CAPABILITIES)})",
    "e2e: needs a real Docker engine (the project's own end-to-end tests)",
)
SWARM_MARKER_ARGS = ("managers", "workers", "faults", "engines", "capabilities")
OLD_ENGINE, NEW_ENGINE = "old", "new"
"""Engines a swarm marker names by part: the engine upgraded from, and the engine under test."""


def shape_of(item: pytest.Item, default: ClusterSpec) -> ClusterSpec:
    """The cluster a test needs: the run's default, overridden by its `swarm` marker."""
    marker = item.get_closest_marker("swarm")
    if marker is None:
        return default
    kw: dict[str, Any] = dict(marker.kwargs)
    fields = {k: kw[k] for k in ("managers", "workers") if kw.get(k) is not None}
    if kw.get("engines") is not None:
        fields["engines"] = marker_engines(kw["engines"], item.config.stash[SETTINGS_KEY])
    if kw.get("faults"):
        # Control-plane faults add up to a second of round trip; the clusters' heartbeat is
        # Docker's default 5 s (ClusterSpec), long enough that nodes do not flap under it.
        fields["control_plane_proxy"] = True
    return ClusterSpec(**{**default.__dict__, **fields})


def marker_engines(raw: object, settings: Settings) -> tuple[str, ...]:
    """A swarm marker's engines= with 'old' and 'new' replaced by the run's engines. Without
    an older engine 'old' stands for the engine under test: ``missing_engine`` skips such a
    test before any swarm is made."""
    if isinstance(raw, str) or not isinstance(raw, tuple | list):
        raise ConfigError(
            f"engines={raw!r}: give a tuple with one engine per node, e.g. "
            "engines=('old', 'old', 'new')"
        )
    new = settings.cluster.engine
    old = settings.old_engine or new
    return tuple(
        old if e == OLD_ENGINE else new if e == NEW_ENGINE else str(e).strip() for e in raw
    )


def missing_engine(item: pytest.Item) -> str | None:
    """Why a test whose swarm marker names the 'old' engine cannot run here (None if it can)."""
    marker = item.get_closest_marker("swarm")
    engines = marker.kwargs.get("engines") if marker else None
    settings = item.config.stash[SETTINGS_KEY]
    if not engines or OLD_ENGINE not in engines or settings.old_engine is not None:
        return None
    return (
        f"{NO_OLDER_ENGINE} ({describe(settings.cluster.engine)}) to "
        f"mix with or upgrade from: give {UPGRADE_FROM.flag}=ENGINE (a Debian suite or a "
        f"dind image), or test a newer engine ({DEBIAN_SUITE.flag}=trixie or sid)"
    )


def _engines_problem(raw: object) -> str | None:
    if isinstance(raw, str) or not isinstance(raw, tuple | list):
        return f"engines= takes a tuple, one engine per node (got {raw!r})"
    bad = [
        repr(e)
        for e in raw
        if not isinstance(e, str) or not (e in (OLD_ENGINE, NEW_ENGINE) or looks_like_engine(e))
    ]
    if bad:
        return (
            f"engines= names {', '.join(bad)}: use 'old', 'new', a Debian suite "
            f"({', '.join(DEBIAN_ORDER)}) or a dind image reference"
        )
    return None


def _capabilities_problem(raw: object) -> str | None:
    if isinstance(raw, str) or not isinstance(raw, tuple | list):
        return f"capabilities= takes a tuple, e.g. capabilities=('containers',) (got {raw!r})"
    unknown = [repr(c) for c in raw if c not in CAPABILITIES]
    if unknown:
        return f"capabilities= names {', '.join(unknown)}: known are {', '.join(CAPABILITIES)}"
    return None


def swarm_marker_problem(item: pytest.Item, default: ClusterSpec) -> str | None:
    """What is wrong with a test's `swarm` marker (unknown arguments, an impossible shape)."""
    marker = item.get_closest_marker("swarm")
    if marker is None:
        return None
    unknown = [f"{k}=" for k in marker.kwargs if k not in SWARM_MARKER_ARGS]
    if marker.args or unknown:
        got = ", ".join([*map(repr, marker.args), *unknown])
        takes = ", ".join(f"{a}=" for a in SWARM_MARKER_ARGS)
        return f"the swarm marker takes only {takes} (got {got})"
    for name, check in (("engines", _engines_problem), ("capabilities", _capabilities_problem)):
        problem = check(marker.kwargs[name]) if marker.kwargs.get(name) is not None else None
        if problem:
            return f"swarm marker: {problem}"
    try:
        shape_of(item, default)
    except ConfigError as exc:
        return f"swarm marker: {exc}"
    return None


def check_of(item: pytest.Item) -> Check | None:
    """The item's suite metadata (parsed at collection), or None for a plain test."""
    return item.stash.get(CHECK_KEY, None)


def definition(item: pytest.Item) -> str:
    """The test function an item comes from (parametrized items share one check id)."""
    return item.nodeid.split("[", 1)[0]


def suite_marker_problems(item: pytest.Item, rootpath: Path) -> list[str]:
    """Parse the item's swarmcheck marker into its stash; what is wrong with it, if anything."""
    marker = item.get_closest_marker("swarmcheck")
    if marker is None:
        return []
    try:
        check = parse_check(marker.kwargs, marker.args)
    except ConfigError as exc:
        return str(exc).splitlines()
    uses_fresh = "swarm_fresh_cluster" in getattr(item, "fixturenames", ())
    if uses_fresh and not check.destructive:
        return [
            "it uses swarm_fresh_cluster (a swarm of its own, for what no reset undoes), so its "
            "effects= must name what it does beyond reads, writes, roles and settings (e.g. "
            "stops, membership)"
        ]
    try:
        file = item.path.relative_to(rootpath).as_posix()
    except ValueError:
        file = item.path.as_posix()
    name = getattr(item, "originalname", item.name)
    item.stash[CHECK_KEY] = replace(check, file=file, name=name)
    return []
