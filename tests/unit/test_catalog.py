"""The behaviour catalog: the shipped rows, marker validation, coverage, rendering, the
`swarmcheck catalog` command, and suites/README.md agreeing with the markers in suites/."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from swarmcheck import cli
from swarmcheck.catalog import (
    FEATURES,
    Check,
    coverage,
    generated_block,
    load_catalog,
    parse_check,
    render_json,
    render_markdown,
    splice,
)
from swarmcheck.catalog.model import RFC2119
from swarmcheck.catalog.render import BEGIN, END
from swarmcheck.cluster.capabilities import PROBES, host_feature
from swarmcheck.errors import ConfigError
from swarmcheck.plugin.catalog import collect_checks

REPO = Path(__file__).resolve().parents[2]
SUITES = REPO / "suites"
REGENERATE = "swarmcheck catalog --write suites/README.md"

GOOD: dict[str, Any] = {
    "id": "SC-MEM-901",
    "area": "membership",
    "doc": "https://docs.docker.com/engine/swarm/manage-nodes/",
    "title": "a worker leaves",
    "promise": "A worker MUST be able to leave the swarm.",
    "rows": ("mem-leave",),
    "effects": ("writes",),
}


def problems(**changes: Any) -> str:
    """The ConfigError text for GOOD with ``changes`` (None removes a field)."""
    kwargs = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    with pytest.raises(ConfigError) as raised:
        parse_check(kwargs)
    return str(raised.value)


def check(test_id: str, rows: tuple[str, ...], **fields: Any) -> Check:
    return replace(parse_check({**GOOD, "id": test_id, "rows": rows}), **fields)


def test_the_shipped_catalog_has_84_rows_in_14_areas() -> None:
    catalog = load_catalog()
    assert len(catalog.rows) == 84
    assert len(set(catalog.row_keys)) == 84
    assert len(catalog.areas) == 14
    assert all(catalog.rows_of(a.key) for a in catalog.areas), "an area without rows"
    for row in catalog.rows:
        assert RFC2119.search(row.promise), f"{row.key}: no RFC 2119 keyword"
        assert row.doc.startswith("https://docs.docker.com/"), row.key


def test_a_good_marker_parses() -> None:
    parsed = parse_check({**GOOD, "needs": ["ipvs"], "effects": ("writes", "membership")})
    assert parsed.rows == ("mem-leave",)
    assert parsed.needs == ("ipvs",)
    assert parsed.effects == ("writes", "membership")
    assert parsed.destructive  # what no reset undoes: membership
    assert parsed.keywords == ("SC-MEM-901", "membership", "mem-leave", "destructive")
    assert not parse_check({**GOOD, "effects": ("writes", "roles", "settings")}).destructive


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"id": "SC-mem-1"}, "id='SC-mem-1' does not look like SC-<AREA>-<NNN>: use e.g. "),
        ({"id": "MEM-001"}, "does not look like SC-<AREA>-<NNN>"),
        ({"area": "raft/leader"}, "area='raft/leader' is not a catalog area: use one of "),
        ({"area": "chaos/raft"}, None),
        ({"doc": "docs.docker.com/x"}, "is not a link: give the https:// URL"),
        ({"promise": "A worker leaves."}, "has no RFC 2119 keyword: say what Swarm promises"),
        ({"promise": "A worker must leave."}, "has no RFC 2119 keyword"),
        ({"promise": "It MUST leave. It MUST go."}, "is more than one sentence"),
        ({"promise": 'It MUST say "No. Never." when asked.'}, None),
        ({"rows": "mem-leave"}, "rows= takes a tuple of catalog row keys, e.g. rows=('mem-"),
        ({"rows": ()}, "missing rows="),
        ({"rows": ("mem-leav",)}, "'mem-leav', which is not a catalog row (did you mean 'mem-le"),
        ({"needs": ("ipv",)}, "needs= names unknown platform features 'ipv': known are ipvs, "),
        ({"needs": "ipvs"}, "needs= takes a tuple of platform features"),
        ({"destructive": "yes"}, "destructive= must be True or False (got 'yes')"),
        ({"destructive": False}, None),  # agrees with effects=('writes',)
        ({"destructive": True}, "destructive=True contradicts effects= (effects= are all undone"),
        (
            {"effects": ("stops",), "destructive": False},
            "destructive=False contradicts effects= (effects= include stops): leave destructive=",
        ),
        ({"effects": None}, "missing effects=: every check needs id=, area=, doc=, title=, "),
        ({"row": ("mem-leave",)}, "unknown argument row=: the swarmcheck marker takes id=, area="),
        ({"title": None, "promise": None}, "missing title=, promise=: every check needs id=, "),
        ({"title": 42}, "title= must be a non-empty string (got 42)"),
    ],
)
def test_bad_marker_metadata_says_what_to_fix(changes: dict[str, Any], says: str | None) -> None:
    if says is None:
        parse_check({**GOOD, **changes})
    else:
        assert says in problems(**changes)


def test_every_problem_is_reported_at_once() -> None:
    text = problems(id="bad", rows=("nope",), promise="no keyword")
    assert len(text.splitlines()) == 3


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(ConfigError, match="keyword arguments only"):
        parse_check(GOOD, ("SC-MEM-901",))


def test_suite_comes_from_the_folder() -> None:
    assert check("SC-MEM-901", ("mem-leave",), file="suites/chaos/test_x.py").suite == "chaos"
    assert check("SC-MEM-901", ("mem-leave",), file="conformance/t.py").suite == "conformance"


def test_coverage_tells_covered_platform_only_and_uncovered_rows() -> None:
    checks = [
        check("SC-MEM-901", ("mem-leave", "mem-init"), file="suites/conformance/a.py"),
        check("SC-NET-901", ("net-routing-mesh",), needs=("ipvs",), file="conformance/b.py"),
        check("SC-NET-902", ("net-dnsrr",), needs=("ipvs",), file="conformance/b.py"),
        check("SC-NET-903", ("net-dnsrr",), file="conformance/b.py"),
        check("SC-CHAOS-901", ("raft-partition",), area="chaos/raft", file="chaos/c.py"),
    ]
    cov = coverage(load_catalog(), checks)
    status = {r.row.key: r.status for r in cov.rows}
    assert status["mem-leave"] == status["mem-init"] == "covered"
    assert status["net-routing-mesh"] == "platform"
    assert status["net-dnsrr"] == "covered"  # one check runs everywhere
    assert status["raft-partition"] == "covered"
    assert status["mem-join-manager"] == "uncovered"
    assert cov.with_checks == 5 and cov.count("platform") == 1
    assert cov.by_conformance == 4  # raft-partition only by a chaos check
    assert [r.row.key for r in cov.rows_needing("ipvs")] == ["net-routing-mesh"]
    networking = next(a for a in cov.areas if a.area.key == "networking")
    assert (networking.count("covered"), networking.count("platform")) == (1, 1)
    assert len(networking.uncovered) == 8


def _sample() -> Mapping[str, Any]:
    checks = [
        check("SC-MEM-901", ("mem-leave",), file="conformance/test_a.py", effects=("stops",)),
        check("SC-NET-901", ("net-routing-mesh",), area="networking", needs=("ipvs",)),
    ]
    cov = coverage(load_catalog(), checks)
    host = {"ipvs": "missing: no ip_vs", "netem": "present"}
    return {"cov": cov, "host": host}


def test_markdown_shows_checks_coverage_features_and_rows_without_checks() -> None:
    sample = _sample()
    text = render_markdown(sample["cov"], sample["host"])
    assert "Checks cover **2 of 84** (conformance checks alone: 2); 1 of them only" in text
    assert "| membership (Membership: init, join, leave, restart) | 8 | 1 | 0 | 7 |" in text
    assert "| ipvs | " in text and "`net-routing-mesh` (SC-NET-901) | missing: no ip_vs |" in text
    assert "| `mem-init` | membership | " in text  # a row without a check, with its promise
    assert "[SC-MEM-901](conformance/test_a.py)" in text
    assert "| stops |" in text and "| needs ipvs |" in text
    assert "detected when a check runs" in render_markdown(sample["cov"])  # no host: README


def test_json_has_the_same_facts() -> None:
    sample = _sample()
    data = json.loads(render_json(sample["cov"], sample["host"]))
    assert data["summary"]["with_checks"] == 2 and data["summary"]["platform_only"] == 1
    assert data["features"]["ipvs"] == {
        "about": FEATURES["ipvs"],
        "rows_only_with_it": ["net-routing-mesh"],
        "this_host": "missing: no ip_vs",
    }
    row = next(r for r in data["rows"] if r["row"] == "mem-leave")
    assert row["checks"] == ["SC-MEM-901"] and row["status"] == "covered" and row["budget"]
    assert {c["id"] for c in data["checks"]} == {"SC-MEM-901", "SC-NET-901"}
    mem = next(c for c in data["checks"] if c["id"] == "SC-MEM-901")
    assert (mem["effects"], mem["destructive"]) == (["stops"], True)


def test_splice_keeps_the_hand_written_part() -> None:
    document = f"# intro\nhand-written\n\n{BEGIN}\nold\n{END}\ntrailer\n"
    spliced = splice(document, "new\ntable\n")
    assert spliced == f"# intro\nhand-written\n\n{BEGIN}\nnew\ntable\n{END}\ntrailer\n"
    assert generated_block(spliced) == "new\ntable\n"
    assert generated_block("# no markers\n") is None
    with pytest.raises(ConfigError, match="has no generated part: put the two lines"):
        splice("# no markers\n", "x")


def test_every_platform_feature_has_a_probe() -> None:
    assert set(PROBES) == set(FEATURES)


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_host_feature_says_present_missing_or_unknown(feature: str) -> None:
    assert host_feature(feature).startswith(("present", "missing: ", "unknown until a run: "))


def test_suites_readme_matches_the_markers_in_suites() -> None:
    """suites/README.md is generated: it must say what the markers say."""
    block = render_markdown(coverage(load_catalog(), collect_checks(SUITES)))
    current = generated_block((SUITES / "README.md").read_text())
    assert current == block, f"suites/README.md is out of date: run `{REGENERATE}`"


def test_the_catalog_command_prints_json_and_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["catalog", "--format", "json", "--suites", str(SUITES)]) == 0
    data = json.loads(capsys.readouterr().out)
    ids = [c["id"] for c in data["checks"]]
    assert "SC-MEM-002" in ids and len(ids) == len(set(ids))
    mem2 = next(c for c in data["checks"] if c["id"] == "SC-MEM-002")
    assert mem2["file"] == "conformance/test_membership.py"
    assert mem2["test"] == "test_worker_cannot_list_nodes"
    assert set(data["features"]["ipvs"]) == {"about", "rows_only_with_it", "this_host"}
    assert cli.main(["catalog", "--suites", str(SUITES)]) == 0
    assert "## Coverage" in capsys.readouterr().out


def test_write_and_check_a_readme(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# mine\n{BEGIN}\n{END}\n")
    args = ["catalog", "--suites", str(SUITES)]
    assert cli.main([*args, "--check", str(readme)]) == 1
    assert "run `swarmcheck catalog" in capsys.readouterr().err
    assert cli.main([*args, "--write", str(readme)]) == 0
    assert readme.read_text().startswith("# mine\n")
    assert cli.main([*args, "--check", str(readme)]) == 0


def test_a_suites_folder_with_bad_metadata_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "test_bad.py").write_text(
        "import pytest\n\n@pytest.mark.swarmcheck(id='bad')\ndef test_bad():\n    pass\n"
    )
    assert cli.main(["catalog", "--suites", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "test_bad.py::test_bad: missing area=" in err
    assert "id='bad' does not look like SC-<AREA>-<NNN>" in err


def test_effects_are_required_and_named_from_their_list() -> None:
    base = {k: v for k, v in GOOD.items() if k != "effects"}
    with pytest.raises(ConfigError, match=re.escape("missing effects=")):
        parse_check(base)
    assert parse_check({**base, "effects": ("writes", "roles")}).effects == ("writes", "roles")
    for bad, says in (
        (("writes", "bulldoze"), "effects= names unknown effects 'bulldoze': known are reads,"),
        ("writes", "effects= takes a non-empty tuple"),
        ((), "missing effects="),
    ):
        with pytest.raises(ConfigError, match=re.escape(says)):
            parse_check({**base, "effects": bad})
