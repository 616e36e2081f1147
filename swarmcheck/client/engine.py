"""The one place that builds docker-py clients (host engine and node engines)."""

from __future__ import annotations

import docker

DEFAULT_TIMEOUT_S = 30.0


def host_client(timeout_s: float = 120.0) -> docker.DockerClient:
    """A client for the engine that runs the node containers (DOCKER_HOST or the local socket)."""
    return docker.from_env(timeout=int(timeout_s))


def node_client(
    socket_path: str, timeout_s: float = DEFAULT_TIMEOUT_S, api_version: str | None = None
) -> docker.DockerClient:
    """A client for the engine inside a node container, through its Unix socket on this host
    (nodes listen on no TCP port: see swarmcheck.cluster.sockets).

    Without ``api_version`` the client asks the engine for it (a network call that can
    fail on a frozen node); pass the version once known so building a client never blocks.
    """
    return docker.DockerClient(
        base_url=f"unix://{socket_path}", timeout=timeout_s, version=api_version or "auto"
    )
