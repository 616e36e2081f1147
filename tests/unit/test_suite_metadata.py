"""The swarmcheck marker as pytest sees it: checked at collection, selectable with -k and
--swarm-select, and labelled in Allure results. Runs generated test files with pytester (no
Docker: the generated checks use no swarm fixture)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import swarmcheck

TITLES = {"membership": "worker leaves", "services": "a service converges"}


def marked(name: str, test_id: str, area: str = "membership", **extra: Any) -> str:
    """A test function carrying a swarmcheck marker (``extra`` overrides or adds fields)."""
    fields: dict[str, Any] = {
        "id": test_id,
        "area": area,
        "doc": "https://docs.docker.com/engine/swarm/",
        "title": TITLES.get(area, "a check"),
        "promise": "Swarm MUST keep this promise.",
        "rows": ("mem-leave",) if area == "membership" else ("svc-converge",),
        "effects": ("writes",),
        **extra,
    }
    args = ", ".join(f"{k}={v!r}" for k, v in fields.items() if v is not None)
    return f"@pytest.mark.swarmcheck({args})\ndef {name}():\n    '''What it does.'''\n"


def module(*tests: str) -> str:
    return "import pytest\n\n" + "\n".join(tests)


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    """Two files of checks: three membership checks and two services checks."""
    pytester.makepyfile(
        test_members=module(
            marked("test_leave", "SC-MEM-901"),
            marked("test_join", "SC-MEM-902", rows=("mem-join-worker", "tok-rotate")),
            marked("test_init", "SC-MEM-903", rows=("mem-init",), effects=("membership",)),
        ),
        test_more=module(
            marked("test_converge", "SC-SVC-901", area="services"),
            marked("test_scale", "SC-SVC-902", area="services", rows=("svc-scale",)),
            "def test_plain():\n    pass\n",
        ),
    )
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("-p", "no:allure_pytest", *args)


def passed(result: pytest.RunResult) -> list[str]:
    """The names of the tests that ran and passed."""
    reports, _, _ = result.reprec.listoutcomes()  # type: ignore[attr-defined]
    return sorted(r.nodeid.split("::")[-1] for r in reports)


@pytest.mark.parametrize(
    ("expression", "selected"),
    [
        ("SC-MEM-902", ["test_join"]),
        ("sc-mem-902", ["test_join"]),  # -k ignores case
        ("services", ["test_converge", "test_scale"]),
        ("tok-rotate", ["test_join"]),
        ("membership and not destructive", ["test_join", "test_leave"]),
    ],
)
def test_k_matches_ids_areas_and_rows(
    suite: pytest.Pytester, expression: str, selected: list[str]
) -> None:
    result = run(suite, "-k", expression)
    assert result.ret == pytest.ExitCode.OK
    assert passed(result) == selected
    result.assert_outcomes(passed=len(selected), deselected=6 - len(selected))


@pytest.mark.parametrize(
    ("selection", "selected"),
    [
        ("SC-MEM-901", ["test_leave"]),
        ("SC-MEM-901,SC-SVC-902", ["test_leave", "test_scale"]),
        ("services", ["test_converge", "test_scale"]),
        ("mem-init, svc-scale", ["test_init", "test_scale"]),
        ("sc-mem-902,MEMBERSHIP", ["test_init", "test_join", "test_leave"]),
    ],
)
def test_swarm_select_takes_ids_areas_and_rows(
    suite: pytest.Pytester, selection: str, selected: list[str]
) -> None:
    result = run(suite, f"--swarm-select={selection}")
    assert passed(result) == selected
    result.assert_outcomes(passed=len(selected), deselected=6 - len(selected))


def test_swarm_select_refuses_an_unknown_value_and_lists_the_areas(suite: pytest.Pytester) -> None:
    result = run(suite, "--swarm-select=SC-MEM-901,netwrk,SC-MEM-999")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--swarm-select: unknown id, area or row: netwrk, SC-MEM-999. Areas of the "
            "collected checks: membership, services; ids look like SC-MEM-002*"
        ]
    )


def test_a_catalog_row_without_collected_checks_selects_nothing(suite: pytest.Pytester) -> None:
    result = run(suite, "--swarm-select=net-routing-mesh")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    result.assert_outcomes(deselected=6)


def collect(pytester: pytest.Pytester, **modules: str) -> pytest.RunResult:
    pytester.makepyfile(**modules)
    return run(pytester, "--collect-only", "-q")


def test_valid_markers_collect(pytester: pytest.Pytester) -> None:
    result = collect(pytester, test_a=module(marked("test_one", "SC-OK-001")))
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()


def test_parametrized_items_share_their_check_id(pytester: pytest.Pytester) -> None:
    source = module(
        "@pytest.mark.parametrize('n', [1, 2])\n" + marked("test_each", "SC-OK-002")
    ).replace("def test_each():", "def test_each(n):")
    result = collect(pytester, test_a=source)
    assert result.ret == pytest.ExitCode.OK, result.stderr.str()


def test_duplicate_ids_name_both_tests(pytester: pytest.Pytester) -> None:
    result = collect(
        pytester,
        test_a=module(marked("test_first", "SC-DUP-001")),
        test_b=module(marked("test_second", "SC-DUP-001")),
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*bad suite metadata:*",
            "*test_b.py::test_second: id SC-DUP-001 is already used by test_a.py::test_first",
        ]
    )


def test_bad_markers_name_each_test_and_the_fix(pytester: pytest.Pytester) -> None:
    result = collect(
        pytester,
        test_a=module(
            marked("test_undocumented", "SC-DOC-001", doc=None, title=None),
            marked("test_lowercase", "sc-doc-2"),
            marked("test_vague", "SC-DOC-003", promise="Swarm keeps it."),
            marked("test_unknown_row", "SC-DOC-004", rows=("mem-leav",)),
            marked("test_feature", "SC-DOC-005", needs=("ipv",)),
            "@pytest.mark.swarmcheck(\n"
            + marked("test_fresh", "SC-DOC-006")
            .split("(", 1)[1]
            .replace("def test_fresh():", "def test_fresh(swarm_fresh_cluster):"),
        ),
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*bad suite metadata:*",
            "*test_undocumented: missing doc=, title=: every check needs id=, area=, doc=, "
            "title=, promise=, rows=, effects=",
            "*test_lowercase: id='sc-doc-2' does not look like SC-<AREA>-<NNN>*",
            "*test_vague: promise='Swarm keeps it.' has no RFC 2119 keyword*",
            "*test_unknown_row: rows= names 'mem-leav', which is not a catalog row "
            "(did you mean 'mem-leave'?)*",
            "*test_feature: needs= names unknown platform features 'ipv': known are ipvs, netem",
            "*test_fresh: it uses swarm_fresh_cluster (a swarm of its own, for what no reset "
            "undoes), so its effects= must name what it does beyond reads, writes, roles and "
            "settings*",
        ]
    )


def test_allure_groups_checks_by_area_with_id_promise_rows_and_doc(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A subprocess (Allure keeps global state): it must import this checkout's swarmcheck.
    monkeypatch.setenv("PYTHONPATH", str(Path(swarmcheck.__file__).parents[1]))
    pytester.makepyfile(
        test_members=module(
            marked("test_join", "SC-MEM-902", rows=("mem-join-worker", "tok-rotate"))
        )
    )
    results = tmp_path / "allure"
    outcome = pytester.runpytest_subprocess(f"--alluredir={results}")
    outcome.assert_outcomes(passed=1)
    [result_file] = results.glob("*-result.json")
    result = json.loads(result_file.read_text())
    labels = {(label["name"], label["value"]) for label in result["labels"]}
    assert {
        ("feature", "membership"),
        ("parentSuite", "membership"),
        ("suite", "test_members.py"),
        ("story", "SC-MEM-902"),
        ("swarmcheck_id", "SC-MEM-902"),
        ("swarmcheck_row", "mem-join-worker"),
        ("swarmcheck_row", "tok-rotate"),
        ("tag", "SC-MEM-902"),
    } <= labels
    assert not {name for name, value in labels if name == "parentSuite" and value != "membership"}
    assert result["name"] == "SC-MEM-902: worker leaves"
    description = result["description"]
    for text in (
        "**SC-MEM-902**",
        "**Promise:** Swarm MUST keep this promise.",
        "**Catalog rows:** mem-join-worker, tok-rotate",
        "**Documentation:** https://docs.docker.com/engine/swarm/",
        "What it does.",
    ):
        assert text in description
    assert {"name": "documentation", "url": "https://docs.docker.com/engine/swarm/"}.items() <= (
        result["links"][0].items()
    )
