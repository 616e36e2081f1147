"""The service API's contract: a name is taken once, updates carry the version they were
read at, scaling changes only the replica count.

Each refusal is checked for its message and status, and for what it did NOT do: the engines
keep running what they ran before. Shape: the default cluster (3 managers).
"""

from __future__ import annotations

import pytest

from swarmcheck.api import (
    EngineAPIError,
    Recorder,
    Stopwatch,
    Swarm,
    create_placed_service,
    deploy_web,
    promise_timeout,
    running_containers,
    running_images,
    scale_service,
    send_spec,
    update_spec,
    wait_converged,
    wait_placement,
    wait_until,
    workload_image,
)

API = "https://docs.docker.com/reference/api/engine/version/v1.41/"
V1, V2 = workload_image("v1"), workload_image("v2")


def _service_status(swarm_cluster: Swarm, name: str) -> dict[str, int]:
    """`GET /services?status=true`'s ServiceStatus for one service."""
    lead = swarm_cluster.leader_client()
    listed = lead.raw_services(name, status=True)
    status = next(s for s in listed if s["Spec"]["Name"] == name)["ServiceStatus"]
    return {k: int(status[k]) for k in ("RunningTasks", "DesiredTasks")}


def _wait_status(swarm_cluster: Swarm, name: str, replicas: int) -> None:
    """Wait until ServiceStatus says ``replicas`` running of ``replicas`` desired."""
    wanted = {"RunningTasks": replicas, "DesiredTasks": replicas}
    wait_until(
        lambda: True if _service_status(swarm_cluster, name) == wanted else None,
        what=f"ServiceStatus of {name} to be {wanted}",
        timeout_s=30,
        timeout_error=promise_timeout,
    )


@pytest.mark.swarmcheck(
    id="SC-SVC-009",
    area="services",
    doc=f"{API}#tag/Service/operation/ServiceCreate",
    title="creating a service with a taken name is refused with 409; the first one is untouched",
    promise="Swarm MUST refuse to create a service whose name is taken, with status 409 and "
    "'service <name> already exists', and MUST leave the existing service as it was.",
    rows=("svc-api-conflicts",),
    needs=(),
    effects=("writes",),
)
def test_duplicate_name_conflict(swarm_cluster: Swarm) -> None:
    lead = swarm_cluster.leader_client()
    create_placed_service(lead, "dup", 1)
    wait_placement(swarm_cluster, lead, "dup", 1)
    with pytest.raises(EngineAPIError) as refused:
        create_placed_service(lead, "dup", 3, version="v2")
    assert refused.value.status_code == 409, refused.value
    # moby's TestCreateServiceConflict expects this text (inside swarmkit's gRPC message).
    assert "service dup already exists" in refused.value.explanation, refused.value.explanation
    services = [s for s in lead.raw_services() if s["Spec"]["Name"] == "dup"]
    assert len(services) == 1, f"{len(services)} services named dup"
    seen = wait_placement(swarm_cluster, lead, "dup", 1)
    assert seen.running == 1
    assert running_images(swarm_cluster, service_id=services[0]["ID"]) == {V1: 1}, (
        "the refused create ran tasks"
    )


@pytest.mark.swarmcheck(
    id="SC-SVC-010",
    area="services",
    doc=f"{API}#tag/Service/operation/ServiceUpdate",
    title="an update carrying a stale version is refused (update out of sequence); with the "
    "current version the same change applies",
    promise="Swarm MUST refuse a service update whose version is not the current one ('update "
    "out of sequence') without applying any of it, and MUST apply the same change sent with "
    "the current version.",
    rows=("svc-api-conflicts",),
    needs=(),
    effects=("writes",),
)
def test_stale_version_update_refused(swarm_cluster: Swarm) -> None:
    # All tasks updated at once (parallelism 0): the check is about the API, not the rollout.
    lead = deploy_web(swarm_cluster, "web", 2, update_parallelism=0)
    stale = lead.inspect_service("web")
    scale_service(lead, "web", 3)  # someone else's write: the version moves on
    wait_converged(lead, "web", 3)

    spec = stale["Spec"]
    spec["TaskTemplate"]["ContainerSpec"]["Image"] = V2
    with pytest.raises(EngineAPIError) as refused:
        send_spec(lead, stale["ID"], spec, stale["Version"]["Index"])
    assert "update out of sequence" in refused.value.explanation, refused.value.explanation
    current = lead.inspect_service("web")["Spec"]
    assert current["TaskTemplate"]["ContainerSpec"]["Image"].split("@")[0] == V1
    assert current["Mode"]["Replicated"]["Replicas"] == 3, "the stale write reset the replicas"
    assert running_images(swarm_cluster, service_id=stale["ID"]) == {V1: 3}, (
        "the refused update reached the tasks"
    )

    def to_v2(spec: dict[str, object]) -> None:
        container = spec["TaskTemplate"]["ContainerSpec"]  # type: ignore[index]
        container["Image"] = V2  # type: ignore[index]

    update_spec(lead, "web", to_v2)
    wait_converged(lead, "web", 3, image=V2)

    def engines_on_v2() -> bool | None:
        return True if running_images(swarm_cluster, service_id=stale["ID"]) == {V2: 3} else None

    wait_until(
        engines_on_v2,
        what="the engines to run the 3 tasks on v2",
        timeout_s=30,
        timeout_error=promise_timeout,
    )


@pytest.mark.swarmcheck(
    id="SC-SVC-011",
    area="services",
    doc="https://docs.docker.com/engine/swarm/swarm-tutorial/scale-service/",
    title="scaling keeps the running tasks' containers; ServiceStatus counts running/desired",
    promise="Swarm MUST scale a replicated service by adding or removing tasks only, keeping "
    "the containers of the tasks it keeps running, and MUST report RunningTasks equal to "
    "DesiredTasks once converged.",
    rows=("svc-scale", "svc-converge"),
    needs=(),
    effects=("writes",),
)
def test_scale_keeps_running_containers(swarm_cluster: Swarm, swarm_figure: Recorder) -> None:
    lead = deploy_web(swarm_cluster, "web", 2)
    service_id = lead.service("web").id

    def containers() -> set[str]:
        return {
            c
            for ids in running_containers(swarm_cluster, service_id=service_id).values()
            for c in ids
        }

    first = containers()
    assert len(first) == 2 and _service_status(swarm_cluster, "web") == {
        "RunningTasks": 2,
        "DesiredTasks": 2,
    }
    clock = Stopwatch()
    scale_service(lead, "web", 5)
    wait_placement(swarm_cluster, lead, "web", 5)
    swarm_figure("scale_up_s", clock())
    grown = containers()
    assert first <= grown, f"scaling up replaced running containers: {first - grown} gone"
    assert len(grown) == 5
    assert _service_status(swarm_cluster, "web") == {"RunningTasks": 5, "DesiredTasks": 5}

    scale_service(lead, "web", 2)
    wait_placement(swarm_cluster, lead, "web", 2)
    kept = containers()
    assert len(kept) == 2 and kept <= grown, f"scaling down started new containers: {kept - grown}"
    # tasks being shut down still count as running until their agents report them stopped
    _wait_status(swarm_cluster, "web", 2)
