"""The framework's own tests: pytester runs generated test files against the plugin."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest

from swarmcheck.client.engine import host_client
from swarmcheck.machine import hostengine

pytest_plugins = ["pytester"]


@pytest.fixture(scope="session")
def host() -> Iterator[docker.DockerClient]:
    """A client for the host engine (started if none answers), shared by end-to-end tests."""
    hostengine.ensure_engine()
    client = host_client()
    yield client
    client.close()
