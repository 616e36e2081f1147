"""End to end: a run's node engines cannot be reached by anyone but the run's own process.

Nodes listen on no TCP port; their engines answer only on Unix sockets in a 0700 directory
owned by the user running swarmcheck (see swarmcheck.cluster.sockets). Shown here on a real
cluster, during the run: a TCP connection to any node's former API port is refused, an
unprivileged account cannot open any node's socket, the run's own client can, and nothing of the
run listens on the host's interfaces.
"""

from __future__ import annotations

import os
import pwd
import socket
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from swarmcheck.cluster import sockets
from swarmcheck.cluster.cluster import Cluster, running_cluster
from swarmcheck.machine.images import prepare_images
from swarmcheck.spec import ClusterSpec

pytestmark = pytest.mark.e2e

OLD_API_PORTS = (2375, 2376)
"""Where Docker engines conventionally serve their API over TCP (plain and TLS)."""


def host_listeners() -> set[tuple[str, int]]:
    """(local address, port) of every listening TCP socket in the host's network namespace."""
    found: set[tuple[str, int]] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state == "0A":  # TCP_LISTEN
                address, port = local.split(":")
                found.add((address, int(port, 16)))
    return found


@pytest.fixture(scope="module")
def listeners_before() -> set[tuple[str, int]]:
    return host_listeners()


@pytest.fixture(scope="module")
def locked(host: docker.DockerClient, listeners_before: set[tuple[str, int]]) -> Iterator[Cluster]:
    spec = ClusterSpec(managers=1, workers=1)
    with running_cluster(host, spec, prepare_images(host, spec)) as cluster:
        yield cluster


def test_no_node_serves_its_api_over_tcp(locked: Cluster) -> None:
    for node in locked.nodes:
        for port in OLD_API_PORTS:
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((node.ip, port), timeout=3).close()


def test_the_runs_client_reaches_every_node_through_its_socket(locked: Cluster) -> None:
    for node in locked.nodes:
        assert node.client.version()["Version"] == locked.engine_version
        path = Path(node.api_socket)
        assert stat.S_ISSOCK(path.stat().st_mode), f"{path} is not a socket"
        directory = path.parents[1]  # <base>/<run id>/<node>/docker.sock -> <base>/<run id>
        for level in (path.parent, directory, directory.parent):
            info = level.stat()
            assert info.st_uid == os.getuid(), f"{level} is owned by uid {info.st_uid}"
            assert stat.S_IMODE(info.st_mode) == 0o700, f"{level} has mode {info.st_mode:o}"


SYSTEM_PYTHON = "/usr/bin/python3"
"""An interpreter every account may run (a pyenv one under /root is not)."""


def test_an_unprivileged_account_cannot_open_a_node_socket(locked: Cluster) -> None:
    if os.geteuid() != 0:
        pytest.skip(f"running as uid {os.geteuid()}: only root can try as another account")
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is missing: nothing to run the attempt as nobody")
    nobody = pwd.getpwnam("nobody")
    attempt = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[1])\n"
        "except PermissionError:\n"
        "    sys.exit(13)\n"
        "s.sendall(b'GET /version HTTP/1.0\\r\\n\\r\\n')\n"
        "print(s.recv(200))\n"
    )
    for node in locked.nodes:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-c", attempt, node.api_socket],
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode == 13, (
            f"nobody reached {node.name}'s engine (exit {done.returncode}): {done.stdout!r}"
        )


def test_nothing_of_the_run_listens_on_the_host(
    locked: Cluster, listeners_before: set[tuple[str, int]]
) -> None:
    new = host_listeners() - listeners_before
    assert not new, f"listening sockets appeared on the host during the run: {sorted(new)}"


def test_socket_directories_go_with_the_run(host: docker.DockerClient) -> None:
    spec = ClusterSpec(managers=1)
    with running_cluster(host, spec, prepare_images(host, spec)) as cluster:
        run_path = sockets.base_dir() / cluster.run_id
        assert run_path.is_dir()
    assert not run_path.exists(), f"{run_path} was left behind"
