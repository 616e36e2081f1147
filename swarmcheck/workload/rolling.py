"""A rolling update watched by a client: deploy v1, probe it from inside the swarm, update to
v2, and return what the probe saw (suites judge it with the availability checker)."""

from __future__ import annotations

from collections.abc import Callable

from swarmcheck.checkers.availability import Probe
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.timing import Stopwatch, wait_until
from swarmcheck.workload.service import deploy_probed_web, wait_converged, workload_image

FigureRecorder = Callable[[str, float | int | str], None]


def rolling_update_under_probe(
    cluster: Cluster,
    figure: FigureRecorder,
    *,
    replicas: int = 3,
    via_vip: bool = False,
    update_timeout_s: float = 120.0,
    converge_timeout_s: float = 60.0,
) -> list[Probe]:
    """Deploy web:v1 (healthcheck, start-first, parallelism 1), probe it, update to v2.

    Returns every probe. Waits for 10 answers from v1 before and 10 from v2 after, so the
    probe demonstrably covers the whole update.
    """
    lead, probe = deploy_probed_web(
        cluster,
        replicas,
        via_vip=via_vip,
        timeout_s=converge_timeout_s,
        update_order="start-first",
        update_parallelism=1,
    )
    try:
        wait_until(
            lambda: True if sum(p.answer == "v1" for p in probe.results()) >= 10 else None,
            what="10 answers from v1 before the update",
            timeout_s=converge_timeout_s,
        )
        clock = Stopwatch()
        lead.update_image("web", workload_image("v2"))
        wait_until(
            lambda: True if lead.update_state("web") == "completed" else None,
            what="the rolling update to complete",
            timeout_s=update_timeout_s,
        )
        figure("update_s", clock())
        wait_converged(
            lead, "web", replicas, image=workload_image("v2"), timeout_s=converge_timeout_s
        )
        wait_until(
            lambda: True if sum(p.answer == "v2" for p in probe.results()) >= 10 else None,
            what="10 answers from v2 after the update",
            timeout_s=converge_timeout_s,
        )
    finally:
        probes = probe.stop()
    return probes
