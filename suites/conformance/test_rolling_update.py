"""Rolling updates keep the service answering, as its clients see it."""

from __future__ import annotations

import pytest

from swarmcheck.checkers.availability import check_availability
from swarmcheck.cluster.capabilities import ipvs_missing
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.readiness import Stopwatch, wait_until
from swarmcheck.plugin.fixtures import Recorder
from swarmcheck.workload.probe import DnsrrProbe
from swarmcheck.workload.service import deploy_web, wait_converged, workload_image

DOC = "https://docs.docker.com/engine/swarm/swarm-tutorial/rolling-update/"
REPLICAS = 3


def rolling_update_under_probe(
    swarm: Cluster, figure: Recorder, endpoint_mode: str, via_vip: bool
) -> None:
    """Deploy v1, probe it from inside the swarm, update to v2, judge what the probe saw."""
    lead = swarm.swarm(swarm.leader())
    lead.create_network("probe-net")
    deploy_web(
        swarm,
        "web",
        REPLICAS,
        endpoint_mode=endpoint_mode,
        networks=["probe-net"],
        healthcheck=True,
        update_order="start-first",
        update_parallelism=1,
    )
    assert swarm.images is not None
    probe = DnsrrProbe(
        node=swarm.managers[0],
        network="probe-net",
        service="web",
        image=workload_image("v1"),
        run_id=swarm.run_id,
        via_vip=via_vip,
    ).start()
    wait_until(
        lambda: True if len([p for p in probe.results() if p.ok]) >= 10 else None,
        what="the probe to get 10 answers from v1 before the update",
        timeout_s=30,
    )
    clock = Stopwatch()
    lead.update_image("web", workload_image("v2"))
    wait_until(
        lambda: True if lead.update_state("web") == "completed" else None,
        what="the rolling update to complete",
        timeout_s=120,
    )
    figure("update_s", clock())
    wait_converged(lead, "web", REPLICAS, image=workload_image("v2"))
    wait_until(
        lambda: True if sum(1 for p in probe.results() if p.answer == "v2") >= 10 else None,
        what="10 answers from v2 after the update",
        timeout_s=30,
    )
    probes = probe.stop()
    verdict = check_availability(probes, min_success_ratio=1.0)
    for name, value in verdict.figures.items():
        figure(name, value)
    verdict.assert_ok()
    answers = {p.answer for p in probes if p.ok}
    assert answers == {"v1", "v2"}, f"answers seen: {answers}"


@pytest.mark.swarmcheck(
    id="SC-UPD-001",
    area="updates",
    doc=DOC,
    title="a start-first rolling update keeps a DNS-RR service answering",
)
def test_rolling_update_keeps_answering(swarm: Cluster, figure: Recorder) -> None:
    rolling_update_under_probe(swarm, figure, endpoint_mode="dnsrr", via_vip=False)


@pytest.mark.swarmcheck(
    id="SC-UPD-002",
    area="updates",
    doc="https://docs.docker.com/engine/swarm/ingress/",
    title="a rolling update keeps a VIP service answering through IPVS",
)
def test_rolling_update_through_vip(swarm: Cluster, figure: Recorder) -> None:
    missing = ipvs_missing(swarm.managers[0])
    if missing:
        pytest.skip(missing)
    rolling_update_under_probe(swarm, figure, endpoint_mode="vip", via_vip=True)
