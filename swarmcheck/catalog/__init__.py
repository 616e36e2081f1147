"""The catalog of documented Swarm behaviours and of the checks that cover them.

Pure data and rendering: the rows ship as package data (``behaviors.json``), the checks are
read from the markers in suites/ by the plugin, and ``swarmcheck catalog`` prints both.
"""

from __future__ import annotations

from swarmcheck.catalog.coverage import AreaCoverage, Coverage, RowCoverage, coverage
from swarmcheck.catalog.model import (
    FEATURES,
    Area,
    Bound,
    Catalog,
    Check,
    Row,
    load_catalog,
    parse_check,
)
from swarmcheck.catalog.render import generated_block, render_json, render_markdown, splice

__all__ = [
    "FEATURES",
    "Area",
    "AreaCoverage",
    "Bound",
    "Catalog",
    "Check",
    "Coverage",
    "Row",
    "RowCoverage",
    "coverage",
    "generated_block",
    "load_catalog",
    "parse_check",
    "render_json",
    "render_markdown",
    "splice",
]
