"""The one place that builds docker-py clients (host engine and node engines)."""

from __future__ import annotations

import docker

DEFAULT_TIMEOUT_S = 30.0
NODE_API_PORT = 2375


def host_client(timeout_s: float = 120.0) -> docker.DockerClient:
    """A client for the engine that runs the node containers (DOCKER_HOST or the local socket)."""
    return docker.from_env(timeout=int(timeout_s))


def node_client(
    ip: str, timeout_s: float = DEFAULT_TIMEOUT_S, api_version: str | None = None
) -> docker.DockerClient:
    """A client for the engine inside a node container, reached over the run's own network.

    Without ``api_version`` the client asks the engine for it (a network call that can
    fail on a frozen node); pass the version once known so building a client never blocks.
    """
    return docker.DockerClient(
        base_url=f"tcp://{ip}:{NODE_API_PORT}", timeout=timeout_s, version=api_version or "auto"
    )
