"""Node containers on an engine that refuses to drop a capability the machine lacks."""

from __future__ import annotations

from swarmcheck.cluster.node import unavailable_cap_drop
from swarmcheck.errors import EngineAPIError

DOCKER_26 = (
    "engine error on manager1 (400): invalid CapDrop: capability not supported by your kernel "
    'or not available in the current environment: "CAP_SYS_RESOURCE"'
)


def test_docker_26s_refusal_is_recognised() -> None:
    assert unavailable_cap_drop(EngineAPIError(DOCKER_26, status_code=400))


def test_other_errors_are_not() -> None:
    assert not unavailable_cap_drop(EngineAPIError(DOCKER_26, status_code=500))
    assert not unavailable_cap_drop(EngineAPIError("invalid mount config", status_code=400))
