"""The behaviour catalog and the metadata of a check, with the rules both must follow.

The catalog (``behaviors.json``, shipped with the package) lists the documented Swarm
behaviours, one row per testable promise. A check in ``suites/`` names the rows it covers in
its ``@pytest.mark.swarmcheck(...)`` marker; ``parse_check`` turns such a marker into a
``Check`` or says, for every mistake at once, what is wrong and how to fix it.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import PurePosixPath
from typing import Any

from swarmcheck.errors import ConfigError

ID_PATTERN = re.compile(r"SC-[A-Z]+-\d{3}")
"""Check ids: ``SC-<AREA>-<NNN>``, stable and never reused."""

RFC2119 = re.compile(r"\b(MUST|SHALL|SHOULD)\b")
"""A promise states an obligation: MUST (NOT), SHALL (NOT) or SHOULD (NOT)."""

CHAOS_AREA = re.compile(r"chaos/[a-z][a-z0-9-]*")
"""Chaos checks group under ``chaos/<name>`` areas (chaos/raft, chaos/workload, ...)."""

RELEASE_AREA = "release"
"""Release checks (suites/release): the catalog's promises across engine versions (mixed
swarms, a rolling engine upgrade); they name the rows they re-check on such swarms."""

FEATURES: Mapping[str, str] = {
    "ipvs": "IPVS in the kernel (the ingress routing mesh and service VIPs balance through it)",
    "netem": "the netem queueing discipline (tc delay and loss on a node's interfaces)",
}
"""Platform features a check may need (``needs=``); without one it skips at run time."""

EFFECTS: Mapping[str, str] = {
    "reads": "only reads the swarm",
    "writes": "creates and removes its own services, secrets, configs, networks and volumes",
    "roles": "changes node roles, availability or labels",
    "settings": "changes the swarm's settings",
    "leadership": "moves the leadership",
    "tokens": "rotates join tokens, the unlock key or the root CA",
    "membership": "makes nodes leave, join or be removed",
    "stops": "stops, pauses, kills or restarts nodes, or cuts their network",
}
"""What a check may do to the swarm it runs on (``effects=``, which every check declares): an
existing swarm runs a check only when the user allowed every effect it declares."""
RESET_EFFECTS = frozenset({"reads", "writes", "roles", "settings"})
"""What the shared reset puts back exactly (the run's objects removed, node roles, availability
and labels and the swarm's settings restored). A check with any other effect is destructive:
no reset undoes it."""

MARKER_FIELDS = (
    "id", "area", "doc", "title", "promise", "rows", "effects", "needs", "destructive",
)  # fmt: skip
REQUIRED_FIELDS = ("id", "area", "doc", "title", "promise", "rows", "effects")


@dataclass(frozen=True)
class Area:
    key: str  # "membership": what checks use in area= and what -k / --swarm-select match
    title: str


EXTENTS = ("full", "partial")
"""How much of a row its checks assert: all of it, or a part (the row then says what is left
out and why, in ``gap``)."""

SIDES = ("both", "upper", "lower", "window")
"""What the catalog states of a bound: a range (both sides: not too early, not too late), a
budget (upper: not too late), a floor (lower: not too early), or a window something must keep
holding for (window: at least that long, sampled throughout)."""

UNITS = ("s", "count")


@dataclass(frozen=True)
class BoundCheck:
    """A check that asserts a bound, and the figure it records the measured value under."""

    id: str
    figure: str  # "" when the check records no figure for it


@dataclass(frozen=True)
class Bound:
    """A time or count the catalog states for a row, and the sides the checks assert.

    ``low``/``high`` are the asserted limits (None: that side is not asserted; for a window,
    ``low`` is how long the check keeps sampling). Where a stated side is not asserted,
    ``unasserted`` says why. Limits that scale with a swarm setting (the dispatcher heartbeat)
    are given at the suites' default, and ``scales`` says with what.
    """

    key: str  # unique within its row: "join-returns"
    what: str  # what is measured
    stated: str  # the catalog's words
    sides: str  # one of SIDES
    unit: str  # one of UNITS
    low: float | None
    high: float | None
    checks: tuple[BoundCheck, ...]
    unasserted: str = ""
    scales: str = ""

    @property
    def asserted(self) -> str:
        """The sides the checks assert: both, lower, upper, window, or none."""
        if self.sides == "window":
            return "window" if self.low is not None else "none"
        if self.low is not None and self.high is not None:
            return "both"
        if self.low is not None:
            return "lower"
        return "upper" if self.high is not None else "none"

    def judge(self, value: float) -> str | None:
        """What is wrong with a measured ``value`` (too early, too late), or None."""
        unit = "" if self.unit == "count" else " s"
        if self.low is not None and value < self.low:
            return f"{self.what}: {value:g}{unit}, under the catalog's {self.low:g}{unit}"
        if self.high is not None and self.sides != "window" and value > self.high:
            return f"{self.what}: {value:g}{unit}, over the catalog's {self.high:g}{unit}"
        return None


@dataclass(frozen=True)
class Row:
    """One documented behaviour."""

    key: str  # "mem-leave"
    area: str
    promise: str
    doc: str
    budget: str  # the time Docker documents or its own tests allow
    requires: str  # what it needs beyond a three-manager swarm ("" when nothing)
    fault: bool  # checked by injecting a fault (the chaos suites' natural home)
    extent: str = "full"  # one of EXTENTS: how much of the row the checks assert
    gap: str = ""  # for a partial row: what is not asserted, and why
    bounds: tuple[Bound, ...] = ()

    def bound(self, key: str) -> Bound:
        for bound in self.bounds:
            if bound.key == key:
                return bound
        raise KeyError(f"{self.key}: no bound {key!r}")


@dataclass(frozen=True)
class Catalog:
    areas: tuple[Area, ...]
    rows: tuple[Row, ...]

    @property
    def row_keys(self) -> tuple[str, ...]:
        return tuple(r.key for r in self.rows)

    @property
    def area_keys(self) -> tuple[str, ...]:
        return tuple(a.key for a in self.areas)

    def row(self, key: str) -> Row:
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(key)

    def bound(self, row: str, key: str) -> Bound:
        """A row's bound, for the check that asserts it (the limits live in the catalog)."""
        return self.row(row).bound(key)

    @property
    def full_rows(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.extent == "full")

    def rows_of(self, area: str) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.area == area)

    def is_check_area(self, area: str) -> bool:
        """Conformance checks use a catalog area, chaos checks ``chaos/<name>``, release
        checks ``release``."""
        return (
            area in self.area_keys or area == RELEASE_AREA or CHAOS_AREA.fullmatch(area) is not None
        )


