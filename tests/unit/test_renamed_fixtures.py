"""The fixtures' swarm_ names, and their old names as deprecated aliases: they still work,
warn once per name in the warnings summary (not once per test), never warn for a project's
own fixture of that name, and never fail a run under this project's configuration (no
Docker needed: the aliases that need no swarm stand for all of them)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from swarmcheck.plugin.renamed import RENAMED, message

ROOT = Path(__file__).resolve().parents[2]

OLD_NAMES = """
import pytest


@pytest.mark.parametrize("i", range(12))
def test_records_a_figure(figure, i):
    figure("answer", 42)


def test_fault_log_and_schedule(fault_log, chaos_schedule, attach_availability):
    assert len(fault_log) == 0 and chaos_schedule is None
    attach_availability([], "nothing to plot")
"""

NEW_NAMES = """
def test_new_names(swarm_figure, swarm_fault_log, swarm_chaos_schedule,
                   swarm_attach_availability, request):
    swarm_figure("answer", 42)
    assert ("figure:answer", 42) in request.node.user_properties
    assert len(swarm_fault_log) == 0 and swarm_chaos_schedule is None
"""

OWN_FIXTURE = """
import pytest


@pytest.fixture
def cluster():
    return "the project's own cluster"


@pytest.fixture
def figure():
    return "the project's own figure"


def test_own_fixtures_win(cluster, figure):
    assert cluster == "the project's own cluster" and figure == "the project's own figure"
"""


def plugin_fixtures(listing: str) -> set[str]:
    """The fixture names `pytest --fixtures` lists under swarmcheck's plugin modules."""
    names: set[str] = set()
    ours = False
    for line in listing.splitlines():
        if line.startswith("-") and "fixtures defined from" in line:
            ours = "fixtures defined from swarmcheck.plugin" in line
        elif ours and line and not line[0].isspace():
            names.add(line.split()[0])
    return names


def test_every_fixture_of_the_plugin_is_prefixed_or_an_alias(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    names = plugin_fixtures(result.stdout.str())

    assert set(RENAMED.values()) | set(RENAMED) <= names, names
    unprefixed = sorted(n for n in names - set(RENAMED) if not n.startswith("swarm_"))
    assert not unprefixed, f"fixtures without the swarm_ prefix: {unprefixed}"


def test_old_names_work_and_warn_once_per_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_old=OLD_NAMES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:randomly")
    output = result.stdout.str()

    result.assert_outcomes(passed=13)
    for old in ("figure", "fault_log", "chaos_schedule", "attach_availability"):
        text = message(old)
        assert output.count(text) == 1, f"{old}: warned {output.count(text)} times:\n{output}"
        assert f"request '{RENAMED[old]}' instead" in text
    assert "test_old.py: 12 warnings" in output, "pytest did not group the per-test warnings"
    assert "SwarmcheckDeprecationWarning" in output


def test_new_names_do_not_warn(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_new=NEW_NAMES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)


def test_a_projects_own_fixture_of_an_old_name_wins_and_does_not_warn(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_own=OWN_FIXTURE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=1)


def test_under_xdist_the_warnings_reach_the_controller(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is in the dev extra")
    pytester.makepyfile(test_old=OLD_NAMES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2")
    output = result.stdout.str()

    result.assert_outcomes(passed=13)
    assert output.count(message("figure")) == 1, output


def test_this_projects_configuration_does_not_make_warnings_errors() -> None:
    """The suites still request the old names until they are moved: their warnings must not
    fail this project's runs (pytest's ini, tox, ./run)."""
    ini = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    filters = ini.get("filterwarnings", [])
    assert not any(f.strip().startswith("error") for f in filters), filters
    for path in ("tox.ini", "run"):
        text = (ROOT / path).read_text()
        assert "-W error" not in text and "filterwarnings" not in text, path


def test_the_documented_filter_silences_the_warning(pytester: pytest.Pytester) -> None:
    """README's way to silence the old names until a suite is moved."""
    pytester.makeini(
        "[pytest]\nfilterwarnings =\n"
        "    ignore::swarmcheck.plugin.renamed.SwarmcheckDeprecationWarning\n"
    )
    pytester.makepyfile(test_old=OLD_NAMES)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=13)
    assert "SwarmcheckDeprecationWarning" not in result.stdout.str()
