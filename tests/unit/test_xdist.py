"""pytest-xdist without Docker: the shape chunks, and a real -n 2 session whose tests use a
stand-in ``swarm_cluster`` fixture, to see which worker ran what and what the controller prints."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from swarmcheck.plugin.chunks import Unit, pick_unit, plan_units

pytest.importorskip("xdist", reason="pytest-xdist is in the dev extra")


def test_units_pack_each_shape_longest_first() -> None:
    shapes = [(f"a{i}", "3m0w") for i in range(10)] + [("plain", None), ("b0", "3m1w")]
    weights = {"a0": 5.0, "a1": 40.0, "a2": 20.0, "b0": 30.0}  # the others: median 20 s
    units = plan_units(shapes, weights, unit_s=45.0)
    assert [u.weight for u in units] == sorted((u.weight for u in units), reverse=True)
    by_test = {n: u for u in units for n in u.nodeids}
    assert by_test["a1"].nodeids == ("a1",)  # 40 s: nothing more fits beside it
    assert by_test["plain"].shape is None and by_test["plain"].nodeids == ("plain",)
    assert by_test["b0"].shape == "3m1w"
    assert sorted(n for u in units for n in u.nodeids) == sorted(n for n, _ in shapes)
    assert all(u.weight <= 45.0 or len(u.nodeids) == 1 for u in units)
    assert by_test["a0"] is units[-1] or by_test["a0"].weight <= 45.0  # the shortest last


def test_untimed_checks_weigh_the_default() -> None:
    units = plan_units([(f"t{i}", "s") for i in range(12)], {})
    assert [len(u.nodeids) for u in units] == [4, 4, 4]  # 10 s each, 45 s units


def test_a_worker_keeps_its_shape_then_goes_where_work_is() -> None:
    units = [Unit("a", ("a1",), 30), Unit("b", ("b1",), 20), Unit("b", ("b2",), 20)]
    assert pick_unit(units, held="b", others=[]) == 1  # its own shape: no bring-up
    # no unit of its shape left: the shape with the most work per worker holding it
    assert pick_unit(units, held="c", others=["b"]) == 0  # a: 30 s for 0 workers
    assert pick_unit(units, held=None, others=["a"]) == 1  # b: 40 s for 0 workers


CONFTEST = """
import pytest


@pytest.fixture
def swarm_cluster(request):
    # a stand-in: the scheduler only looks at the fixture name and the swarm marker
    return request.node.get_closest_marker("swarm")
"""

TESTS = """
import pytest


@pytest.mark.parametrize("i", range(14))
@pytest.mark.swarm(managers=1)
def test_small(swarm_cluster, i):
    pass


@pytest.mark.parametrize("i", range(3))
@pytest.mark.swarm(managers=1, workers=1)
def test_with_worker(swarm_cluster, i):
    pass


@pytest.mark.swarmcheck(
    id="SC-TEST-970",
    area="membership",
    doc="https://docs.docker.com/engine/swarm/",
    title="a check",
    promise="A check MUST be summarised once.",
    rows=("mem-join-worker",),
    effects=("writes",),
)
def test_check():
    pass


def test_plain():
    pass
"""


def test_tests_of_one_shape_run_together_and_one_summary(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_shapes=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "-v")
    result.assert_outcomes(passed=19)

    ran_on: dict[str, str] = {}
    for line in result.outlines:
        found = re.match(r"\[(gw\d)\] .*PASSED test_shapes.py::(test_\w+)\[?\d*\]?", line)
        if found:
            ran_on.setdefault(found.group(2), "")
            ran_on[found.group(2)] += found.group(1)
    workers: dict[str, set[str]] = defaultdict(set)
    for name, seen in ran_on.items():
        workers[name] |= set(re.findall(r"gw\d", seen))
    assert workers["test_small"] == {"gw0", "gw1"}, "the big shape used one worker only"
    assert len(workers["test_with_worker"]) == 1, "a small shape was split over workers"
    assert result.stdout.str().count("swarmcheck summary") == 1
    result.stdout.fnmatch_lines(["swarmcheck: 1 test: 1 passed*"])
    assert (pytester.path / "reports" / "junit.xml").is_file()


@pytest.mark.parametrize("explicit", [False, True], ids=["swarm-tests-found", "option-given"])
def test_clean_alluredir_keeps_this_runs_results_only(
    pytester: pytest.Pytester, explicit: bool
) -> None:
    """Under xdist the controller cleans old results: before the workers start when an option
    says swarmcheck is on, else (it learns late) only what is older than this session."""
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_shapes=TESTS)
    results = pytester.path / "reports" / "allure-results"
    results.mkdir(parents=True)
    (results / "old-result.json").write_text("{}")
    args = ["-p", "no:cacheprovider", "-n", "2", "--clean-alluredir"]
    result = pytester.runpytest_subprocess(*args, *(["--swarm=dind"] if explicit else []))
    result.assert_outcomes(passed=19)
    assert not (results / "old-result.json").exists()
    assert len(list(results.glob("*-result.json"))) == 19


def test_checks_sharing_a_module_fixture_stay_together_in_order() -> None:
    quorum = "3m1w|suites/test_quorum.py"
    shapes = [("q1", quorum), ("x1", "3m1w"), ("q2", quorum), ("q3", quorum), ("x2", "3m1w")]
    weights = {"q1": 60.0, "q2": 5.0, "q3": 5.0, "x1": 30.0, "x2": 30.0}
    units = plan_units(shapes, weights, unit_s=45.0)
    together = next(u for u in units if "q1" in u.nodeids)
    assert together.nodeids == ("q1", "q2", "q3") and together.weight == 70.0
    assert together.shape == "3m1w" and units[0] is together  # the heaviest goes first
