"""The catalog's bounds and docs/bounds.md: every bound well formed and tied to a real check
and figure, the limits the suites compute equal to the catalog's, the measured record, and the
page agreeing with the catalog and the record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from suites import budgets
from swarmcheck import cli
from swarmcheck.catalog import load_catalog
from swarmcheck.catalog.bounds import (
    BEGIN,
    END,
    Measured,
    RunFigures,
    asserted_text,
    bound_problems,
    measured_path,
    page_block,
    read_measured,
    record,
)
from swarmcheck.catalog.model import Bound, BoundCheck, parse_catalog
from swarmcheck.catalog.render import generated_block
from swarmcheck.errors import ConfigError
from swarmcheck.plugin.catalog import collect_checks

REPO = Path(__file__).resolve().parents[2]
SUITES = REPO / "suites"
PAGE = REPO / "docs" / "bounds.md"
DEFAULT_HEARTBEAT_S = 5.0


@pytest.fixture(scope="module")
def checks() -> list:  # type: ignore[type-arg]
    return collect_checks(SUITES)


def bound(**fields: object) -> Bound:
    base: dict[str, object] = {
        "key": "k",
        "what": "a join returns",
        "stated": "about 20 s",
        "sides": "both",
        "unit": "s",
        "low": 15.0,
        "high": 30.0,
        "checks": (BoundCheck("SC-MEM-012", "join_returned_s"),),
    }
    return Bound(**{**base, **fields})  # type: ignore[arg-type]


def test_docs_bounds_md_matches_the_catalog_and_the_record(checks: list) -> None:  # type: ignore[type-arg]
    block = page_block(PAGE, load_catalog(), checks)
    current = generated_block(PAGE.read_text(), BEGIN, END)
    assert current == block, (
        "docs/bounds.md is out of date: run `swarmcheck catalog --write docs/bounds.md`"
    )


def test_every_row_is_full_or_partial_with_a_reason() -> None:
    catalog = load_catalog()
    for row in catalog.rows:
        assert row.extent in ("full", "partial"), row.key
        assert bool(row.gap) == (row.extent == "partial"), row.key


def test_every_bound_names_a_check_of_the_suites_and_a_figure_it_records(
    checks: list,  # type: ignore[type-arg]
) -> None:
    catalog = load_catalog()
    assert bound_problems(catalog, checks) == []
    files = {c.id: SUITES / c.file for c in checks}
    for row in catalog.rows:
        for b in row.bounds:
            for c in b.checks:
                if c.figure:
                    source = files[c.id].read_text()
                    assert f'"{c.figure}"' in source, (
                        f"{row.key}/{b.key}: {c.id} ({files[c.id].name}) records no figure "
                        f"{c.figure!r}"
                    )


def test_the_heartbeat_limits_of_the_suites_are_the_catalogs() -> None:
    down = load_catalog().bound("node-status-down", "down")
    assert down.low == budgets.node_not_down_before_s(DEFAULT_HEARTBEAT_S)
    assert down.high == budgets.node_down_budget_s(DEFAULT_HEARTBEAT_S)
    at_1s = load_catalog().bound("pki-cluster-settings", "heartbeat-effect")
    assert (at_1s.low, at_1s.high) == (
        budgets.node_not_down_before_s(1.0),
        budgets.node_down_budget_s(1.0),
    )
    for row, key in (
        ("raft-failover", "election-after-kill"),
        ("raft-paused-leader", "election"),
        ("sc-ha", "election"),
    ):
        assert load_catalog().bound(row, key).high == budgets.ELECTION_S, (row, key)
    rescheduled = load_catalog().bound("heal-node-loss", "rescheduled")
    assert rescheduled.low == budgets.node_not_down_before_s(DEFAULT_HEARTBEAT_S)
    assert rescheduled.high == budgets.RESCHEDULED_S


def test_judge_says_too_early_and_too_late() -> None:
    b = bound()
    assert b.judge(20.0) is None
    assert "under the catalog's 15 s" in str(b.judge(3.0))
    assert "over the catalog's 30 s" in str(b.judge(31.0))
    window = bound(sides="window", low=30.0, high=None)
    assert window.asserted == "window"
    assert "under the catalog's 30 s" in str(window.judge(6.0))
    assert asserted_text(window) == "holds for ≥ 30 s, sampled throughout"
    assert asserted_text(b) == "not too early: ≥ 15 s; not too late: ≤ 30 s"
    assert bound(low=None).asserted == "upper"


def _catalog_text(**bound_fields: object) -> str:
    data = json.loads((REPO / "swarmcheck" / "catalog" / "behaviors.json").read_text())
    row = data["rows"][0]
    row["bounds"] = [
        {
            "key": "k",
            "what": "w",
            "stated": "s",
            "sides": "both",
            "low": None,
            "high": 20,
            "checks": [{"id": "SC-MEM-001"}],
            **bound_fields,
        }
    ]
    return json.dumps(data)


def test_a_stated_side_left_unasserted_needs_a_reason() -> None:
    with pytest.raises(ConfigError, match="a stated side is not asserted"):
        parse_catalog(_catalog_text())
    parse_catalog(_catalog_text(unasserted="why"))  # with the reason it is fine


def test_a_row_without_extent_or_with_a_partial_without_gap_is_refused() -> None:
    data = json.loads((REPO / "swarmcheck" / "catalog" / "behaviors.json").read_text())
    data["rows"][0].pop("extent")
    with pytest.raises(ConfigError, match="extent '' is not one of full, partial"):
        parse_catalog(json.dumps(data))
    data["rows"][0].update(extent="partial", gap="")
    with pytest.raises(ConfigError, match="partial, but gap= does not say"):
        parse_catalog(json.dumps(data))


def test_record_keeps_earlier_values_and_takes_only_the_bounds_figures() -> None:
    catalog = load_catalog()
    earlier = {"SC-NODE-005 down_after_s": Measured(11.0, "passed", "20.10.24", "2026-12-01")}
    run = [
        RunFigures("SC-MEM-012", "passed", {"join_returned_s": 20.2, "unrelated": 1}),
        RunFigures("SC-SVC-002", "passed", {"whatever_s": 3}),
    ]
    recorded = record(catalog, earlier, run, engine="26.1.5", date="2026-12-07")
    assert recorded["SC-NODE-005 down_after_s"] == earlier["SC-NODE-005 down_after_s"]
    assert recorded["SC-MEM-012 join_returned_s"] == Measured(
        20.2, "passed", "26.1.5", "2026-12-07"
    )
    assert set(recorded) == {"SC-NODE-005 down_after_s", "SC-MEM-012 join_returned_s"}


def test_the_catalog_command_records_a_run_and_writes_the_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "bounds.md"
    page.write_text(f"# bounds\n{BEGIN}\n{END}\n")
    args = ["catalog", "--suites", str(SUITES)]
    assert cli.main([*args, "--check", str(page)]) == 1
    assert "run `swarmcheck catalog --write" in capsys.readouterr().err
    outcomes = tmp_path / "outcomes.json"
    outcomes.write_text(
        json.dumps(
            {
                "engine": "bookworm",
                "label": "bookworm",
                "version": "20.10.24",
                "versions": {},
                "outcomes": [
                    {
                        "key": "SC-MEM-012",
                        "id": "SC-MEM-012",
                        "area": "membership",
                        "name": "test_pending_join",
                        "status": "passed",
                        "reason": None,
                        "figures": {"join_returned_s": 20.4},
                    }
                ],
            }
        )
    )
    assert cli.main([*args, "--write", str(page), "--measured", str(outcomes)]) == 0
    measured = read_measured(measured_path(page))
    assert measured["SC-MEM-012 join_returned_s"].value == 20.4
    assert "`join_returned_s` = **20.4** (passed, 20.10.24, " in page.read_text()
    assert page.read_text().startswith("# bounds\n")
    assert cli.main([*args, "--check", str(page)]) == 0
    # --measured only goes with a bounds page
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    assert cli.main([*args, "--write", str(readme), "--measured", str(outcomes)]) == 2