@dataclass(frozen=True)
class Check:
    """A check's metadata, as its marker declares it."""

    id: str
    area: str
    doc: str
    title: str
    promise: str
    rows: tuple[str, ...]
    effects: tuple[str, ...] = ("reads",)
    """What the check does to the swarm it runs on (``EFFECTS``)."""
    needs: tuple[str, ...] = ()
    file: str = ""  # the test file, relative to the rootdir (or to the suites folder)
    name: str = ""  # the test function

    @property
    def destructive(self) -> bool:
        """Whether the check does what no reset undoes (an effect beyond
        ``RESET_EFFECTS``)."""
        return bool(set(self.effects) - RESET_EFFECTS)

    @property
    def suite(self) -> str:
        """``conformance``, ``chaos`` or ``release``: the folder under suites/ the check
        lives in."""
        parts = PurePosixPath(self.file).parts
        if len(parts) >= 2:
            return parts[-2]
        if self.area == RELEASE_AREA:
            return RELEASE_AREA
        return "chaos" if self.area.startswith("chaos/") else "conformance"

    @property
    def keywords(self) -> tuple[str, ...]:
        """What ``pytest -k`` matches besides the test's name."""
        extra = ("destructive",) if self.destructive else ()
        return (self.id, self.area, *self.rows, *extra)


def _area(raw: Mapping[str, object]) -> Area:
    return Area(key=str(raw["key"]), title=str(raw["title"]))


def _limit(value: object) -> float | None:
    return None if value is None else float(str(value))


def _bound(raw: Mapping[str, Any]) -> Bound:
    return Bound(
        key=str(raw["key"]),
        what=str(raw["what"]),
        stated=str(raw["stated"]),
        sides=str(raw["sides"]),
        unit=str(raw.get("unit", "s")),
        low=_limit(raw.get("low")),
        high=_limit(raw.get("high")),
        checks=tuple(
            BoundCheck(id=str(c["id"]), figure=str(c.get("figure", ""))) for c in raw["checks"]
        ),
        unasserted=str(raw.get("unasserted", "")),
        scales=str(raw.get("scales", "")),
    )


def _row(raw: Mapping[str, Any]) -> Row:
    return Row(
        key=str(raw["row"]),
        area=str(raw["area"]),
        promise=str(raw["promise"]),
        doc=str(raw["doc"]),
        budget=str(raw.get("budget", "")),
        requires=str(raw.get("requires", "")),
        fault=bool(raw.get("fault", False)),
        extent=str(raw.get("extent", "")),
        gap=str(raw.get("gap", "")),
        bounds=tuple(_bound(b) for b in raw.get("bounds", ())),
    )


