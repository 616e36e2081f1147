"""Rolling updates keep the service answering, as its clients see it."""

from __future__ import annotations

import pytest

from suites.conftest import RollingJudge
from swarmcheck.api import (
    Recorder,
    Swarm,
    watched_rolling_update,
)

DOC = "https://docs.docker.com/engine/swarm/swarm-tutorial/rolling-update/"


@pytest.mark.swarmcheck(
    id="SC-UPD-001",
    area="updates",
    doc=DOC,
    title="a start-first rolling update keeps a DNS-RR service answering",
    promise=(
        "A start-first rolling update MUST keep a DNS-RR service answering and end with every "
        "task on the new image."
    ),
    rows=("upd-start-first",),
    effects=("writes",),
)
def test_rolling_update_keeps_answering(
    swarm_cluster: Swarm, swarm_figure: Recorder, judge_rolling: RollingJudge
) -> None:
    """3 replicas, start-first, parallelism 1: a client inside the swarm never misses an
    answer, and the tasks (managers and engines, sampled every 0.2 s) show start-first: an
    engine that updates stop-first fails here even though the client would not notice."""
    run = watched_rolling_update(swarm_cluster, swarm_figure, replicas=3, order="start-first")
    judge_rolling(run, "web v1 -> v2, probed via tasks.web (DNS-RR)")


@pytest.mark.swarmcheck(
    id="SC-UPD-002",
    area="updates",
    doc="https://docs.docker.com/engine/swarm/ingress/",
    title="a rolling update keeps a VIP service answering through IPVS",
    promise="A start-first rolling update MUST keep a service answering through its virtual IP.",
    rows=("upd-start-first", "net-vip-stable"),
    needs=("ipvs",),  # without IPVS the cluster fixture skips it, with the reason it found
    effects=("writes",),
)
def test_rolling_update_through_vip(
    swarm_cluster: Swarm, swarm_figure: Recorder, judge_rolling: RollingJudge
) -> None:
    run = watched_rolling_update(
        swarm_cluster, swarm_figure, replicas=3, order="start-first", via_vip=True
    )
    judge_rolling(run, "web v1 -> v2, probed via the service VIP")
