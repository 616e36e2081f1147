"""What every facade over one engine shares: the node it speaks to, its docker-py client,
docker errors translated into swarmcheck's, and closing a client the facade made itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

import docker

from swarmcheck.client.errors import translated


class Facade:
    """Calls to one node's engine. ``owned``: this facade made its client (a short-timeout
    one) and closes it (``close()``, or use the facade as a context manager)."""

    swarm_calls = False
    """Whether its calls are swarm operations (an error the engine answers is then
    ``SwarmRefused``, a broken promise unless expected)."""

    def __init__(self, node: str, client: docker.DockerClient, *, owned: bool = False) -> None:
        self.node = node
        self.docker = client
        self._owned = owned

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the engine client when this facade made it."""
        if self._owned:
            self.docker.close()

    @contextmanager
    def _calls(self) -> Iterator[docker.APIClient]:
        """docker-py's low-level client, its errors translated."""
        with translated(self.node, swarm=self.swarm_calls):
            yield self.docker.api
