"""End to end: the plugin's promises, checked by running pytest on generated tests.

Each test writes a small project (pytest.ini, a conftest with an ``up`` fixture, one test file)
into its tmp dir and runs ``python -m pytest`` on it in a subprocess, so signals reach a real
session. The ``up`` fixture writes ``up.json`` (the session's pid and the swarm's run id) once
the swarm is ready; leftovers are looked up on the host engine by those two labels. Swarms are
1 manager (plus 1 worker for the broken expectation), a few seconds each.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import docker
import pytest

import swarmcheck
from swarmcheck import labels
from swarmcheck.cluster import reaper
from swarmcheck.reporting.allure_files import CATEGORY_ENVIRONMENT

pytestmark = pytest.mark.e2e

RUN_TIMEOUT_S = 120.0
SUITE_RUN_TIMEOUT_S = 420.0
REPO = Path(__file__).resolve().parents[2]
"""This checkout: sessions import its swarmcheck and run its suites (not an installed copy)."""
UP_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 90.0
DOC = "https://docs.docker.com/engine/swarm/swarm-tutorial/add-nodes/"
WORKER_REFUSAL = "This node is not a swarm manager"
T = TypeVar("T")

CONFTEST = '''
import json
import os
import re
from pathlib import Path

import pytest


@pytest.fixture
def up(swarm_cluster, request):
    """The swarm, announced in up.json (this session's pid and the run id) once ready; every
    test's swarm is also appended to swarms.jsonl (with its subnet and the test)."""
    cluster = swarm_cluster
    partial = Path(f"up.json.{os.getpid()}")
    partial.write_text(json.dumps({"pid": os.getpid(), "run_id": cluster.run_id}))
    partial.replace("up.json")
    line = {"pid": os.getpid(), "run_id": cluster.run_id, "subnet": cluster.subnet,
            "network": cluster.network, "test": request.node.name}
    with open("swarms.jsonl", "a") as out:
        out.write(json.dumps(line) + "\\n")
    return cluster
'''

BROKEN = f'''
import pytest


@pytest.mark.swarmcheck(
    id="SC-TEST-901",
    area="membership",
    doc="{DOC}",
    title="a worker lists the nodes (it must not)",
    promise="A worker MUST list the nodes (a broken expectation on purpose).",
    rows=("mem-join-worker",),
    effects=("writes",),
)
@pytest.mark.swarm(managers=1, workers=1)
def test_worker_can_list_nodes(up):
    assert up.client(up.workers[0]).nodes()
'''

PASSING = """
import pytest


@pytest.mark.swarm(managers=1)
def test_swarm_answers(up):
    assert len(up.node_list()) == 1
"""

MARKED = f"""
import pytest


@pytest.mark.swarmcheck(
    id="SC-TEST-903",
    area="membership",
    doc="{DOC}",
    title="a one-manager swarm lists its node",
    promise="A manager MUST list the nodes of its swarm.",
    rows=("mem-join-worker",),
    effects=("writes",),
)
@pytest.mark.swarm(managers=1)
def test_marked_swarm_answers(up):
    assert len(up.node_list()) == 1
"""

RERUN_AFTER_A_MESS = """
from pathlib import Path

import pytest


@pytest.mark.swarm(managers=1)
def test_flaky_leaves_a_mess(up):
    engine = up.managers[0].client
    if not Path("attempted").exists():
        Path("attempted").write_text("1")
        engine.secrets.create(name="left-behind", data=b"x")
        raise AssertionError("the first attempt fails, leaving a secret behind")
    assert engine.secrets.list() == [], "the rerun did not start from a reset swarm"
"""

TIMED_OUT_WITH_A_FAULT = """
import time

import pytest

from swarmcheck.faults import process


@pytest.mark.timeout(10, method="signal", func_only=True)
@pytest.mark.swarm(managers=1, workers=1)
def test_hangs_with_a_paused_worker(up, swarm_fault_log):
    process.pause_node(up, up.workers[0], log=swarm_fault_log).start()
    time.sleep(120)


@pytest.mark.swarm(managers=1, workers=1)
def test_next_one_gets_a_whole_swarm(up):
    assert up.workers[0].container.status == "running", "the paused worker was not healed"
    assert {(n.state, n.availability) for n in up.node_list()} == {("ready", "active")}
"""

TWO_SHAPES = """
import pytest


@pytest.mark.swarm(managers=1)
def test_one_manager(up):
    assert len(up.node_list()) == 1


@pytest.mark.swarm(managers=1)
def test_one_manager_again(up):
    assert len(up.node_list()) == 1


@pytest.mark.swarm(managers=1, workers=1)
def test_one_manager_one_worker(up):
    assert len(up.node_list()) == 2


@pytest.mark.swarm(managers=1, workers=1)
def test_one_manager_one_worker_again(up):
    assert len(up.node_list()) == 2
"""
"""Two checks of each of two shapes: the scheduler tops a worker up to two checks, so two
checks in all would both go to one worker."""

SLEEPING = """
import time

import pytest


@pytest.mark.swarm(managers=1)
def test_sleeps_with_a_swarm(up):
    time.sleep(120)
"""


@dataclass(frozen=True)
class Up:
    """What a session announced once its swarm was ready."""

    pid: int
    run_id: str


@dataclass(frozen=True)
class Finished:
    returncode: int
    output: str


def _source_path() -> str:
    """PYTHONPATH for sessions: the swarmcheck under test first (this checkout, not whichever
    copy is pip-installed), then whatever the caller had."""
    here = str(Path(swarmcheck.__file__).resolve().parents[1])
    return os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p)


def _default_sigint() -> None:
    """Child side: a Ctrl-C must raise KeyboardInterrupt even if our parent ignores SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Project:
    """A tmp dir of generated tests and the pytest sessions started on it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.allure = root / "allure-results"
        self.log = root / "pytest.log"
        self.up_file = root / "up.json"
        self.procs: list[subprocess.Popen[bytes]] = []
        (root / "pytest.ini").write_text("[pytest]\n")
        (root / "conftest.py").write_text(CONFTEST)

    def write(self, source: str) -> None:
        (self.root / "test_generated.py").write_text(textwrap.dedent(source))

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start ``python -m pytest`` here; output goes to ``self.log``. One session, one
        process (the swarms' owner), also for the repository's suite files, which the fast
        mode would otherwise spread over workers, unless the test chose ``-n``."""
        self.up_file.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v"]
        cmd += [f"--alluredir={self.allure}", f"--swarm-reports={self.root / 'reports'}"]
        if not any(a.startswith("-n") for a in args):
            cmd.append("--swarm-parallel=off")
        with self.log.open("wb") as out:
            proc = subprocess.Popen(
                [*cmd, *args],
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "COLUMNS": "200", "PYTHONPATH": _source_path()},
                preexec_fn=_default_sigint,
            )
        self.procs.append(proc)
        return proc

    def run(self, *args: str, timeout_s: float = RUN_TIMEOUT_S) -> Finished:
        """Run a session to its end (a hung one is stopped the way Ctrl-C would)."""
        proc = self.start(*args)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop(proc)
            pytest.fail(f"pytest took over {timeout_s:.0f} s:\n{self.output}")
        return Finished(proc.returncode, self.output)

    def wait_up(self, proc: subprocess.Popen[bytes]) -> Up:
        """Wait until the session's swarm is ready (``up.json`` appears)."""
        self._wait(proc, "a ready swarm", lambda: self.up_file.exists() or None)
        up = self.announced()
        assert up.pid == proc.pid, "up.json was written by another process"
        return up

    def wait_bringup(self, host: docker.DockerClient, proc: subprocess.Popen[bytes]) -> Up:
        """Wait until the session has made its first node container (the swarm is not up)."""
        flt = {"label": [f"{labels.OWNER_PID}={proc.pid}", f"{labels.ROLE}=node"]}
        node = self._wait(
            proc, "a node container", lambda: next(iter(host.containers.list(filters=flt)), None)
        )
        assert not self.up_file.exists(), "too late: the swarm is up already"
        return Up(proc.pid, node.labels[labels.RUN])

    def _wait(self, proc: subprocess.Popen[bytes], what: str, probe: Callable[[], T | None]) -> T:
        deadline = time.monotonic() + UP_TIMEOUT_S
        while (found := probe()) is None:
            if proc.poll() is not None:
                pytest.fail(f"pytest ended ({proc.returncode}) before {what}:\n{self.output}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} after {UP_TIMEOUT_S:.0f} s:\n{self.output}")
            time.sleep(0.05)
        return found

    def swarms(self) -> list[dict[str, str]]:
        """Every swarm a test of this project got (swarms.jsonl), in order."""
        path = self.root / "swarms.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [json.loads(line) for line in lines]

    def announced(self) -> Up:
        """The pid and run id the last session wrote to ``up.json``."""
        return Up(**json.loads(self.up_file.read_text()))

    def fixture_attachment(self, name: str) -> str:
        """An attachment a fixture made at teardown (Allure keeps it in a container)."""
        for path in self.allure.glob("*-container.json"):
            container = json.loads(path.read_text())
            for after in container.get("afters", []):
                for attachment in after.get("attachments", []):
                    if attachment["name"] == name:
                        return (self.allure / attachment["source"]).read_text()
        raise AssertionError(f"no fixture attachment {name!r} in {self.allure}")

    def allure_result(self, test_name: str) -> dict[str, Any]:
        for path in self.allure.glob("*-result.json"):
            result: dict[str, Any] = json.loads(path.read_text())
            # "name" is the report title (id and what is checked); fullName ends in the test
            if str(result.get("fullName", "")).endswith(f"#{test_name}"):
                return result
        raise AssertionError(f"no Allure result for {test_name} in {self.allure}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a session the clean way (SIGTERM unwinds like Ctrl-C), or kill it."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def leftovers(host: docker.DockerClient, up: Up) -> list[str]:
    """Containers, networks and volumes on the host made by that session or for that cluster."""
    by_owner = [f"{labels.OWNER_PID}={up.pid}", f"{labels.OWNER_HOST}={socket.gethostname()}"]
    found: set[str] = set()
    for flt in ({"label": by_owner}, {"label": f"{labels.RUN}={up.run_id}"}):
        found.update(f"container {c.name}" for c in host.containers.list(all=True, filters=flt))
        found.update(f"network {n.name}" for n in host.networks.list(filters=flt))
        found.update(f"volume {v.name}" for v in host.volumes.list(filters=flt))
    return sorted(found)


@pytest.fixture
def project(tmp_path: Path, host: docker.DockerClient) -> Iterator[Project]:
    """A project to run sessions on; sessions still running at the end are stopped and
    whatever they left is swept (after the test's own checks, so nothing is hidden)."""
    made = Project(tmp_path)
    yield made
    for proc in made.procs:
        stop(proc)
    reaper.sweep_stale(host)


def test_broken_expectation_fails_with_reason_and_attachments(
    project: Project, host: docker.DockerClient
) -> None:
    project.write(BROKEN)
    done = project.run()
    up = project.announced()

    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.output
    assert WORKER_REFUSAL in done.output, "the engine's refusal is not shown to the reader"
    # The swarm refused a documented operation the check relied on: a product failure.
    summary = "SC-TEST-901 test_worker_can_list_nodes: swarmcheck.errors.SwarmRefused: engine"
    assert summary in done.output, f"the summary does not say why:\n{done.output[-1500:]}"

    result = project.allure_result("test_worker_can_list_nodes")
    assert result["status"] == "failed"
    assert result["name"] == "SC-TEST-901: a worker lists the nodes (it must not)", "report title"
    assert WORKER_REFUSAL in result["statusDetails"]["message"]
    found = {(label["name"], label["value"]) for label in result["labels"]}
    assert {
        ("swarmcheck_id", "SC-TEST-901"),
        ("feature", "membership"),
        ("parentSuite", "membership"),
        ("story", "SC-TEST-901"),
        ("swarmcheck_row", "mem-join-worker"),
    } <= found
    assert "**Promise:** A worker MUST list the nodes" in result["description"]
    assert {"url": DOC, "name": "documentation", "type": "link"} in result["links"]
    attached = {a["name"]: project.allure / a["source"] for a in result["attachments"]}
    for name in ("node list", "service tasks", "dockerd log: manager1"):
        assert name in attached, f"no {name!r} attachment: {sorted(attached)}"
        assert attached[name].stat().st_size > 0, f"{name!r} attachment is empty"

    assert not leftovers(host, up)


def test_passing_run_leaves_nothing(project: Project, host: docker.DockerClient) -> None:
    project.write(PASSING)
    done = project.run()
    up = project.announced()

    assert done.returncode == pytest.ExitCode.OK, done.output
    assert not leftovers(host, up)


@pytest.mark.parametrize(
    ("sig", "during"),
    [(signal.SIGINT, "test"), (signal.SIGINT, "bring-up"), (signal.SIGTERM, "test")],
    ids=["ctrl-c-in-test", "ctrl-c-in-bring-up", "sigterm-in-test"],
)
def test_interrupted_run_removes_its_swarm(
    project: Project, host: docker.DockerClient, sig: signal.Signals, during: str
) -> None:
    project.write(SLEEPING)
    proc = project.start()
    up = project.wait_up(proc) if during == "test" else project.wait_bringup(host, proc)
    assert leftovers(host, up), "the running session's swarm is not labelled with its pid"

    proc.send_signal(sig)
    returncode = proc.wait(timeout=STOP_TIMEOUT_S)

    assert returncode == pytest.ExitCode.INTERRUPTED, project.output
    assert not leftovers(host, up), project.output


@pytest.mark.parametrize("sweeper", ["cli", "next-session"])
def test_killed_run_is_swept(project: Project, host: docker.DockerClient, sweeper: str) -> None:
    project.write(SLEEPING)
    proc = project.start()
    killed = project.wait_up(proc)
    proc.kill()
    proc.wait(timeout=STOP_TIMEOUT_S)
    assert leftovers(host, killed), "SIGKILL left nothing: the sweep below proves nothing"

    if sweeper == "cli":
        done = subprocess.run(
            [sys.executable, "-m", "swarmcheck.cli", "sweep"],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "swarmcheck: removed" in done.stdout
    else:
        project.write(PASSING)
        finished = project.run()
        assert finished.returncode == pytest.ExitCode.OK, finished.output
        assert "swept leftovers of earlier runs" in finished.output
        assert not leftovers(host, project.announced())

    assert not leftovers(host, killed)


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("--swarm=bogus", ("'bogus'", "--swarm=dind", "--swarm=none")),
        ("--swarm-managers=0", ("managers=0", "at least 1 manager")),
        ("--swarm-subnet=192.168.1.0/24", ("192.168.1.0/24", "private 10.x range")),
        (
            "--swarm-chaos-duration=abc",
            ("--swarm-chaos-duration", "'abc'", "e.g. 90, 90s, 15m, 1h"),
        ),
    ],
)
def test_bad_option_is_a_usage_error(
    project: Project, option: str, expected: tuple[str, ...]
) -> None:
    project.write(PASSING)
    done = project.run(option)

    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.output
    error = next((line for line in done.output.splitlines() if line.startswith("ERROR:")), "")
    for text in expected:
        assert text in error, f"{text!r} missing from the usage error: {done.output}"
    assert "Traceback" not in done.output
    assert not project.up_file.exists(), "a swarm was started despite the bad option"


def test_marker_without_doc_is_a_usage_error(project: Project) -> None:
    project.write(
        """
        import pytest


        @pytest.mark.swarmcheck(id="SC-TEST-902", area="membership")
        def test_undocumented():
            pass
        """
    )
    done = project.run()

    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.output
    assert "test_generated.py::test_undocumented" in done.output
    assert "doc=" in done.output


def test_engine_image_not_loaded_is_an_environment_problem(project: Project) -> None:
    """A user's --swarm-engine-image that the engine does not have: the report names the image and
    the fix, and files it under "Environment problem", not as a framework error."""
    image = "swarmcheck/not-loaded:none"
    project.write(MARKED)
    done = project.run(f"--swarm-engine-image={image}")

    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.output
    result = project.allure_result("test_marked_swarm_answers")
    message = result["statusDetails"]["message"]
    assert result["status"] == "broken", result
    assert message.startswith(
        f"swarmcheck.errors.EnvironmentProblem: the engine image {image} is not in the local engine"
    ), message
    assert "docker load" in message
    categories = json.loads((project.allure / "categories.json").read_text())
    matched = {
        c["name"]
        for c in categories
        if result["status"] in c["matchedStatuses"]
        and re.fullmatch(c["messageRegex"], message, re.DOTALL)
    }
    assert matched == {CATEGORY_ENVIRONMENT}, matched


BREAKAGE = """
\"\"\"Negative controls for suite checks: make the engine under test break the promise.\"\"\"
import pytest

from swarmcheck.client import swarm as swarm_client


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    create = swarm_client.SwarmClient.create_service

    def ignoring_start_first(self, *args, **kwargs):
        # An engine that ignores --update-order start-first: the swarm updates stop-first.
        kwargs["update_order"] = "stop-first"
        return create(self, *args, **kwargs)

    swarm_client.SwarmClient.create_service = ignoring_start_first


def pytest_collection_finish(session):
    import suites.conformance.test_membership as membership

    # A wrong expected message: the exact-text comparison must notice.
    membership.WORKER_REFUSAL = "Worker nodes can list the nodes of this cluster."
"""
SUITE_CHECKS = {
    "test_rolling_update_keeps_answering": (
        "suites/conformance/test_rolling_update.py",
        (
            "swarmcheck.errors.SwarmPromiseBroken: rolling_update: the update did not keep "
            "start-first",
            "(stop-first order)",
            "fewer than 3 healthy tasks",
        ),
    ),
    "test_worker_cannot_list_nodes": (
        "suites/conformance/test_membership.py",
        ("AssertionError: unexpected refusal text", "This node is not a swarm manager"),
    ),
}


def test_suite_checks_fail_when_the_engine_breaks_the_promise(project: Project) -> None:
    """SC-UPD-001 against a swarm that updates stop-first, SC-MEM-002 expecting a wrong
    refusal text: both suite checks, run as they are, fail with a message that says why."""
    (project.root / "breakage.py").write_text(BREAKAGE)
    targets = [f"{REPO / path}::{name}" for name, (path, _) in SUITE_CHECKS.items()]
    done = project.run(
        *targets, "-p", "breakage", "--swarm-managers=1", timeout_s=SUITE_RUN_TIMEOUT_S
    )

    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.output
    assert "2 failed" in done.output, done.output[-3000:]
    for name, (_, expected) in SUITE_CHECKS.items():
        result = project.allure_result(name)
        message = result["statusDetails"]["message"]
        assert result["status"] == "failed", f"{name}: {result['status']}: {message}"
        for text in expected:
            assert text in message, f"{name}: {text!r} not in the failure:\n{message}"


TINY_BUDGET = """
\"\"\"SC-HEAL-009 with a budget no engine meets: its wait for the task to end times out.\"\"\"


def pytest_collection_finish(session):
    import suites.conformance.test_restart_and_health as health

    health.STEP_BUDGET_S = 0.5
"""
HEAL_009 = "test_unhealthy_start_fails_whatever_the_exit_code"


def test_strict_xfail_fails_when_the_check_times_out(project: Project) -> None:
    """SC-HEAL-009 is a strict expected failure that names one engine defect. Run as it is, it
    xfails (the defect seen); with a budget the engine cannot meet, its wait times out
    (PromiseTimeout, also a broken promise) and that fails the run: the marker no longer takes
    a hang for the defect."""
    target = f"{REPO / 'suites/conformance/test_restart_and_health.py'}::{HEAL_009}"
    as_is = project.run(target, "--swarm-managers=1", timeout_s=SUITE_RUN_TIMEOUT_S)
    assert as_is.returncode == pytest.ExitCode.OK, as_is.output
    assert "1 xfailed" in as_is.output, as_is.output[-3000:]

    shutil.rmtree(project.allure)
    (project.root / "tiny_budget.py").write_text(TINY_BUDGET)
    hung = project.run(
        target, "-p", "tiny_budget", "--swarm-managers=1", timeout_s=SUITE_RUN_TIMEOUT_S
    )
    assert hung.returncode == pytest.ExitCode.TESTS_FAILED, hung.output
    assert "1 failed" in hung.output and "xfailed" not in hung.output, hung.output[-3000:]
    result = project.allure_result(HEAL_009)
    message = result["statusDetails"]["message"]
    assert result["status"] == "failed", result
    assert message.startswith(
        "swarmcheck.errors.PromiseTimeout: timed out after 0s waiting for end the task that "
        "never passed its health check, a documented behaviour"
    ), message


ISOLATED_WRITES_REACH_THE_LEADER = """
\"\"\"SC-CHAOS-003 where the isolated manager's writes reach the leader instead (as an engine
that served them through the majority would): a scale with the version the isolated manager
knew, and a create.\"\"\"
from swarmcheck.faults import partition
from swarmcheck.operations.refusals import ServiceWrites

partitioned = []


def pytest_collection_finish(session):
    import suites.chaos.test_raft_chaos as chaos

    isolate = partition.isolate

    def recording(cluster, node, **kwargs):
        partitioned.append(cluster)
        return isolate(cluster, node, **kwargs)

    class ThroughTheLeader(ServiceWrites):
        @classmethod
        def via(cls, node, before, clock):
            return ServiceWrites.via(partitioned[-1].leader(), before, clock)

    partition.isolate = recording
    chaos.ServiceWrites = ThroughTheLeader
"""


def test_partition_refusal_check_fails_when_the_writes_reach_a_leader(project: Project) -> None:
    """SC-CHAOS-003, run as it is but with the isolated manager's two writes sent to the
    leader: the stale scale is refused the wrong way ("update out of sequence") and the create
    is accepted, and after healing the created service is there: the check fails and says so."""
    (project.root / "through_the_leader.py").write_text(ISOLATED_WRITES_REACH_THE_LEADER)
    target = f"{REPO / 'suites/chaos/test_raft_chaos.py'}::test_partitioned_manager"
    done = project.run(target, "-p", "through_the_leader", timeout_s=SUITE_RUN_TIMEOUT_S)

    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.output
    assert "1 failed" in done.output, done.output[-3000:]
    result = project.allure_result("test_partitioned_manager")
    message = result["statusDetails"]["message"]
    assert result["status"] == "failed", f"{result['status']}: {message}"
    for text in (
        "swarmcheck.errors.SwarmPromiseBroken: refused (minority): accepted: create service "
        "isolated via manager",
        "answered otherwise: scale web to replicas=5 at version",
        "update out of sequence",
        "unchanged: a refused write took effect: create service isolated",
        "services appeared: isolated",
    ):
        assert text in message, f"{text!r} not in the failure:\n{message}"


QUORUM_KEPT = """
\"\"\"The quorum event where the second manager does not stop: the swarm keeps its quorum,
so it accepts the writes SC-QRM-001 and SC-QRM-002 expect it to refuse.\"\"\"


class StillRunning:
    def start(self):
        return self

    def stop(self):
        pass


def pytest_collection_finish(session):
    import suites.conformance.test_quorum as quorum

    real = quorum.process
    stopped = []

    class Process:
        def __getattr__(self, name):
            return getattr(real, name)

        def stop_node(self, cluster, node, **kwargs):
            stopped.append(node.name)
            if len(stopped) == 2:
                return StillRunning()
            return real.stop_node(cluster, node, **kwargs)

    quorum.process = Process()
"""
QUORUM_CHECKS = ("test_writes_fail_without_quorum", "test_tasks_keep_running_without_quorum")


def test_quorum_refusal_checks_fail_when_the_swarm_accepts_the_writes(project: Project) -> None:
    """SC-QRM-001 and SC-QRM-002, run as they are on a swarm that keeps its quorum (the second
    manager is not stopped): the first write, which had to be refused, is accepted, and both
    checks fail saying so (SC-RAFT-009, recorded before, passes)."""
    (project.root / "quorum_kept.py").write_text(QUORUM_KEPT)
    module = REPO / "suites/conformance/test_quorum.py"
    targets = [f"{module}::{name}" for name in ("test_follower_down", *QUORUM_CHECKS)]
    done = project.run(*targets, "-p", "quorum_kept", timeout_s=SUITE_RUN_TIMEOUT_S)

    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.output
    assert "2 failed, 1 passed" in done.output, done.output[-3000:]
    for name in QUORUM_CHECKS:
        result = project.allure_result(name)
        message = result["statusDetails"]["message"]
        assert result["status"] == "failed", f"{name}: {result['status']}: {message}"
        assert message.startswith(
            "swarmcheck.errors.SwarmPromiseBroken: a write the swarm had to refuse was accepted: "
            "create config no-quorum-0"
        ), f"{name}: {message}"


def test_rerun_starts_from_a_reset_swarm(project: Project, host: docker.DockerClient) -> None:
    """pytest-rerunfailures: the failed attempt's mess is reset away before the rerun; the
    summary shows the final outcome."""
    pytest.importorskip("pytest_rerunfailures", reason="pytest-rerunfailures is in the dev extra")
    project.write(RERUN_AFTER_A_MESS)
    done = project.run("--reruns", "1")

    assert done.returncode == pytest.ExitCode.OK, done.output
    assert "1 passed, 1 rerun" in done.output
    swarms = project.swarms()
    assert len(swarms) == 2 and swarms[0]["run_id"] == swarms[1]["run_id"], "not reused"
    assert not leftovers(host, project.announced())


def test_timed_out_test_heals_its_fault_and_gives_the_swarm_back(
    project: Project, host: docker.DockerClient
) -> None:
    """pytest-timeout (signal method) fails a test that hangs with a paused node: the fault is
    healed, and the next test gets a whole swarm (the same one reset, or a replacement)."""
    pytest.importorskip("pytest_timeout", reason="pytest-timeout is in the dev extra")
    project.write(TIMED_OUT_WITH_A_FAULT)
    done = project.run(timeout_s=2 * RUN_TIMEOUT_S)  # two tests, a heal and a reset

    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.output
    assert "Timeout" in done.output and "1 failed, 1 passed" in done.output, done.output
    (window,) = json.loads(project.fixture_attachment("fault timeline (json)"))
    assert window["kind"] == "pause_node" and window["ended_at"] is not None, window
    assert window["error"] is None, window
    assert not leftovers(host, project.announced())


def test_xdist_workers_bring_up_their_own_swarms(
    project: Project, host: docker.DockerClient
) -> None:
    """-n 2: each worker its own swarm (own run id, network and subnet) for the checks of its
    shape, one summary, one JUnit."""
    pytest.importorskip("xdist", reason="pytest-xdist is in the dev extra")
    project.write(TWO_SHAPES)
    done = project.run("-n", "2")

    assert done.returncode == pytest.ExitCode.OK, done.output
    swarms = project.swarms()
    assert len({s["pid"] for s in swarms}) == 2, f"not one worker each: {swarms}"
    for field in ("run_id", "network", "subnet"):
        assert len({s[field] for s in swarms}) == 2, f"two workers share a {field}: {swarms}"
    assert done.output.count("generated xml file") == 1
    assert (project.root / "reports" / "junit.xml").is_file()
    for swarm in swarms:
        assert not leftovers(host, Up(int(swarm["pid"]), swarm["run_id"]))
