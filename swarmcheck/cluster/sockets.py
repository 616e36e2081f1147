"""Where a run's node engines answer: a Unix socket per node in a directory only we can open.

Why not TCP: a node's engine runs containers with nearly every capability, so anyone who can
reach its API is root on this machine. An engine API on ``tcp://<node-ip>:2375`` without TLS is
reachable by every local account through the bridge. Mutual TLS would fix that at the cost of a
CA per run and TLS handshakes on every short-lived poll client; a Unix socket bind-mounted from
a directory with mode 0700 needs neither, is faster than TCP, and leaves nothing of the run
listening on any interface. The price: the host engine must run on this machine (the socket
directory is a bind mount), which ``check_local_engine`` says clearly when it does not.

Layout: ``<base>/<run id>/<node>/docker.sock``, where ``<base>`` is
``$TMPDIR/swarmcheck-<uid>`` (mode 0700, owned by us) and each run directory holds an
``owner`` file (pid and host), so a sweep removes only directories of runs that are gone.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import stat
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from swarmcheck import labels
from swarmcheck.errors import EnvironmentProblem

log = logging.getLogger("swarmcheck.cluster")

NODE_MOUNT = "/swarmcheck-api"
"""Where a node container sees its socket directory."""
SOCKET_NAME = "docker.sock"


def base_dir() -> Path:
    """This user's socket directory, created 0700; refused if someone else owns it."""
    base = Path(tempfile.gettempdir()) / f"swarmcheck-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    info = base.lstat()
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        raise EnvironmentProblem(
            f"{base} is not a directory owned by uid {os.getuid()}: remove it (another account "
            "may have made it to read node engine sockets) and run again"
        )
    if stat.S_IMODE(info.st_mode) != 0o700:
        base.chmod(0o700)
    return base


def run_dir(run_id: str) -> Path:
    """The run's directory (created with its owner file on first use)."""
    path = base_dir() / run_id
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return path  # made already, e.g. by another node of this run booting in parallel
    (path / "owner").write_text(f"{os.getpid()} {socket.gethostname()}\n")
    return path


def node_dir(run_id: str, node: str) -> Path:
    """The directory bind-mounted into ``node`` at NODE_MOUNT; its engine's socket lands here."""
    path = run_dir(run_id) / node
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def node_socket(run_id: str, node: str) -> Path:
    return node_dir(run_id, node) / SOCKET_NAME


def remove_run_dir(run_id: str) -> bool:
    """Remove the run's socket directory; whether there was one."""
    path = base_dir() / run_id
    if not path.exists():
        return False
    shutil.rmtree(path, ignore_errors=True)
    return True


def stale_run_dirs(leave: frozenset[str] = frozenset()) -> list[Path]:
    """Socket directories of runs whose owner process is gone (left behind), but for the
    runs in ``leave`` (clusters kept after a failed check)."""
    return [
        p
        for p in base_dir().iterdir()
        if p.is_dir() and p.name not in leave and not _owner_alive(p / "owner")
    ]


def sweep_run_dirs(leave: frozenset[str] = frozenset()) -> int:
    """Remove socket directories of runs whose owner process is gone, but for the runs in
    ``leave``; how many."""
    stale = stale_run_dirs(leave)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return len(stale)


def _owner_alive(owner_file: Path) -> bool:
    try:
        pid_text, host = owner_file.read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return False  # no owner file: a run that never got going, or a stranger's leftover
    return labels.process_alive(pid, host)


def check_local_engine(base_url: str) -> None:
    """Node sockets are bind mounts: the engine that runs the nodes must be on this machine."""
    parsed = urlparse(base_url)
    if parsed.scheme in ("http+unix", "http+docker", "unix", "npipe"):
        return
    if parsed.hostname in ("localhost", "127.0.0.1", "::1"):
        return
    raise EnvironmentProblem(
        f"the Docker engine at {base_url} is not on this machine: swarmcheck reaches node "
        "engines through Unix sockets bind-mounted from this machine, so run it on the engine's "
        "host (or unset DOCKER_HOST to use a local engine)"
    )
