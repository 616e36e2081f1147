"""End to end: --swarm-keep-on-failure on real swarms.

A session with one failing check keeps exactly that check's cluster running, marked kept, as
the check left it but with its fault healed; the summary's commands reach its nodes; the next
session's sweep and `swarmcheck sweep` leave it; `swarmcheck sweep --run ID` removes it.
Without the option nothing is kept; Ctrl-C or SIGTERM removes everything not kept; under
pytest-xdist the controller's summary lists what every worker kept. Sessions run as in
test_plugin_runs.py (a tiny generated suite in a subprocess; its ``up`` fixture logs every swarm
to swarms.jsonl).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import docker
import pytest

from swarmcheck import labels
from swarmcheck.cluster import reaper, sockets
from swarmcheck.cluster.kept import KEEP_S, kept_runs, mark_name
from tests.e2e.test_plugin_runs import (
    PASSING,
    RUN_TIMEOUT_S,
    STOP_TIMEOUT_S,
    UP_TIMEOUT_S,
    Project,
    Up,
    leftovers,
    stop,
)

pytestmark = pytest.mark.e2e

KEEP = "--swarm-keep-on-failure"

FAILS_THEN_PASSES = """
import pytest

from swarmcheck.faults import process


@pytest.mark.swarm(managers=1, workers=1)
def test_fails_with_a_paused_worker(swarm_fault_log, up):  # the log's teardown comes last
    up.leader_client().docker.secrets.create(name="left-by-the-check", data=b"x")
    process.pause_node(up, up.workers[0], log=swarm_fault_log).start()
    raise AssertionError("fails on purpose, its worker paused")


@pytest.mark.swarm(managers=1, workers=1)
def test_passes_after_it(up):
    assert len(up.node_list()) == 2
"""

FAILS_THEN_SLEEPS = """
import time

import pytest


@pytest.mark.swarm(managers=1)
def test_fails(up):
    raise AssertionError("fails on purpose")


@pytest.mark.swarm(managers=1)
def test_sleeps(up):
    time.sleep(120)
"""

FAILS_IN_TWO_SHAPES = """
import pytest


@pytest.mark.swarm(managers=1)
def test_fails_on_one_node(up):
    raise AssertionError("fails on purpose")


@pytest.mark.swarm(managers=1, workers=1)
def test_fails_on_two_nodes(up):
    raise AssertionError("fails on purpose")
"""


@pytest.fixture
def project(tmp_path: Path, host: docker.DockerClient) -> Iterator[Project]:
    """A project whose sessions may keep clusters: after the test, sessions still running
    are stopped and every swarm they made is removed, kept or not."""
    made = Project(tmp_path)
    yield made
    for proc in made.procs:
        stop(proc)
    for swarm in made.swarms():
        reaper.remove_run(host, swarm["run_id"])


def run_ids(project: Project) -> dict[str, str]:
    """Test name -> the run id of the swarm it got."""
    return {s["test"]: s["run_id"] for s in project.swarms()}


def running_nodes(host: docker.DockerClient, run_id: str) -> dict[str, str]:
    """The run's node containers: name -> status."""
    flt = {"label": [f"{labels.RUN}={run_id}", f"{labels.ROLE}=node"]}
    return {c.name: c.status for c in host.containers.list(all=True, filters=flt)}


def runs_left_by(host: docker.DockerClient, pid: int) -> set[str]:
    """The runs whose containers, networks or volumes a session (its pid) left on the host."""
    flt = {"label": f"{labels.OWNER_PID}={pid}"}
    found = [*host.containers.list(all=True, filters=flt, sparse=True)]
    found += [*host.networks.list(filters=flt), *host.volumes.list(filters=flt)]
    return {str(o.attrs["Labels"][labels.RUN]) for o in found}


def of_run(host: docker.DockerClient, run_id: str) -> list[str]:
    """Whatever of run ``run_id`` is on the host (pid 0 owns nothing)."""
    return leftovers(host, Up(0, run_id))


def is_marked_kept(host: docker.DockerClient, run_id: str) -> bool:
    return run_id in {k.run_id for k in kept_runs(host)}


