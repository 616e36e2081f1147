"""--swarm-keep-on-failure, its pure parts: what a sweep leaves and removes, what a kept
cluster's mark and report carry, and what the summary and the sweep say (no Docker needed)."""

from __future__ import annotations

import json
import os
import socket
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from swarmcheck import labels
from swarmcheck.cluster import sockets
from swarmcheck.cluster.kept import (
    KEEP_S,
    KeptCluster,
    KeptNode,
    judge_kept,
    kept_runs,
    left_note,
    removable,
)
from swarmcheck.reporting.summary import format_kept

NOW = 1_800_000_000.0
DEAD_PID = "999999999"  # above any pid_max: no such process


def kept(run_id: str, age_s: float, tests: tuple[str, ...] = ("t.py::test_fails",)) -> KeptCluster:
    at = NOW - age_s
    nodes = (
        KeptNode("manager1", "manager", f"sc-{run_id}-manager1", f"/tmp/s/{run_id}/manager1/s"),
        KeptNode(
            "worker1", "worker", f"sc-{run_id}-worker1", f"/tmp/s/{run_id}/worker1/s", "exited"
        ),
    )
    return KeptCluster(run_id, tests, nodes, at, at + KEEP_S)


def owned(run_id: str, pid: str) -> dict[str, str]:
    """An object's labels, owned by ``pid`` of this host."""
    return {labels.RUN: run_id, labels.OWNER_PID: pid, labels.OWNER_HOST: socket.gethostname()}


def test_a_sweep_leaves_kept_runs_for_their_time_and_no_longer() -> None:
    young, old = kept("young", 3600), kept("old", KEEP_S + 1)
    edge = kept("edge", KEEP_S)

    judged = judge_kept([young, old, edge], NOW)

    assert judged.left == (young,)
    assert judged.expired == (old, edge), "a kept run is left for KEEP_S, not a second more"
    assert labels.KEEP_HOURS == 24 and KEEP_S == 24 * 3600


@pytest.mark.parametrize(
    ("run_id", "pid", "removed"),
    [
        ("young", DEAD_PID, False),  # kept, time not over: left although its owner is gone
        ("gone", DEAD_PID, True),  # not kept, owner gone: a killed run's leftover
        ("gone", str(os.getpid()), False),  # not kept, owner alive: a running session's
        ("young", str(os.getpid()), False),
    ],
    ids=["kept", "killed-run", "live-run", "kept-by-a-live-run"],
)
def test_what_a_sweep_removes(run_id: str, pid: str, removed: bool) -> None:
    left = judge_kept([kept("young", 60), kept("old", KEEP_S + 60)], NOW).left_ids
    assert removable(owned(run_id, pid), left) is removed


def test_an_expired_kept_run_is_removed_like_any_dead_run() -> None:
    left = judge_kept([kept("old", KEEP_S + 60)], NOW).left_ids
    assert removable(owned("old", DEAD_PID), left)


def test_a_sweep_judges_only_kept_runs_whose_session_is_over() -> None:
    """A running session's kept cluster is its own (an xdist worker's, still running)."""
    ended, running = kept("ended", 60), kept("running", 30)
    marks = [
        SimpleNamespace(attrs={"Labels": {**owned(k.run_id, pid), **k.mark_labels()}})
        for k, pid in ((running, str(os.getpid())), (ended, DEAD_PID))
    ]
    host: Any = SimpleNamespace(volumes=SimpleNamespace(list=lambda filters: marks))

    assert kept_runs(host) == [ended, running], "oldest first"
    assert kept_runs(host, ended=True) == [ended]


def test_the_mark_describes_the_kept_cluster() -> None:
    cluster = kept("abcd1234", 10)
    mark = {**labels.for_run("abcd1234", "kept"), **cluster.mark_labels()}

    assert mark[labels.KEPT_UNTIL].endswith("+00:00"), "times are ISO 8601, UTC"
    assert KeptCluster.from_mark(mark) == cluster
    assert KeptCluster.from_mark({labels.RUN: "x", labels.KEPT: "yesterday"}) is None


def test_a_kept_cluster_travels_in_a_test_report() -> None:
    """What an xdist worker sends the controller: the report's attributes, serialized."""
    cluster = kept("abcd1234", 10)
    report = pytest.TestReport(
        "t.py::test_fails", ("t.py", 1, "test_fails"), {}, "passed", None, "teardown"
    )
    report.swarmcheck = {"kept": cluster.to_dict()}  # type: ignore[attr-defined]

    wire = json.loads(json.dumps(report._to_json()))
    received = pytest.TestReport._from_json(wire)

    assert KeptCluster.from_dict(received.swarmcheck["kept"]) == cluster  # type: ignore[attr-defined]


def test_socket_directories_of_kept_runs_are_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for run_id in ("kept1", "dead1"):
        sockets.run_dir(run_id).joinpath("owner").write_text(f"{DEAD_PID} {socket.gethostname()}\n")

    assert sockets.sweep_run_dirs(leave=frozenset({"kept1"})) == 1
    assert sorted(p.name for p in sockets.base_dir().iterdir()) == ["kept1"]


def test_the_summary_says_how_to_reach_each_node_and_how_to_remove_it() -> None:
    one = kept("abcd1234", 10, ("suites/x.py::test_a",))

    text = format_kept([one, one], {"suites/x.py::test_b": "3 clusters are kept already"})
    lines = text.splitlines()

    assert lines[0].startswith("kept 1 cluster after a failed check (--swarm-keep-on-failure)")
    assert "with no fault active" in lines[0], "the reader must know faults were healed"
    assert "  cluster abcd1234, kept for suites/x.py::test_a" in lines
    assert "    manager1  docker exec -it sc-abcd1234-manager1 sh" in lines
    assert "              DOCKER_HOST=unix:///tmp/s/abcd1234/manager1/s docker node ls" in lines
    assert "              DOCKER_HOST=unix:///tmp/s/abcd1234/worker1/s docker info" in lines, (
        "a worker cannot list nodes"
    )
    assert (
        "    worker1   exited when kept (the check left it so): docker start sc-abcd1234-worker1"
        in lines
    ), "a node the check stopped must be started before it can be reached"
    assert "    remove it: swarmcheck sweep --run abcd1234" in lines
    assert "leave kept clusters 24 h" in text and "swarmcheck sweep --kept" in text
    assert lines[-2:] == [
        "failed, cluster not kept:",
        "  suites/x.py::test_b: 3 clusters are kept already",
    ]


def test_the_sweep_says_why_it_left_a_kept_cluster() -> None:
    note = left_note(kept("abcd1234", 2 * 3600), NOW)

    assert note.startswith("left cluster abcd1234, kept at ")
    assert "after t.py::test_fails failed" in note
    assert "sweeps leave a kept cluster 24 h" in note and "(22.0 h more)" in note
    assert "`swarmcheck sweep --run abcd1234`" in note and "`swarmcheck sweep --kept`" in note
