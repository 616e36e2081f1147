"""SwarmClient calls that change the swarm spec keep what they do not change (no Docker)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from swarmcheck.client.swarm import SwarmClient

SPEC = {"Dispatcher": {"HeartbeatPeriod": 1_000_000_000}, "CAConfig": {"NodeCertExpiry": 1}}


class FakeApi:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def inspect_swarm(self) -> dict[str, Any]:
        return {
            "Version": {"Index": 42},
            "Spec": SPEC,
            "JoinTokens": {"Worker": "w2", "Manager": "m"},
        }

    def update_swarm(self, **kwargs: Any) -> None:
        self.updates.append(kwargs)


@pytest.mark.parametrize("kind", ["worker", "manager"])
def test_rotating_a_join_token_sends_the_whole_spec(kind: str) -> None:
    api = FakeApi()
    swarm = SimpleNamespace(attrs=api.inspect_swarm())
    client = SwarmClient("manager1", SimpleNamespace(api=api, swarm=swarm))  # type: ignore[arg-type]

    client.rotate_join_token(kind)

    (update,) = api.updates
    assert update["swarm_spec"] == SPEC, "the dispatcher heartbeat or CA settings were dropped"
    assert update["version"] == 42
    assert update["rotate_worker_token"] is (kind == "worker")
    assert update["rotate_manager_token"] is (kind == "manager")
