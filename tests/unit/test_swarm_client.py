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


class FakeServiceApi:
    """Records what a service write sends; ``inspect_service`` counts the reads."""

    def __init__(self) -> None:
        self.reads = 0
        self.posts: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []

    def inspect_service(self, name: str) -> dict[str, Any]:
        self.reads += 1
        return {"ID": "svc1", "Version": {"Index": 30}, "Spec": service_spec()}

    def _url(self, path: str, *args: str) -> str:
        return path.format(*args)

    def _post_json(
        self, url: str, data: dict[str, Any], params: dict[str, Any] | None = None
    ) -> SimpleNamespace:
        self.posts.append((url, data, params))
        return SimpleNamespace(json=lambda: {"ID": "new1"})

    def _raise_for_status(self, response: object) -> None:
        pass


def service_spec() -> dict[str, Any]:
    return {
        "Name": "web",
        "Mode": {"Replicated": {"Replicas": 2}},
        "TaskTemplate": {"ContainerSpec": {"Image": "swarmcheck/workload:v1"}},
    }


def service_client() -> tuple[SwarmClient, FakeServiceApi]:
    api = FakeServiceApi()
    return SwarmClient("manager1", SimpleNamespace(api=api)), api  # type: ignore[arg-type]


def test_a_raw_update_is_one_post_and_never_reads() -> None:
    client, api = service_client()

    client.update_service_raw("svc1", 29, service_spec())

    assert api.reads == 0
    assert api.posts == [("/services/svc1/update", service_spec(), {"version": 29})]


def test_a_raw_create_is_one_post_and_never_reads() -> None:
    client, api = service_client()

    assert client.create_service_raw(service_spec()) == "new1"
    assert api.reads == 0
    assert api.posts == [("/services/create", service_spec(), None)]


def test_a_scale_reads_once_and_sends_the_stored_spec_with_only_the_count_changed() -> None:
    client, api = service_client()

    client.scale("web", 3)

    expected = service_spec()
    expected["Mode"] = {"Replicated": {"Replicas": 3}}
    assert api.reads == 1
    assert api.posts == [("/services/svc1/update", expected, {"version": 30})]
