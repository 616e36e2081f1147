"""Which catalog rows the checks cover: everywhere, only where a platform feature exists, or
not at all. Pure: the checks come from pytest collection, the catalog from package data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from swarmcheck.catalog.model import Area, Catalog, Check, Row

RowStatus = Literal["covered", "platform", "uncovered"]


@dataclass(frozen=True)
class RowCoverage:
    row: Row
    checks: tuple[Check, ...]  # every check naming the row

    @property
    def status(self) -> RowStatus:
        """covered: some check runs everywhere; platform: every check needs a feature."""
        if not self.checks:
            return "uncovered"
        if any(not c.needs for c in self.checks):
            return "covered"
        return "platform"

    @property
    def features(self) -> tuple[str, ...]:
        """The features a platform-only row waits for (any one covering check suffices)."""
        if self.status != "platform":
            return ()
        return tuple(sorted({f for c in self.checks for f in c.needs}))

    @property
    def conformance(self) -> bool:
        """Covered by a conformance check (not only by chaos checks)."""
        return any(c.suite != "chaos" for c in self.checks)


@dataclass(frozen=True)
class AreaCoverage:
    area: Area
    rows: tuple[RowCoverage, ...]

    def count(self, status: RowStatus) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def uncovered(self) -> tuple[RowCoverage, ...]:
        return tuple(r for r in self.rows if r.status == "uncovered")


@dataclass(frozen=True)
class Coverage:
    catalog: Catalog
    checks: tuple[Check, ...]
    rows: tuple[RowCoverage, ...]

    @property
    def areas(self) -> tuple[AreaCoverage, ...]:
        return tuple(
            AreaCoverage(a, tuple(r for r in self.rows if r.row.area == a.key))
            for a in self.catalog.areas
        )

    def count(self, status: RowStatus) -> int:
        return sum(r.status == status for r in self.rows)

    @property
    def with_checks(self) -> int:
        """Rows some check covers, here or where the platform has the feature."""
        return len(self.rows) - self.count("uncovered")

    @property
    def by_conformance(self) -> int:
        return sum(r.conformance for r in self.rows)

    def rows_needing(self, feature: str) -> tuple[RowCoverage, ...]:
        return tuple(r for r in self.rows if feature in r.features)


def coverage(catalog: Catalog, checks: Sequence[Check]) -> Coverage:
    """Row by row, the checks that cover it (checks sorted by id)."""
    ordered = tuple(sorted(checks, key=lambda c: c.id))
    return Coverage(
        catalog=catalog,
        checks=ordered,
        rows=tuple(
            RowCoverage(row, tuple(c for c in ordered if row.key in c.rows)) for row in catalog.rows
        ),
    )
