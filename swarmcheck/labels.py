"""Labels that mark everything swarmcheck creates, so cleanup and sweeps can find it."""

from __future__ import annotations

import os
import secrets
import socket

NAMESPACE = "io.swarmcheck"
RUN = f"{NAMESPACE}.run"
"""Every container, network, volume and image carries the id of the run that made it."""
OWNER_PID = f"{NAMESPACE}.owner-pid"
OWNER_HOST = f"{NAMESPACE}.owner-host"
ROLE = f"{NAMESPACE}.role"
"""What the object is for: node, toxiproxy, probe, network, volume."""
RECIPE = f"{NAMESPACE}.recipe"
"""Images: the hash of the recipe they were built from."""
KEPT = f"{NAMESPACE}.kept"
"""On the marker of a cluster kept after a failed check (--swarm-keep-on-failure): when it was
kept (ISO 8601). Docker cannot add a label to an existing container, network or volume, so a
run is marked kept by one more labelled object of its own (see cluster/kept.py)."""
KEPT_UNTIL = f"{NAMESPACE}.kept-until"
"""The kept cluster's marker: from when a sweep may remove it (ISO 8601)."""
KEPT_FOR = f"{NAMESPACE}.kept-for"
"""The kept cluster's marker: the failed tests it was kept for (JSON list)."""
KEPT_NODES = f"{NAMESPACE}.kept-nodes"
"""The kept cluster's marker: its nodes, how to reach them (JSON)."""
KEEP_HOURS = 24
"""How long a sweep leaves a kept cluster (its owner's process is gone, yet it stays):
long enough to look into a failure the next working day, short enough that forgotten
clusters do not pile up on a machine that runs nightly."""


def new_run_id() -> str:
    """A short random id; short because it ends up in container names."""
    return secrets.token_hex(4)


def for_run(run_id: str, role: str) -> dict[str, str]:
    """Labels for an object created by this process for run ``run_id``."""
    return {
        RUN: run_id,
        OWNER_PID: str(os.getpid()),
        OWNER_HOST: socket.gethostname(),
        ROLE: role,
    }


def owner_alive(labels: dict[str, str]) -> bool:
    """Whether the process that created an object still runs on this host.

    Objects from another host (a shared engine) are treated as alive: not ours to judge.
    """
    pid: int | None
    try:
        pid = int(labels.get(OWNER_PID, ""))
    except ValueError:
        pid = None
    return process_alive(pid, labels.get(OWNER_HOST))


def process_alive(pid: int | None, host: str | None) -> bool:
    """Whether process ``pid`` of ``host`` still runs; True for another host's (not ours to
    judge), False when the pid is unknown."""
    if host != socket.gethostname():
        return True
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and someone else's
        return True
    return True
