"""Bad inputs, answered: every row of docs/bad-inputs.md that needs no swarm.

Option, ini and marker rows run a real pytest session on a generated project in a subprocess
(the way a user runs it) and check that it stops with a usage error whose one message names
the bad value and the fix, with no traceback. Rows about the machine that cannot be made
honestly here (a full disk, no engine and no root) are checked at the one place that turns the
machine's error into swarmcheck's message, fed the text the engine or the kernel gives. The
rows that need a real engine are in tests/e2e/test_bad_inputs_e2e.py.
"""

from __future__ import annotations

import errno
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from swarmcheck.client.errors import translate
from swarmcheck.errors import (
    DISK_FULL_FIX,
    DiskFull,
    EngineAPIError,
    EnvironmentProblem,
    ImageBuildError,
)
from swarmcheck.faults.schedule import plan_schedule
from swarmcheck.machine import hostengine, recipes

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "bad-inputs.md"

SWARM_TEST = "def test_swarm(swarm_cluster):\n    pass\n"
CHECK = """
import pytest


@pytest.mark.swarmcheck(
    id="SC-TEST-970",
    area="membership",
    doc="https://docs.docker.com/engine/swarm/",
    title="a check",
    promise="A check MUST be reported.",
    rows=("mem-join-worker",),
    effects=("writes",),
)
def test_check():
    pass
"""
TEST_MODULE_MARKERS = {
    "marker-typo": "@pytest.mark.swarm(manager=1)\ndef test_typo(swarm_cluster):\n    pass\n",
    "marker-engines-string": (
        "@pytest.mark.swarm(engines='bookworm')\ndef test_one(swarm_cluster):\n    pass\n"
    ),
    "marker-no-doc": (
        "@pytest.mark.swarmcheck(id='SC-TEST-971', area='membership')\n"
        "def test_undocumented():\n    pass\n"
    ),
    "marker-fresh-not-destructive": CHECK.replace("test_check()", "test_check(fresh_cluster)"),
    "marker-no-effects": CHECK.replace('    effects=("writes",),\n', ""),
}


@dataclass(frozen=True)
class Row:
    """One bad input given to a pytest session, and the message it must stop with."""

    key: str
    args: tuple[str, ...] = ()
    says: tuple[str, ...] = ()
    """Parts of the one error message: the value and the fix."""
    ini: str = ""
    test: str = SWARM_TEST
    env: dict[str, str] = field(default_factory=dict)
    exit: int = pytest.ExitCode.USAGE_ERROR


