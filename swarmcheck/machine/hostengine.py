"""Make sure a Docker engine answers on this machine: reuse one, or install and start one.

Machines of this kind start with a docker client but no engine, so the set-up starts
Debian's dockerd in the background (there is no systemd) and waits for it to answer.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from swarmcheck.client.engine import host_client
from swarmcheck.client.errors import translated
from swarmcheck.errors import EngineAPIError, EnvironmentProblem
from swarmcheck.machine.debian import apt_install
from swarmcheck.timing import wait_until

log = logging.getLogger("swarmcheck.engine")

DOCKERD_LOG = Path("/var/log/swarmcheck-dockerd.log")
# dockerd refuses to start while this file exists ("pid file found"), even when the engine
# that wrote it was killed long ago (a machine reused after a hard stop keeps /var/run).
DOCKERD_PIDFILE = Path("/var/run/docker.pid")
# Private 10.x ranges for the host engine's own bridges, so nothing lands in 172.17/16.
DOCKERD_ARGS = ("--bip=10.198.0.1/24", "--default-address-pool=base=10.197.0.0/16,size=24")
START_TIMEOUT_S = 60.0


def engine_answers() -> bool:
    """Whether the engine named by DOCKER_HOST (or the local socket) answers a ping."""
    try:
        return _ping()
    except EngineAPIError:
        return False


def _ping() -> bool:
    """True once the host engine answers a ping; EngineAPIError while it does not."""
    with translated("the host"):
        client = host_client(timeout_s=5)
        try:
            return bool(client.ping())
        finally:
            client.close()


def ensure_engine() -> str:
    """Return the engine's version, starting an engine first when none answers.

    Raises:
        EnvironmentProblem: no engine answers and this machine cannot start one.
    """
    if not engine_answers():
        if os.environ.get("DOCKER_HOST"):
            raise EnvironmentProblem(
                f"DOCKER_HOST={os.environ['DOCKER_HOST']} does not answer; start that engine "
                "or unset DOCKER_HOST to let swarmcheck start a local one"
            )
        _start_local_engine()
    with translated("the host"):
        client = host_client(timeout_s=10)
        try:
            return str(client.version().get("Version", "unknown"))
        finally:
            client.close()


def _start_local_engine() -> None:
    if os.geteuid() != 0:
        raise EnvironmentProblem(
            "no Docker engine answers and swarmcheck is not root, so it cannot start one: "
            "start dockerd yourself (or `sudo swarmcheck setup`), or set DOCKER_HOST"
        )
    if shutil.which("dockerd") is None:
        _install_docker_io()
    clear_stale_pidfile(DOCKERD_PIDFILE)
    log.warning("no Docker engine answers: starting dockerd (log: %s)", DOCKERD_LOG)
    with DOCKERD_LOG.open("ab") as out:
        dockerd = subprocess.Popen(
            ["dockerd", *DOCKERD_ARGS],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this process: the engine is shared infrastructure
        )

    def not_answering(what: str, timeout_s: float, last_error: str | None) -> Exception:
        return EnvironmentProblem(
            f"dockerd was started but did not answer within {timeout_s:.0f}s "
            f"(last error: {last_error}); last lines of {DOCKERD_LOG}:\n{_tail(DOCKERD_LOG, 20)}"
        )

    def answered() -> bool | None:
        if dockerd.poll() is not None:  # it gave up: say why now, not after the timeout
            raise EnvironmentProblem(
                f"dockerd exited with status {dockerd.returncode} while starting; last lines "
                f"of {DOCKERD_LOG}:\n{_tail(DOCKERD_LOG, 20)}"
            )
        return _ping() or None

    wait_until(
        answered,
        what="the host's dockerd to answer",
        timeout_s=START_TIMEOUT_S,
        interval_s=0.5,
        transient=(EngineAPIError,),  # refused or timed out while dockerd starts
        timeout_error=not_answering,
    )
    log.warning("dockerd answers")


def clear_stale_pidfile(pidfile: Path, proc: Path = Path("/proc")) -> None:
    """Remove ``pidfile`` when the dockerd that wrote it is gone, so a new one can start.

    A killed engine (a machine stopped hard, a CI job cancelled) leaves its pid file, and
    dockerd then refuses to start. The file is removed only when no dockerd runs under that
    pid (the pid may have been reused by another program); a dockerd that runs but does not
    answer is not ours to kill, so that is an error naming it.

    Raises:
        EnvironmentProblem: a dockerd runs under the recorded pid but does not answer.
    """
    try:
        recorded = pidfile.read_text().strip()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise EnvironmentProblem(
            f"cannot read {pidfile} ({exc}): remove it if no dockerd runs, then retry"
        ) from exc
    if recorded.isdigit() and _command_name(proc / recorded) == "dockerd":
        raise EnvironmentProblem(
            f"dockerd (pid {recorded}, from {pidfile}) is running but does not answer on "
            "its socket: wait for it to finish starting, or stop it (kill "
            f"{recorded}) and retry; its log may say why"
        )
    log.warning(
        "removing %s: it names pid %r, where no dockerd runs (left by an engine that was killed)",
        pidfile,
        recorded,
    )
    pidfile.unlink(missing_ok=True)


def _command_name(process: Path) -> str | None:
    """The command name of a /proc entry, or None when no such process exists."""
    try:
        return (process / "comm").read_text().strip()
    except OSError:
        return None


def _install_docker_io() -> None:
    if shutil.which("apt-get") is None:
        raise EnvironmentProblem(
            "no Docker engine answers and there is no dockerd or apt-get to install one: "
            "install Docker Engine (https://docs.docker.com/engine/install/) and start it"
        )
    log.warning("installing Debian's docker.io (once per machine, about a minute)")
    apt_install(
        "docker.io",
        why="install Docker Engine (https://docs.docker.com/engine/install/) and start it",
    )


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