def sweep_cli(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "swarmcheck.cli", "sweep", *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def socket_in_summary(output: str, run_id: str, node: str) -> str:
    """The node's socket as the summary prints it, in its `docker node ls` line."""
    found = re.search(rf"DOCKER_HOST=unix://(\S+/{run_id}/{node}/docker\.sock) docker", output)
    assert found, f"no socket of {node} of {run_id} in the summary:\n{output[-3000:]}"
    return found.group(1)


def test_a_failed_check_keeps_its_cluster_until_it_is_removed(
    project: Project, host: docker.DockerClient
) -> None:
    project.write(FAILS_THEN_PASSES)
    done = project.run(KEEP)

    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.output
    ids = run_ids(project)
    kept, other = ids["test_fails_with_a_paused_worker"], ids["test_passes_after_it"]
    assert kept != other, "the test after the failure got the kept cluster"

    # exactly the failed check's cluster is left, running, with its fault healed, marked kept
    assert running_nodes(host, kept) == {
        f"sc-{kept}-manager1": "running",
        f"sc-{kept}-worker1": "running",
    }, "the kept cluster's paused worker was not healed"
    assert is_marked_kept(host, kept)
    assert host.volumes.get(mark_name(kept)).attrs["Labels"][labels.KEPT_FOR] == (
        '["test_generated.py::test_fails_with_a_paused_worker"]'
    )
    assert (sockets.base_dir() / kept).is_dir()
    teardown = done.output.split("Captured log teardown", 1)[-1]
    healed = teardown.find("heal fault pause_node(worker1)")
    assert -1 < healed < teardown.find(f"kept cluster {kept} after"), "kept before the heal"
    assert runs_left_by(host, project.procs[0].pid) == {kept}, "more than the kept one is left"

    # the summary names it, and its commands reach the nodes; the check's objects are there
    assert f"cluster {kept}, kept for test_generated.py::test_fails_with_a_paused_worker" in (
        done.output
    )
    assert f"docker exec -it sc-{kept}-manager1 sh" in done.output
    assert f"remove it: swarmcheck sweep --run {kept}" in done.output
    manager = docker.DockerClient(
        base_url=f"unix://{socket_in_summary(done.output, kept, 'manager1')}"
    )
    try:
        assert len(manager.nodes.list()) == 2
        assert [s.name for s in manager.secrets.list()] == ["left-by-the-check"], "it was reset"
    finally:
        manager.close()
    code, _ = host.containers.get(f"sc-{kept}-manager1").exec_run(["docker", "node", "ls"])
    assert code == 0

    # the next session's sweep and `swarmcheck sweep` leave it, and say why
    project.write(PASSING)
    second = project.run()
    assert second.returncode == pytest.ExitCode.OK, second.output
    assert f"left cluster {kept}, kept at " in second.output, second.output[-3000:]
    out = sweep_cli()
    assert f"left cluster {kept}" in out and f"swarmcheck sweep --run {kept}" in out, out
    assert set(running_nodes(host, kept).values()) == {"running"} and is_marked_kept(host, kept)

    # `swarmcheck sweep --run ID` removes it, mark and socket directory too
    out = sweep_cli("--run", kept)
    assert f"removed run {kept}: 2 containers" in out, out
    assert not of_run(host, kept) and not is_marked_kept(host, kept)
    assert not (sockets.base_dir() / kept).exists()


def test_a_sweep_removes_a_cluster_kept_longer_than_its_time(
    project: Project, host: docker.DockerClient
) -> None:
    project.write(FAILS_IN_TWO_SHAPES)
    done = project.run(KEEP, "-k", "one_node")
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.output
    (kept,) = run_ids(project).values()
    (record,) = [k for k in kept_runs(host) if k.run_id == kept]
    # Labels cannot change: the mark is made again by its session, as if a day ago.
    mark = host.volumes.get(mark_name(kept))
    owner = mark.attrs["Labels"]
    mark.remove()
    aged = replace(record, kept_at=record.kept_at - KEEP_S, until=record.until - KEEP_S)
    host.volumes.create(name=mark_name(kept), labels={**owner, **aged.mark_labels()})

    out = sweep_cli()

    assert f"removed cluster {kept}, kept at " in out and "kept more than 24 h" in out, out
    assert not of_run(host, kept), out
    assert not (sockets.base_dir() / kept).exists()


def test_without_the_option_nothing_is_kept(project: Project, host: docker.DockerClient) -> None:
    project.write(FAILS_THEN_PASSES)
    done = project.run()

    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.output
    assert "kept for" not in done.output
    assert not runs_left_by(host, project.procs[0].pid)
    for run_id in run_ids(project).values():
        assert not of_run(host, run_id) and not is_marked_kept(host, run_id)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_removes_everything_not_kept(
    project: Project, host: docker.DockerClient, sig: signal.Signals
) -> None:
    project.write(FAILS_THEN_SLEEPS)
    proc = project.start(KEEP)
    deadline = time.monotonic() + UP_TIMEOUT_S
    while len(project.swarms()) < 2:  # the failed test's swarm, then the sleeping test's
        assert proc.poll() is None, project.output
        assert time.monotonic() < deadline, f"no second swarm:\n{project.output}"
        time.sleep(0.05)

    proc.send_signal(sig)
    returncode = proc.wait(timeout=STOP_TIMEOUT_S)

    assert returncode == pytest.ExitCode.INTERRUPTED, project.output
    ids = run_ids(project)
    kept, sleeping = ids["test_fails"], ids["test_sleeps"]
    assert running_nodes(host, kept) == {f"sc-{kept}-manager1": "running"}
    assert is_marked_kept(host, kept)
    assert not of_run(host, sleeping), project.output
    assert runs_left_by(host, proc.pid) == {kept}, project.output
    assert f"cluster {kept}, kept for test_generated.py::test_fails" in project.output


def test_under_xdist_the_summary_lists_what_every_worker_kept(
    project: Project, host: docker.DockerClient
) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is in the dev extra")
    project.write(FAILS_IN_TWO_SHAPES)
    done = project.run("-n", "2", KEEP)

    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.output
    swarms = project.swarms()
    assert len(swarms) == 2, swarms
    assert done.output.count("swarmcheck summary") == 1
    assert "kept 2 clusters after failed checks" in done.output, done.output[-3000:]
    for swarm in swarms:
        run_id = swarm["run_id"]
        assert f"cluster {run_id}, kept for test_generated.py::{swarm['test']}" in done.output
        assert is_marked_kept(host, run_id)
        assert set(running_nodes(host, run_id).values()) == {"running"}
