"""Bad inputs that need a real engine (rows of docs/bad-inputs.md): the run stops that test
with one message naming the value and the fix, no traceback from inside swarmcheck, and
nothing labelled by the run is left on the engine.

Each test runs ``python -m pytest`` on a one-test project in a subprocess with a one-manager
swarm; every input fails before a swarm exists (the slowest, a node whose engine never answers,
waits out the 60 s engine budget once).
"""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

import swarmcheck
from swarmcheck import labels

pytestmark = pytest.mark.e2e

RUN_TIMEOUT_S = 240.0
SWARM_TEST = "def test_swarm(swarm_cluster):\n    pass\n"
FAULTS_TEST = (
    "import pytest\n\n\n@pytest.mark.swarm(managers=1, faults=True)\n"
    "def test_swarm(swarm_cluster):\n    pass\n"
)
NOT_DIND = "swarmcheck/workload:v1"
"""Built by every run, and no dind image: busybox httpd, no dockerd."""


def run_session(root: Path, test: str, *args: str) -> tuple[int, int, str]:
    """Run pytest on a one-test project; its pid, exit code and output."""
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "test_bad.py").write_text(test)
    here = str(Path(swarmcheck.__file__).resolve().parents[1])
    env = {**os.environ, "COLUMNS": "400", "PYTHONPATH": here}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--swarm-managers=1", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    out, _ = proc.communicate(timeout=RUN_TIMEOUT_S)
    return proc.pid, proc.returncode, out.decode(errors="replace")


def left_by(host: docker.DockerClient, pid: int) -> list[str]:
    """Containers, networks and volumes the session with ``pid`` made and left."""
    flt = {"label": [f"{labels.OWNER_PID}={pid}", f"{labels.OWNER_HOST}={socket.gethostname()}"]}
    return sorted(
        [f"container {c.name}" for c in host.containers.list(all=True, filters=flt)]
        + [f"network {n.name}" for n in host.networks.list(filters=flt)]
        + [f"volume {v.name}" for v in host.volumes.list(filters=flt)]
    )


def refused(root: Path, host: docker.DockerClient, test: str, option: str, *says: str) -> str:
    """Run the one-test project with ``option``: the test fails in set-up with one line that
    has every part of ``says``, no swarmcheck traceback, and the run leaves nothing."""
    pid, code, output = run_session(root, test, option)
    assert code == pytest.ExitCode.TESTS_FAILED, output
    line = next((x for x in output.splitlines() if "swarmcheck could not set up" in x), "")
    for part in says:
        assert part in line, f"{part!r} not in the message:\n{output}"
    assert "Traceback" not in output, output
    assert not re.search(r"swarmcheck/[\w/]+\.py:\d+: in ", output), output
    assert left_by(host, pid) == []
    return output


def test_engine_image_not_loaded(tmp_path: Path, host: docker.DockerClient) -> None:
    image = "swarmcheck/not-loaded:none"
    refused(
        tmp_path,
        host,
        SWARM_TEST,
        f"--swarm-engine-image={image}",
        "EnvironmentProblem",
        f"the engine image {image} is not in the local engine",
        "docker load",
    )


def test_engine_image_not_dind(tmp_path: Path, host: docker.DockerClient) -> None:
    output = refused(
        tmp_path,
        host,
        SWARM_TEST,
        f"--swarm-engine-image={NOT_DIND}",
        "ProvisioningError",
        f"(image {NOT_DIND})",
        "must be Docker-in-Docker capable, with dockerd on its PATH",
    )
    assert "this image has no dockerd on its PATH" in output  # the node's own log


@pytest.fixture
def taken_subnet(host: docker.DockerClient) -> Iterator[str]:
    """A private 10.x /24 another network of this engine uses (made here, removed after)."""
    used = {
        cfg.get("Subnet")
        for net in host.networks.list()
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []
    }
    subnet = next(f"10.196.{i}.0/24" for i in range(256) if f"10.196.{i}.0/24" not in used)
    ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=subnet)])
    network = host.networks.create(
        f"sc-bad-input-{os.getpid()}",
        driver="bridge",
        ipam=ipam,
        labels={"io.swarmcheck.test": "bad-inputs"},
    )
    try:
        yield subnet
    finally:
        network.remove()


def test_subnet_taken(tmp_path: Path, host: docker.DockerClient, taken_subnet: str) -> None:
    refused(
        tmp_path,
        host,
        SWARM_TEST,
        f"--swarm-subnet={taken_subnet}",
        "ConfigError",
        f"--swarm-subnet={taken_subnet} is taken on this engine",
        f"sc-bad-input-{os.getpid()}",
        "leave --swarm-subnet out",
    )


@pytest.fixture
def never_ready_image(host: docker.DockerClient) -> Iterator[str]:
    """The workload image plus a `dockerd` that never answers (it only sleeps)."""
    tag = f"swarmcheck/bad-input-never-ready:{os.getpid()}"
    script = b"#!/bin/sh\necho 'dockerd (fake): sleeping, never answering'\nexec sleep 3600\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("dockerd")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
    base = host.containers.create(NOT_DIND, labels={"io.swarmcheck.test": "bad-inputs"})
    try:
        base.put_archive("/bin", buf.getvalue())
        base.commit(repository=tag.split(":")[0], tag=tag.split(":")[1])
    finally:
        base.remove()
    try:
        yield tag
    finally:
        host.images.remove(tag, force=True)


def test_node_never_ready(
    tmp_path: Path, host: docker.DockerClient, never_ready_image: str
) -> None:
    output = refused(
        tmp_path,
        host,
        SWARM_TEST,
        f"--swarm-engine-image={never_ready_image}",
        "ReadinessTimeout",
        f"timed out after 60s waiting for manager1's engine to answer (image {never_ready_image})",
        "a dind image's dockerd must answer",
    )
    assert "dockerd (fake): sleeping, never answering" in output  # the node's log


def test_toxiproxy_not_answering(tmp_path: Path, host: docker.DockerClient) -> None:
    refused(
        tmp_path,
        host,
        FAULTS_TEST,
        f"--swarm-toxiproxy-image={NOT_DIND}",
        "ProvisioningError",
        f"(image {NOT_DIND}) did not come up",
        "not ready after 30s",
        "Toxiproxy 2.x server with its API on port 8474",
        "drop --swarm-toxiproxy-image",
    )
