"""pytest-xdist without Docker: the shape chunks, and a real -n 2 session whose tests use a
stand-in ``swarm_cluster`` fixture, to see which worker ran what and what the controller prints."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from swarmcheck.plugin.chunks import chunk_groups

pytest.importorskip("xdist", reason="pytest-xdist is in the dev extra")


def test_a_big_shape_is_split_over_the_workers_a_small_one_is_not() -> None:
    shapes = [(f"a{i}", "3m0w") for i in range(14)] + [(f"b{i}", "3m1w") for i in range(3)]
    shapes.insert(5, ("plain", None))
    groups = chunk_groups(shapes, workers=2)
    assert "plain" not in groups
    assert {groups[f"a{i}"] for i in range(7)} == {"swarm:3m0w:1"}  # contiguous halves
    assert {groups[f"a{i}"] for i in range(7, 14)} == {"swarm:3m0w:2"}
    assert {groups[f"b{i}"] for i in range(3)} == {"swarm:3m1w:1"}


@pytest.mark.parametrize(("tests", "workers", "chunks"), [(5, 4, 1), (12, 4, 2), (40, 4, 4)])
def test_chunks_have_at_least_six_tests(tests: int, workers: int, chunks: int) -> None:
    groups = chunk_groups([(f"t{i}", "s") for i in range(tests)], workers)
    assert len(set(groups.values())) == chunks


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
        found = re.match(r"\[(gw\d)\] .*PASSED test_shapes.py::(test_\w+\[?\d*\]?)", line)
        if found:
            ran_on[found.group(2)] = found.group(1)
    workers: dict[str, set[str]] = defaultdict(set)
    for name, worker in ran_on.items():
        workers[_chunk(name)].add(worker)
    assert all(len(w) == 1 for w in workers.values()), f"a chunk was split: {dict(workers)}"
    assert workers["small#0"] != workers["small#1"], "the big shape used one worker only"
    assert result.stdout.str().count("swarmcheck summary") == 1
    result.stdout.fnmatch_lines(["swarmcheck: 1 test: 1 passed*"])
    assert (pytester.path / "reports" / "junit.xml").is_file()


def _chunk(name: str) -> str:
    """test_small[0..6] -> small#0, test_small[7..13] -> small#1, test_with_worker[..] ->
    with_worker, others: their own name."""
    found = re.match(r"test_(small|with_worker)\[(\d+)\]", name)
    if not found:
        return name
    if found.group(1) == "small":
        return f"small#{int(found.group(2)) // 7}"
    return "with_worker"


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
