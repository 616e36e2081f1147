"""Pure cluster logic: what "whole" means, the pool giving up on a shape, error families."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import docker
import docker.errors
import pytest
import requests

from swarmcheck.client.errors import translate
from swarmcheck.client.swarm import NodeInfo
from swarmcheck.cluster import pool as pool_module
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.health import Member, current_managers, swarm_health
from swarmcheck.cluster.pool import MAX_FAILED_BRINGUPS, ClusterPool
from swarmcheck.errors import (
    EngineAPIError,
    EngineUnreachable,
    NotFound,
    PromiseTimeout,
    ProvisioningError,
    ReadinessTimeout,
    SwarmNotFound,
    SwarmPromiseBroken,
    SwarmRefused,
)
from swarmcheck.spec import ClusterSpec
from swarmcheck.timing import wait_until

# --- whole swarm -------------------------------------------------------------------------------


def info(host: str, node_id: str, *, role: str = "manager", leader: bool = False,
         state: str = "ready", reach: str | None = "reachable") -> NodeInfo:  # fmt: skip
    return NodeInfo(node_id, host, role, "active", state, leader,
                    reach if role == "manager" else None, None)  # fmt: skip


MEMBERS = [Member("m1", "id1"), Member("m2", "id2"), Member("m3", "id3")]


def view(leader: str = "m1", **changes: NodeInfo) -> list[NodeInfo]:
    nodes = {h: info(h, f"id{h[1]}", leader=h == leader) for h in ("m1", "m2", "m3")}
    nodes.update(changes)
    return list(nodes.values())


def test_whole_swarm() -> None:
    health = swarm_health(MEMBERS, {"m1": view(), "m2": view(), "m3": view()})
    assert health.whole and health.problems == ()


def test_a_manager_that_does_not_answer_is_not_whole() -> None:
    health = swarm_health(MEMBERS, {"m1": view(), "m2": view(), "m3": "timed out"})
    assert health.problems == ("m3 did not answer `node ls`: timed out",)


def test_a_node_back_under_a_new_id_is_not_whole() -> None:
    rejoined = info("m3", "id9")
    health = swarm_health(MEMBERS, {"m1": view(m3=rejoined), "m2": view(m3=rejoined)})
    assert health.problems == ("m3 is in the node list under a new ID id9 (it joined as id3)",)


def test_duplicates_and_counts_are_compared() -> None:
    doubled = [*view(), info("m3", "id9", state="down", reach="unreachable")]
    health = swarm_health(MEMBERS, {"m1": doubled})
    assert health.problems == (
        "m1 lists 4 nodes, the cluster has 3: m1(id1), m2(id2), m3(id3), m3(id9)",
        "m1 lists m3 2 times (ids id3, id9)",
    )
    stranger = swarm_health(MEMBERS[:2], {"m1": [*view()[:2], info("x", "idx")]})
    assert "m1 lists a node this cluster did not start: x (idx)" in stranger.problems


def test_leaders_are_counted_in_every_view() -> None:
    health = swarm_health(MEMBERS, {"m1": view("m1"), "m2": view("m2"), "m3": view("")})
    assert health.problems == (
        "m3 sees 0 leaders: none",
        "managers disagree on the leader: m1 sees m1, m2 sees m2",
    )


def test_state_and_reachability() -> None:
    down = info("m2", "id2", state="down", reach="unreachable")
    health = swarm_health(MEMBERS, {"m1": view(m2=down)})
    assert health.problems == ("m2 is down", "m2 is unreachable")


def test_ids_are_learned_once_never_replaced() -> None:
    health = swarm_health([Member("m1"), Member("m2", "id2")], {"m1": view()[:2]})
    assert health.whole and health.learned_ids == {"m1": "id1"}


def test_current_managers_from_the_views() -> None:
    demoted = info("m3", "id3", role="worker")
    assert current_managers({"m1": view(m3=demoted), "m3": "not a manager"}) == {"m1", "m2"}


# --- the pool gives up on a shape ----------------------------------------------------------------


@dataclass
class FailingCluster:
    """Stands in for a Cluster whose bring-up fails (pool logic only, no engine)."""

    spec: ClusterSpec
    error: Exception
    downs: list[str] = field(default_factory=list)
    engine_version: str = ""

    def up(self, prepared: object) -> None:
        raise self.error

    def down(self) -> None:
        self.downs.append("down")


def failing_pool(error: Exception) -> tuple[ClusterPool, list[FailingCluster]]:
    made: list[FailingCluster] = []

    def make(spec: ClusterSpec) -> Cluster:
        made.append(FailingCluster(spec, error))
        return cast(Cluster, made[-1])

    pool = ClusterPool(cast(docker.DockerClient, None), make)
    pool._images = cast(Any, object())  # images are not what fails here
    return pool, made


@pytest.mark.parametrize(
    "error",
    [
        PromiseTimeout("swarm 1 to be whole", 60.0, "m1 sees 0 leaders: none"),
        ProvisioningError("could not start node container sc-1-manager1", node="manager1"),
    ],
    ids=["never-whole", "node-would-not-start"],
)
def test_after_two_failed_bringups_a_shape_fails_at_once(
    error: Exception, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool_module.log, "disabled", True)  # its warnings would reach the terminal
    pool, made = failing_pool(error)
    spec = ClusterSpec(managers=3)
    for _ in range(MAX_FAILED_BRINGUPS):
        with pytest.raises(type(error)):
            pool.acquire(spec)
    assert [c.downs for c in made] == [["down"]] * MAX_FAILED_BRINGUPS  # removed at once

    with pytest.raises(type(error)) as again:
        pool.acquire(spec)
    assert len(made) == MAX_FAILED_BRINGUPS, "a third bring-up was tried"
    first = str(error).splitlines()[0]
    assert str(again.value).startswith(
        "not bringing up a swarm of this shape again: 2 bring-ups failed, the first with: " + first
    )
    assert pool.current is None
    other = ClusterSpec(managers=1)
    with pytest.raises(type(error)):
        pool.acquire(other)  # another shape is still tried
    assert len(made) == MAX_FAILED_BRINGUPS + 1


# --- error families ------------------------------------------------------------------------------


def api_error(status: int, explanation: str) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code = status
    cls = docker.errors.NotFound if status == 404 else docker.errors.APIError
    return cls(str(status), response=response, explanation=explanation)


def test_swarm_refusals_are_product_failures_and_still_engine_errors() -> None:
    refused = translate(api_error(503, "The swarm does not have a leader."), "m1", swarm=True)
    assert isinstance(refused, SwarmRefused) and isinstance(refused, SwarmPromiseBroken)
    assert isinstance(refused, EngineAPIError) and refused.status_code == 503
    assert str(refused) == "engine error on m1 (503): The swarm does not have a leader."
    gone = translate(api_error(404, "service web not found"), "m1", swarm=True)
    assert isinstance(gone, SwarmNotFound) and isinstance(gone, NotFound)


def test_other_engine_errors_keep_their_family() -> None:
    plain = translate(api_error(500, "boom"), "m1")
    assert type(plain) is EngineAPIError and not isinstance(plain, SwarmPromiseBroken)
    silent = translate(requests.exceptions.ConnectTimeout("timed out"), "m1", swarm=True)
    assert isinstance(silent, EngineUnreachable) and not isinstance(silent, SwarmPromiseBroken)


def test_a_promised_wait_that_times_out_is_a_broken_promise() -> None:
    def refusing() -> None:
        raise EngineAPIError("no leader yet")

    with pytest.raises(PromiseTimeout) as broken:
        wait_until(refusing, what="a leader", timeout_s=0.1, timeout_error=PromiseTimeout)
    assert isinstance(broken.value, SwarmPromiseBroken)
    assert str(broken.value) == (
        "timed out after 0s waiting for a leader, a documented behaviour (last seen: no leader yet)"
    )
    with pytest.raises(ReadinessTimeout):  # waits of the machine stay environment problems
        wait_until(lambda: None, what="an engine", timeout_s=0.1)