USAGE_ROWS = [
    Row("swarm-mode", ("--swarm=bogus",), ("--swarm='bogus'", "use --swarm=dind")),
    Row(
        "managers-not-a-number",
        ("--swarm-managers=many",),
        ("--swarm-managers='many'", "not a whole number"),
    ),
    Row(
        "no-manager",
        ("--swarm-managers=0",),
        ("managers=0", "at least 1 manager", "(from --swarm-managers)"),
    ),
    Row("too-many-nodes", ("--swarm-managers=6", "--swarm-workers=4"), ("10 nodes", "at most 9")),
    Row(
        "subnet-not-cidr",
        ("--swarm-subnet=banana",),
        ("subnet=banana", "use e.g. 10.199.7.0/24", "(from --swarm-subnet)"),
    ),
    Row(
        "subnet-public",
        ("--swarm-subnet=192.168.1.0/24",),
        ("subnet=192.168.1.0/24", "private 10.x range"),
    ),
    Row("subnet-not-24", ("--swarm-subnet=10.199.7.0/16",), ("subnet=10.199.7.0/16", "use a /24")),
    Row(
        "debian-suite",
        ("--swarm-debian-suite=buster",),
        (
            "--swarm-debian-suite='buster'",
            "use bookworm (Docker 20.10), trixie",
            "--swarm-engine-image",
        ),
    ),
    Row(
        "engines-count",
        ("--swarm-engines=bookworm,trixie",),
        ("engines=('bookworm', 'trixie')", "one engine per node", "(from --swarm-engines)"),
    ),
    Row(
        "engines-unknown",
        ("--swarm-engines=bookworm,trixie,wat",),
        (
            "--swarm-engines='bookworm,trixie,wat'",
            "'wat' is neither a Debian suite",
            "image reference",
        ),
    ),
    Row(
        "upgrade-from",
        ("--swarm-upgrade-from=buster",),
        ("--swarm-upgrade-from='buster'", "neither a Debian suite (bookworm, trixie, sid)"),
    ),
    Row(
        "chaos-duration",
        ("--swarm-chaos-duration=soon",),
        ("--swarm-chaos-duration=soon", "e.g. 90, 90s, 15m, 1h"),
    ),
    Row(
        "chaos-too-short",
        ("--swarm-chaos-duration=10s",),
        ("--swarm-chaos-duration=10s is too short", "at least 30 s"),
    ),
    Row("seed", ("--swarm-seed=x",), ("--swarm-seed='x'", "not a whole number")),
    Row(
        "fault-kind",
        ("--swarm-chaos-faults=earthquake",),
        ("unknown fault kind(s) earthquake", "choose among latency"),
    ),
    Row(
        "schedule-missing",
        ("--swarm-chaos-schedule=missing.json",),
        ("--swarm-chaos-schedule=missing.json: cannot read it",),
    ),
    Row(
        "schedule-corrupt",
        ("--swarm-chaos-schedule=corrupt.json",),
        (
            "--swarm-chaos-schedule=corrupt.json",
            "not a valid chaos schedule: not JSON (Expecting value at line 1, column 24)",
            '"planned schedule (json)" attachment',
        ),
    ),
    Row(
        "schedule-and-seed",
        ("--swarm-chaos-schedule=good.json", "--swarm-seed=5"),
        ("replays a night as it was planned: drop --swarm-seed",),
    ),
    Row(
        "existing-without-endpoints",
        ("--swarm=existing",),
        ("--swarm=existing needs --swarm-existing", "--swarm-existing=lab1,lab2,lab3"),
    ),
    Row(
        "existing-without-mode",
        ("--swarm-existing=tcp://127.0.0.1:9",),
        ("--swarm-existing is given but --swarm is not 'existing'", "add --swarm=existing"),
    ),
    Row(
        "existing-context",
        ("--swarm=existing", "--swarm-existing=nosuchctx"),
        ("no Docker context named 'nosuchctx'", "`docker context ls`"),
    ),
    Row(
        "existing-tls",
        (
            "--swarm=existing",
            "--swarm-existing=tcp://127.0.0.1:9",
            "--swarm-existing-tls=no-such-dir",
        ),
        ("--swarm-existing-tls=no-such-dir", "lacks ca.pem, cert.pem, key.pem"),
    ),
    Row(
        "select-unknown",
        ("--swarm-select=nonsense",),
        ("--swarm-select: unknown id, area or row: nonsense", "`swarmcheck catalog`"),
        test=CHECK,
    ),
    Row(
        "keep-on-existing",
        ("--swarm=existing", "--swarm-existing=tcp://127.0.0.1:9", "--swarm-keep-on-failure"),
        (
            "--swarm-keep-on-failure works only with --swarm=dind",
            "a swarm you give (--swarm=existing) is always put back as it was found",
            "drop --swarm-keep-on-failure",
        ),
    ),
    Row(
        "ini-keep-on-existing",
        ("--swarm=existing", "--swarm-existing=tcp://127.0.0.1:9"),
        (
            "ini swarm_keep_on_failure works only with --swarm=dind",
            "-o swarm_keep_on_failure=false overrides the ini key",
        ),
        ini="swarm_keep_on_failure = true",
    ),
    Row(
        "ini-managers",
        (),
        ("ini swarm_managers='many'", "not a whole number"),
        ini="swarm_managers = many",
    ),
    Row(
        "ini-switch",
        (),
        ("ini swarm_allow_destructive='maybe'", "use true or false"),
        ini="swarm_allow_destructive = maybe",
    ),
    Row(
        "marker-typo",
        (),
        (
            "test_bad.py::test_typo",
            "takes only managers=, workers=, faults=, engines=, capabilities= (got manager=)",
        ),
    ),
    Row(
        "marker-engines-string",
        (),
        ("test_bad.py::test_one", "engines= takes a tuple, one engine per node (got 'bookworm')"),
    ),
    Row("marker-no-doc", (), ("test_bad.py::test_undocumented", "doc=")),
    Row(
        "marker-fresh-not-destructive",
        (),
        ("test_bad.py::test_check", "its effects= must name what it does beyond reads, writes"),
    ),
    Row(
        "marker-no-effects",
        (),
        ("test_bad.py::test_check", "missing effects=", "effects= says what the check does"),
    ),
    Row(
        "docker-host-unreachable",
        (),
        ("DOCKER_HOST=tcp://127.0.0.1:9 does not answer", "unset DOCKER_HOST"),
        env={"DOCKER_HOST": "tcp://127.0.0.1:9"},
        exit=3,
    ),
    Row(
        "existing-unreachable",
        ("--swarm=existing", "--swarm-existing=tcp://127.0.0.1:9"),
        (
            "--swarm-existing: tcp://127.0.0.1:9 did not answer",
            "Check that an engine listens at that address",
        ),
        exit=pytest.ExitCode.TESTS_FAILED,
    ),
]


