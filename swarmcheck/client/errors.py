"""The one place that turns docker-py and requests errors into swarmcheck's exceptions.

Errors of swarm operations (``swarm=True``: what ``SwarmClient`` sends to an engine of the swarm
under test) become ``SwarmRefused``/``SwarmNotFound`` when the engine answered with an error: the
swarm refused or failed a documented operation, a product failure unless a check expected it.
An engine that did not answer stays ``EngineUnreachable`` (no verdict on the product).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import docker.errors
import requests.exceptions

from swarmcheck.errors import (
    DISK_FULL_FIX,
    DiskFull,
    EngineAPIError,
    EngineUnreachable,
    NotFound,
    SwarmNotFound,
    SwarmRefused,
    is_disk_full,
)


def translate(
    exc: BaseException, node: str | None = None, *, swarm: bool = False
) -> EngineAPIError:
    """The swarmcheck exception for a docker-py or transport exception, keeping the explanation.

    ``swarm``: the call was a swarm operation on an engine of the swarm under test.
    """
    where = f" on {node}" if node else ""
    if isinstance(exc, docker.errors.NotFound):
        return (SwarmNotFound if swarm else NotFound)(
            f"not found{where}: {exc.explanation}",
            status_code=404,
            explanation=str(exc.explanation),
            node=node,
        )
    if isinstance(exc, docker.errors.APIError):
        code = exc.status_code
        explanation = str(exc.explanation or exc)
        if is_disk_full(explanation):  # whatever the call was: the machine, not the product
            return DiskFull(
                f"the disk is full{where} ({code}: {explanation}): {DISK_FULL_FIX}",
                status_code=code,
                explanation=explanation,
                node=node,
            )
        return (SwarmRefused if swarm and code is not None else EngineAPIError)(
            f"engine error{where} ({code}): {explanation}",
            status_code=code,
            explanation=explanation,
            node=node,
        )
    unreachable = requests.exceptions.RequestException | ConnectionError | TimeoutError
    # docker-py wraps a transport error in its own when it asks the API version as a client
    # is made: still an engine that did not answer.
    if isinstance(exc, unreachable) or isinstance(exc.__cause__, unreachable):
        return EngineUnreachable(f"engine{where} did not answer: {exc}", node=node)
    if isinstance(exc, docker.errors.DockerException):
        return EngineAPIError(f"docker error{where}: {exc}", node=node)
    raise TypeError(f"not a docker error: {exc!r}")


TRANSLATED = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    ConnectionError,
    TimeoutError,
)


@contextmanager
def translated(node: str | None = None, *, swarm: bool = False) -> Iterator[None]:
    """Run a block of docker-py calls; any docker or transport error leaves as EngineAPIError
    (``SwarmRefused`` for a swarm operation the engine answered with an error)."""
    try:
        yield
    except TRANSLATED as exc:
        raise translate(exc, node, swarm=swarm) from exc