def _bound_problems(row: Row, bound: Bound) -> list[str]:
    where = f"row {row.key}, bound {bound.key}"
    problems = []
    if bound.sides not in SIDES:
        problems.append(f"{where}: sides {bound.sides!r} is not one of {', '.join(SIDES)}")
    if bound.unit not in UNITS:
        problems.append(f"{where}: unit {bound.unit!r} is not one of {', '.join(UNITS)}")
    if not bound.checks:
        problems.append(f"{where}: names no check that asserts it")
    stated_sides = {"both": 2, "upper": 1, "lower": 1, "window": 1}.get(bound.sides, 0)
    asserted_sides = {"both": 2, "lower": 1, "upper": 1, "window": 1}.get(bound.asserted, 0)
    if asserted_sides < stated_sides and not bound.unasserted:
        problems.append(f"{where}: a stated side is not asserted and unasserted= says not why")
    if bound.low is not None and bound.high is not None and bound.low > bound.high:
        problems.append(f"{where}: low {bound.low:g} is over high {bound.high:g}")
    return problems


def _row_problems(row: Row) -> list[str]:
    problems = []
    if row.extent not in EXTENTS:
        problems.append(f"row {row.key}: extent {row.extent!r} is not one of full, partial")
    if row.extent == "partial" and not row.gap:
        problems.append(f"row {row.key}: partial, but gap= does not say what is not checked")
    if row.extent == "full" and row.gap:
        problems.append(f"row {row.key}: full, but it names a gap ({row.gap!r})")
    keys = [b.key for b in row.bounds]
    if len(set(keys)) != len(keys):
        problems.append(f"row {row.key}: two bounds share a key ({keys})")
    for bound in row.bounds:
        problems += _bound_problems(row, bound)
    return problems


def parse_catalog(text: str) -> Catalog:
    """A catalog from its JSON text; rows must belong to a listed area and be unique."""
    data = json.loads(text)
    catalog = Catalog(
        areas=tuple(_area(a) for a in data["areas"]),
        rows=tuple(_row(r) for r in data["rows"]),
    )
    keys = catalog.row_keys
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    stray = sorted({r.area for r in catalog.rows} - set(catalog.area_keys))
    if duplicates or stray:
        raise ConfigError(f"bad catalog: duplicate rows {duplicates}, unknown areas {stray}")
    problems = [p for row in catalog.rows for p in _row_problems(row)]
    if problems:
        raise ConfigError("bad catalog:\n" + "\n".join(problems))
    return catalog


@cache
def load_catalog() -> Catalog:
    """The catalog shipped with swarmcheck (package data)."""
    text = resources.files("swarmcheck.catalog").joinpath("behaviors.json").read_text("utf-8")
    return parse_catalog(text)


def _unquoted(text: str) -> str:
    """The text without quoted parts, where a full stop does not end the promise."""
    return re.sub(r"\"[^\"]*\"|'[^']*'|`[^`]*`", "", text)