def no_swarmcheck_traceback(output: str) -> None:
    """The output holds no traceback, and no frame from inside swarmcheck."""
    assert "Traceback" not in output, output
    assert not re.search(r"swarmcheck/[\w/]+\.py:\d+: in ", output), output


def run_row(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, row: Row) -> str:
    """Run a session with the row's bad input; its whole output."""
    pytester.makeini(f"[pytest]\n{row.ini}\n")
    pytester.path.joinpath("corrupt.json").write_text('{"seed": 1, "faults": [')
    pytester.path.joinpath("good.json").write_text(plan_schedule(1, 60).to_json())
    source = TEST_MODULE_MARKERS.get(row.key, row.test)
    pytester.makepyfile(test_bad=("import pytest\n\n" + source))
    for name, value in row.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "400")  # one message, one line
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *row.args)
    output = result.stdout.str() + "\n" + result.stderr.str()
    assert result.ret == row.exit, output
    return output


@pytest.mark.parametrize("row", USAGE_ROWS, ids=[r.key for r in USAGE_ROWS])
def test_bad_input_stops_the_run_with_one_message(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, row: Row
) -> None:
    output = run_row(pytester, monkeypatch, row)
    line = next((x for x in output.splitlines() if row.says[0] in x), None)
    assert line is not None, f"{row.says[0]!r} not in:\n{output}"
    for part in row.says[1:]:
        assert part in line, f"{part!r} not in the message {line!r}"
    no_swarmcheck_traceback(output)


# -- the machine, at the seam: conditions that cannot be made honestly on this machine -------

ENGINE_DISK_FULL = (
    "failed to register layer: Error processing tar file(exit status 1): write "
    "/bin/busybox: no space left on device"
)
"""What the engine answers (500) to `docker load`/`docker import` when its disk is full."""


def test_disk_full_while_loading_the_workload_is_an_environment_problem() -> None:
    """`docker load` into a node whose disk is full: the engine's 500 becomes DiskFull."""
    response = type("Response", (), {"status_code": 500, "reason": "Server Error"})()
    error = docker.errors.APIError("500 Server Error", response, explanation=ENGINE_DISK_FULL)
    found = translate(error, "manager1")
    assert isinstance(found, DiskFull)
    assert isinstance(found, EnvironmentProblem)  # reported as "Environment problem"
    assert str(found).startswith("the disk is full on manager1 (500: failed to register layer")
    assert DISK_FULL_FIX in str(found)
    assert "swarmcheck sweep --images" in DISK_FULL_FIX


class _NoImages:
    """An engine without the image yet (the build path starts); only what ensure_image asks."""

    class images:
        @staticmethod
        def get(ref: str) -> Any:
            raise docker.errors.ImageNotFound(f"No such image: {ref}")


def test_disk_full_while_building_an_image_names_the_image_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build writes the root file system into a scratch folder: ENOSPC there."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    def build(scratch: Path) -> Path:
        raise OSError(errno.ENOSPC, "No space left on device", str(scratch / "rootfs.tar"))

    with pytest.raises(ImageBuildError) as caught:
        recipes.ensure_image(_NoImages(), "swarmcheck/node:bookworm", "r1", [], build)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("building swarmcheck/node:bookworm: the disk is full")
    assert "rootfs.tar" in message and DISK_FULL_FIX in message


def test_no_engine_and_no_root_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """No engine answers and swarmcheck is not root: it cannot start dockerd itself. (This
    machine runs as root with an engine the benchmark uses, so both are given at the seam.)"""
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(hostengine, "engine_answers", lambda: False)
    monkeypatch.setattr(hostengine.os, "geteuid", lambda: 65534)
    with pytest.raises(EnvironmentProblem) as caught:
        hostengine.ensure_engine()
    message = str(caught.value)
    assert message.startswith("no Docker engine answers and swarmcheck is not root")
    assert "`sudo swarmcheck setup`" in message and "DOCKER_HOST" in message


def _fake_proc(root: Path, pid: int, command: str) -> Path:
    """A /proc with one process ``pid`` running ``command``."""
    (root / str(pid)).mkdir(parents=True)
    (root / str(pid) / "comm").write_text(command + "\n")
    return root


