"""The fast mode's choices without Docker: how many workers a machine gets, when a run goes
parallel by itself, and which checks a quick run keeps."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import docker
import pytest
import requests

from swarmcheck.errors import FaultError
from swarmcheck.faults.process import PauseNode
from swarmcheck.machine.capacity import GiB, available_memory, default_workers, workers_for
from swarmcheck.plugin.chunks import plan_units
from swarmcheck.plugin.parallel import suites_folder
from swarmcheck.plugin.quick import Candidate, quick_pick


@pytest.mark.parametrize(
    ("cpus", "memory", "expected"),
    [
        (2, 24 * GiB, 6),  # this project's machine: three checks waiting per core
        (1, 24 * GiB, 3),
        (16, 64 * GiB, 8),  # capped: more start-up than it saves
        (8, 4 * GiB, 2),  # memory-bound: a worker's swarm and process
        (2, 1 * GiB, 1),  # never fewer than one
    ],
)
def test_workers_are_sized_from_cpus_and_memory(cpus: int, memory: int, expected: int) -> None:
    assert workers_for(cpus, memory) == expected


def test_available_memory_reads_meminfo(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 100 kB\nMemAvailable:   2048 kB\n")
    assert available_memory(meminfo) == 2048 * 1024
    assert available_memory(tmp_path / "missing") > 0


def test_only_paths_in_a_swarm_suites_folder_go_parallel_by_themselves(tmp_path: Path) -> None:
    suites = tmp_path / "suites"
    (suites / "conformance").mkdir(parents=True)
    (suites / "conftest.py").write_text("")
    (suites / "conformance" / "test_x.py").write_text("")
    assert suites_folder(suites)
    assert suites_folder(suites / "conformance" / "test_x.py")
    assert not suites_folder(tmp_path)  # a project's own tests
    other = tmp_path / "other" / "suites"
    other.mkdir(parents=True)
    (other / "conftest.py").write_text("")
    assert not suites_folder(other)  # a suites folder without swarm suites in it


def test_repository_suites_are_swarm_suites() -> None:
    root = Path(__file__).resolve().parents[2]
    assert suites_folder(root / "suites" / "conformance")
    assert not suites_folder(root / "tests" / "unit")


def c(
    index: int,
    area: str,
    tutorial: bool = False,
    destructive: bool = False,
    default_shape: bool = True,
) -> Candidate:
    return Candidate(index, area, tutorial, destructive, default_shape)


def test_quick_keeps_one_check_per_area_tutorial_first() -> None:
    picked = quick_pick(
        [
            c(0, "raft", destructive=True),
            c(1, "raft"),
            c(2, "services"),
            c(3, "services", tutorial=True),
            c(4, "membership", default_shape=False),
            c(5, "membership"),
            c(6, "updates", tutorial=True, default_shape=False),
        ]
    )
    # tutorial checks first (in collection order), then the others in collection order
    assert picked == [3, 6, 1, 5]


def test_quick_pick_is_deterministic_and_complete() -> None:
    candidates = [c(i, f"area{i % 4}") for i in range(20)]
    assert quick_pick(candidates) == quick_pick(list(reversed(candidates))) == [0, 1, 2, 3]


class _Freezer:
    """A node container whose freezer gives up ``failures`` times, then freezes."""

    def __init__(self, failures: int, message: str = "unable to freeze: unknown") -> None:
        self.failures, self.message, self.calls = failures, message, 0

    def pause(self) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            response = requests.Response()
            response.status_code = 500
            raise docker.errors.APIError(
                "pause", response, f"OCI runtime pause failed: {self.message}"
            )


def _pause_fault(container: _Freezer) -> PauseNode:
    fault = PauseNode.__new__(PauseNode)
    fault.node = SimpleNamespace(name="worker1", container=container)  # type: ignore[assignment]
    return fault


def test_a_freeze_the_runtime_gave_up_is_tried_again() -> None:
    container = _Freezer(failures=2)
    _pause_fault(container)._inject()
    assert container.calls == 3


def test_other_pause_errors_and_a_freeze_that_never_works_still_fail() -> None:
    with pytest.raises(FaultError, match="unable to freeze"):
        _pause_fault(_Freezer(failures=9))._inject()
    container = _Freezer(failures=1, message="container is not running")
    with pytest.raises(FaultError, match="not running"):
        _pause_fault(container)._inject()
    assert container.calls == 1


def test_quick_prefers_a_check_that_was_short_here() -> None:
    def q(index: int, took_s: float, shares: bool = False, destructive: bool = False) -> Candidate:
        return Candidate(index, "quorum", False, destructive, True, shares, took_s)

    assert quick_pick([q(0, 95.0), q(1, 20.0)]) == [1]
    assert quick_pick([q(0, 95.0)]) == [0]
    # the shortest of the long ones, even with a swarm of its own: no flapping under load
    assert quick_pick([q(0, 113.0), q(1, 35.0, destructive=True)]) == [1]
    assert quick_pick([q(0, 10.0, shares=True), q(1, 80.0)]) == [1]
    # among short ones, the other rules decide
    assert quick_pick([q(0, 25.0, destructive=True), q(1, 29.0)]) == [1]


def test_a_small_run_is_cut_so_that_every_worker_gets_a_unit() -> None:
    units = plan_units([(f"t{i}", "s") for i in range(6)], {}, workers=6)
    assert len(units) == 6  # 60 s of work for 6 workers: 10 s units, not one of 45 s


def _suites(pytester: pytest.Pytester) -> None:
    (pytester.path / "suites" / "conformance").mkdir(parents=True)
    (pytester.path / "suites" / "conftest.py").write_text("")
    (pytester.path / "suites" / "conformance" / "test_a.py").write_text(
        "def test_one():\n    pass\n\ndef test_two():\n    pass\n"
    )
    (pytester.path / "test_plain.py").write_text("def test_plain():\n    pass\n")


@pytest.mark.parametrize(
    ("args", "workers"),
    [
        (["suites/conformance"], default_workers()),  # the fast mode, unasked
        (["suites/conformance", "--swarm-parallel=2"], 2),
        (["suites/conformance", "-n", "0"], 0),  # one at a time, for debugging
        (["suites/conformance", "--swarm-parallel=off"], 0),
        (["test_plain.py"], 0),  # not a swarm suites folder: pytest as usual
        (["suites/conformance", "--collect-only"], 0),
    ],
)
def test_swarm_suites_run_in_parallel_unless_told_otherwise(
    pytester: pytest.Pytester, args: list[str], workers: int
) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is in the dev extra")
    _suites(pytester)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
    assert result.ret == 0, result.stdout.str()
    started = re.search(r"created: (\d+)/\d+ workers", result.stdout.str())
    assert (int(started.group(1)) if started else 0) == workers, result.stdout.str()
