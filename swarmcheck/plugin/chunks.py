"""Units of work for the xdist scheduler: checks of one cluster shape run one after another
on one worker. Each worker writes the shapes of its collection at the end of it, the
controller reads them and plans the units, weighted by how long each check took before
(plugin/durations.py; see plugin/xdist.py for why)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from swarmcheck.plugin.keys import SETTINGS_KEY
from swarmcheck.plugin.markers import shape_of
from swarmcheck.spec import ClusterSpec

UNIT_S = 45.0
"""Expected seconds of checks per unit of work: small enough that the workers end together,
large enough that a worker is not asked for work after every check."""
DEFAULT_S = 10.0
"""The weight of a check no earlier run has timed."""
MIN_S = 1.0
"""The least a check weighs (one that skipped last time still costs a little)."""
POOLED_FIXTURE = "swarm_cluster"
TOGETHER = "|"
"""Between a shape key and the group of checks that share a fixture's state."""


def groups_dir(testrunuid: str) -> Path:
    return Path(tempfile.gettempdir()) / f"swarmcheck-xdist-{os.getuid()}-{testrunuid}"


def shape_key(spec: ClusterSpec) -> str:
    return f"{spec.managers}m{spec.workers}w" + ("+faults" if spec.control_plane_proxy else "")


@dataclass(frozen=True)
class Unit:
    """Checks a worker runs one after another on one cluster (shape None: checks that use no
    pooled cluster, which any worker runs without changing its cluster)."""

    shape: str | None
    nodeids: tuple[str, ...]
    weight: float


def expected_s(
    shapes: Sequence[tuple[str, str | None]], weights: Mapping[str, float]
) -> dict[str, float]:
    """nodeid -> expected seconds: as the last run took (at least ``MIN_S``); checks no run
    has timed weigh the median of those timed (else ``DEFAULT_S``)."""
    known = sorted(max(MIN_S, weights[n]) for n, _ in shapes if n in weights)
    default = known[len(known) // 2] if known else DEFAULT_S
    return {n: max(MIN_S, weights[n]) if n in weights else default for n, _ in shapes}


def plan_units(
    shapes: Sequence[tuple[str, str | None]],
    weights: Mapping[str, float],
    workers: int = 1,
    unit_s: float = UNIT_S,
) -> list[Unit]:
    """Units of work for (nodeid, shape key or None): each shape's checks, longest first
    (the last ones to start are short, so the workers end together), packed into units of
    about ``unit_s`` expected seconds, smaller when the whole run would not give every one
    of ``workers`` a unit; a check of no shape is a unit of its own. Checks whose key names
    a group (``shape|group``: they share a fixture's state, ``shared_fixture``) stay
    together, in collection order, and weigh together: the first of them pays for it.
    Heaviest units first."""
    expected = expected_s(shapes, weights)
    unit_s = min(unit_s, sum(expected.values()) / max(1, workers))
    blocks: dict[tuple[str | None, str], list[str]] = {}
    for nodeid, key in shapes:
        part, _, together = (key or "").partition(TOGETHER)
        blocks.setdefault((part or None, together or nodeid), []).append(nodeid)
    by_shape: dict[str | None, list[tuple[tuple[str, ...], float]]] = {}
    for (shape, _), members in blocks.items():
        by_shape.setdefault(shape, []).append((tuple(members), sum(expected[n] for n in members)))
    units: list[Unit] = []
    for shape, found in by_shape.items():
        ordered = sorted(found, key=lambda b: -b[1])  # stable: collection order among equals
        if shape is None:
            units += [Unit(None, block, w) for block, w in ordered]
            continue
        batch: list[str] = []
        weight = 0.0
        for block, w in ordered:
            if batch and weight + w > unit_s:
                units.append(Unit(shape, tuple(batch), weight))
                batch, weight = [], 0.0
            batch += block
            weight += w
        if batch:
            units.append(Unit(shape, tuple(batch), weight))
    return sorted(units, key=lambda u: -u.weight)


def pick_unit(units: Sequence[Unit], held: str | None, others: Sequence[str | None]) -> int:
    """Which of the pending ``units`` (heaviest first) a worker that holds a cluster of shape
    ``held`` takes next, while the other workers hold ``others``: one of its own shape (no
    bring-up), else one of the shape with the most pending work per worker holding it (the
    workers spread over the shapes as their work requires), heaviest first."""
    if held is not None:
        for index, unit in enumerate(units):
            if unit.shape == held:
                return index
    load: dict[str | None, float] = {}
    for unit in units:
        load[unit.shape] = load.get(unit.shape, 0.0) + unit.weight
    holders = {shape: sum(1 for o in others if o == shape) for shape in load}
    best = max(load, key=lambda shape: load[shape] / (1 + holders[shape]))
    return next(i for i, u in enumerate(units) if u.shape == best)


def shared_fixture(item: pytest.Item) -> str | None:
    """The state ``item`` may share with other checks through a fixture, named (None: none):
    a module-, class- or package-scoped fixture (its first check on a worker pays for it),
    or a fixture its own module defines, which may hand every check of the module one
    recorded event (``workload.membership.recorded_once``: a quorum loss, a failover) on
    the same cluster."""
    module = item.nodeid.split("::", 1)[0]
    info = getattr(item, "_fixtureinfo", None)
    shared = None
    for name, defs in sorted(getattr(info, "name2fixturedefs", {}).items()):
        if not defs:
            continue
        if defs[-1].baseid == module:
            return f"{module}::{name}"
        if defs[-1].scope in ("module", "class", "package"):
            shared = shared or module
    return shared


def group_key(item: pytest.Item, default: ClusterSpec) -> str | None:
    """What the scheduler needs of a check: its cluster shape (None: it uses no pooled
    cluster), and the fixture state it shares with other checks, if any."""
    if POOLED_FIXTURE not in getattr(item, "fixturenames", ()):
        return None
    key = shape_key(shape_of(item, default))
    shared = shared_fixture(item)
    return f"{key}{TOGETHER}{shared}" if shared else key


def write_groups(config: pytest.Config, items: Sequence[pytest.Item]) -> None:
    """Worker side, end of collection: the group key of each check of this collection (those
    that use the pooled cluster), for the controller's scheduler."""
    workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
    default = config.stash[SETTINGS_KEY].cluster
    shapes = [(item.nodeid, group_key(item, default)) for item in items]
    folder = groups_dir(str(workerinput["testrunuid"]))
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / f"{workerinput['workerid']}.json"
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps({nodeid: shape for nodeid, shape in shapes if shape}))
    partial.replace(target)


def read_groups(testrunuid: str, workerid: str) -> dict[str, str]:
    """Controller side: the group keys a worker wrote ({} for a session without swarm
    tests)."""
    try:
        data = json.loads((groups_dir(testrunuid) / f"{workerid}.json").read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