@pytest.mark.parametrize(
    ("recorded", "running"),
    [("16122", None), ("16122", "python3"), ("garbage", None)],
    ids=["pid-gone", "pid-reused", "not-a-pid"],
)
def test_a_killed_engines_pid_file_is_removed_before_dockerd_starts(
    tmp_path: Path, recorded: str, running: str | None
) -> None:
    """dockerd refuses to start while /var/run/docker.pid exists ("pid file found"), even when
    the engine that wrote it was killed: the file goes when no dockerd runs under its pid."""
    pidfile = tmp_path / "docker.pid"
    pidfile.write_text(recorded)
    proc = tmp_path / "proc"
    proc.mkdir()
    if running:
        _fake_proc(proc, int(recorded), running)
    hostengine.clear_stale_pidfile(pidfile, proc)
    assert not pidfile.exists()
    hostengine.clear_stale_pidfile(pidfile, proc)  # no pid file: nothing to do


def test_a_running_dockerd_that_does_not_answer_is_named_not_killed(tmp_path: Path) -> None:
    pidfile = tmp_path / "docker.pid"
    pidfile.write_text("4242\n")
    proc = _fake_proc(tmp_path / "proc", 4242, "dockerd")
    with pytest.raises(EnvironmentProblem) as caught:
        hostengine.clear_stale_pidfile(pidfile, proc)
    assert str(caught.value).startswith(
        f"dockerd (pid 4242, from {pidfile}) is running but does not answer"
    )
    assert "kill 4242" in str(caught.value) and pidfile.exists()


def test_a_dockerd_that_exits_while_starting_is_reported_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dockerd that gives up (here a stand-in on PATH that prints dockerd's own refusal and
    exits 1) is reported with its exit status and log, not after the 60 s start timeout."""
    fake = tmp_path / "bin" / "dockerd"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\necho 'failed to start daemon: pid file found, ensure docker is not "
        "running or delete /var/run/docker.pid'\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    monkeypatch.setattr(hostengine.os, "geteuid", lambda: 0)
    monkeypatch.setattr(hostengine, "DOCKERD_LOG", tmp_path / "dockerd.log")
    monkeypatch.setattr(hostengine, "DOCKERD_PIDFILE", tmp_path / "docker.pid")

    def refused() -> bool:
        raise EngineAPIError("docker error on the host: Connection refused")

    monkeypatch.setattr(hostengine, "_ping", refused)
    with pytest.raises(EnvironmentProblem) as caught:
        hostengine._start_local_engine()
    message = str(caught.value)
    assert message.startswith("dockerd exited with status 1 while starting")
    assert message.endswith("ensure docker is not running or delete /var/run/docker.pid")


def test_stability_benchmark_on_a_fresh_clone_says_what_to_run() -> None:
    """Before `./run tests` installed anything: no packages (python -S), a clear message."""
    done = subprocess.run(
        [sys.executable, "-S", str(ROOT / "benchmarks" / "stability.py"), "--help"],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
    )
    assert done.returncode == 1, done
    assert done.stderr.startswith("stability.py: the Python package 'docker' is not installed")
    assert "run `./run tests` once" in done.stderr
    no_swarmcheck_traceback(done.stderr)


def test_stability_benchmark_imports_this_checkout() -> None:
    """On a fresh clone the benchmark uses the swarmcheck next to it, not another copy."""
    code = (
        "import runpy, sys; runpy.run_path(sys.argv[1]); import swarmcheck; "
        "print(swarmcheck.__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "benchmarks" / "stability.py")],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(ROOT / "swarmcheck" / "__init__.py")


# -- the table and the tests stay together ----------------------------------------------------

TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(\w+)(?:\[([\w-]+)\])?`")


def table_rows() -> list[str]:
    return [line for line in TABLE.read_text().splitlines() if re.match(r"\| \d+ \|", line)]


def table_refs() -> list[tuple[str, str, str | None]]:
    return [m.groups() for row in table_rows() for m in TEST_REF.finditer(row)]


def test_the_table_has_20_rows_and_each_names_a_test_that_exists() -> None:
    rows = table_rows()
    assert len(rows) >= 20
    refs = table_refs()
    assert len(refs) == len(rows), "each row names exactly one test"
    keys = {r.key for r in USAGE_ROWS}
    for path, name, param in refs:
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {name}\(", source, re.MULTILINE), f"{path}::{name}"
        if param is not None and path.endswith("test_bad_inputs.py"):
            assert param in keys, f"{path}::{name}[{param}]"


def test_every_usage_row_is_in_the_table() -> None:
    listed = {param for _, _, param in table_refs() if param}
    assert {r.key for r in USAGE_ROWS} <= listed