def _text_problem(name: str, value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"{name}= must be a non-empty string (got {value!r})"
    return None


def _id_problems(value: str) -> list[str]:
    if ID_PATTERN.fullmatch(value):
        return []
    return [f"id={value!r} does not look like SC-<AREA>-<NNN>: use e.g. id='SC-MEM-002'"]


def _area_problems(value: str, catalog: Catalog) -> list[str]:
    if catalog.is_check_area(value):
        return []
    return [
        f"area={value!r} is not a catalog area: use one of {', '.join(catalog.area_keys)} "
        "(or chaos/<name> for a chaos check, release for a check across engine versions)"
    ]


def _doc_problems(value: str) -> list[str]:
    if value.startswith("https://"):
        return []
    return [f"doc={value!r} is not a link: give the https:// URL of the page the check follows"]


def _promise_problems(value: str) -> list[str]:
    problems = []
    if not RFC2119.search(value):
        problems.append(
            f"promise={value!r} has no RFC 2119 keyword: say what Swarm promises with MUST, "
            "MUST NOT, SHOULD or SHALL (e.g. 'A worker MUST NOT be able to list nodes.')"
        )
    if re.search(r"[.!?]\s+[A-Z]", _unquoted(value.strip())):
        problems.append("promise= is more than one sentence: state one promise per check")
    return problems


def _rows_problems(value: object, catalog: Catalog) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [
            f"rows= takes a tuple of catalog row keys, e.g. rows=('mem-leave',) (got {value!r})"
        ]
    if not value:
        return ["rows= is empty: name the catalog rows the check covers (`swarmcheck catalog`)"]
    problems = []
    for key in value:
        if key in catalog.row_keys:
            continue
        close = difflib.get_close_matches(str(key), catalog.row_keys, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(
            f"rows= names {key!r}, which is not a catalog row{hint}: "
            "`swarmcheck catalog --format json` lists the rows"
        )
    return problems


def _needs_problems(value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [f"needs= takes a tuple of platform features, e.g. needs=('ipvs',) (got {value!r})"]
    unknown = [str(v) for v in value if v not in FEATURES]
    if unknown:
        return [
            f"needs= names unknown platform features {', '.join(map(repr, unknown))}: "
            f"known are {', '.join(FEATURES)}"
        ]
    return []


def _effects_problems(value: object) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        return [
            "effects= takes a non-empty tuple of what the check does to the swarm, e.g. "
            f"effects=('writes', 'roles') (got {value!r}); one or more of {', '.join(EFFECTS)}"
        ]
    unknown = [str(v) for v in value if v not in EFFECTS]
    if unknown:
        return [
            f"effects= names unknown effects {', '.join(map(repr, unknown))}: known are "
            + ", ".join(EFFECTS)
        ]
    return []


def parse_check(
    kwargs: Mapping[str, object], args: Sequence[object] = (), catalog: Catalog | None = None
) -> Check:
    """A Check from a swarmcheck marker's arguments; ConfigError lists every problem, each
    with its fix, one per line."""
    catalog = catalog or load_catalog()
    problems = _shape_problems(kwargs, args) + _text_problems(kwargs, catalog)
    rows = kwargs.get("rows")
    if rows not in (None, ()):
        problems += _rows_problems(rows, catalog)
    needs = kwargs.get("needs", ())
    problems += _needs_problems(needs)
    effects = kwargs.get("effects")
    if effects not in (None, ()):
        problems += _effects_problems(effects)
        problems += _destructive_problems(kwargs.get("destructive"), effects)
    if problems:
        raise ConfigError("\n".join(problems))
    assert isinstance(rows, Sequence) and isinstance(needs, Sequence)
    assert isinstance(effects, Sequence)
    return Check(
        id=str(kwargs["id"]),
        area=str(kwargs["area"]),
        doc=str(kwargs["doc"]),
        title=str(kwargs["title"]),
        promise=str(kwargs["promise"]).strip(),
        rows=tuple(str(r) for r in rows),
        effects=tuple(str(e) for e in effects),
        needs=tuple(str(n) for n in needs),
    )


def _shape_problems(kwargs: Mapping[str, object], args: Sequence[object]) -> list[str]:
    """Positional arguments, unknown fields and missing ones."""
    problems: list[str] = []
    if args:
        problems.append(
            f"the swarmcheck marker takes keyword arguments only (got {', '.join(map(repr, args))})"
        )
    unknown = [f"{k}=" for k in kwargs if k not in MARKER_FIELDS]
    if unknown:
        problems.append(
            f"unknown argument {', '.join(unknown)}: the swarmcheck marker takes "
            + ", ".join(f"{f}=" for f in MARKER_FIELDS)
        )
    missing = [f"{k}=" for k in REQUIRED_FIELDS if kwargs.get(k) in (None, "", ())]
    if missing:
        hint = (
            "; effects= says what the check does to the swarm it runs on, so that a swarm in "
            f"use runs only what its user allowed: one or more of {', '.join(EFFECTS)}"
            if "effects=" in missing
            else ""
        )
        problems.append(
            f"missing {', '.join(missing)}: every check needs "
            + ", ".join(f"{f}=" for f in REQUIRED_FIELDS)
            + hint
        )
    return problems


_TEXT_RULES: Mapping[str, Callable[..., list[str]]] = {
    "id": lambda text, catalog: _id_problems(text),
    "area": lambda text, catalog: _area_problems(text, catalog),
    "doc": lambda text, catalog: _doc_problems(text),
    "title": lambda text, catalog: [],
    "promise": lambda text, catalog: _promise_problems(text),
}
"""What each text field of the marker must be, beyond a non-empty string."""


def _text_problems(kwargs: Mapping[str, object], catalog: Catalog) -> list[str]:
    problems: list[str] = []
    for name, rule in _TEXT_RULES.items():
        value = kwargs.get(name)
        if value in (None, ""):
            continue
        problem = _text_problem(name, value)
        problems += [problem] if problem else rule(str(value), catalog)
    return problems


def _destructive_problems(destructive: object, effects: object) -> list[str]:
    """``destructive=`` (optional) follows from ``effects=``: a marker that still says it
    must agree."""
    if destructive is None:
        return []
    if not isinstance(destructive, bool):
        return [f"destructive= must be True or False (got {destructive!r})"]
    if not isinstance(effects, Sequence) or isinstance(effects, str):
        return []
    beyond = sorted(set(map(str, effects)) - RESET_EFFECTS)
    if destructive == bool(beyond):
        return []
    said = f"effects= {'include ' + ', '.join(beyond) if beyond else 'are all undone by the reset'}"
    return [
        f"destructive={destructive} contradicts effects= ({said}): leave destructive= out, it "
        "follows from effects="
    ]
