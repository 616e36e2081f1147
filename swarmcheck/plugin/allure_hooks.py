"""Allure labels from suite metadata, and diagnostics attached when a test fails."""

from __future__ import annotations

import json
from collections.abc import Generator

import allure
import pytest

from swarmcheck.cluster.cluster import Cluster
from swarmcheck.errors import SwarmcheckError
from swarmcheck.plugin.keys import CLUSTER_KEY
from swarmcheck.plugin.report import figures_of, record_outcome


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("swarmcheck")
    if marker is None:
        return
    kw = marker.kwargs
    allure.dynamic.label("swarmcheck_id", kw["id"])
    allure.dynamic.tag(kw["id"])
    allure.dynamic.feature(kw["area"])
    allure.dynamic.story(kw["id"])
    allure.dynamic.link(kw["doc"], name="documentation")


def pytest_runtest_call(item: pytest.Item) -> None:
    """The report title: id and what is checked (set now: allure names tests after setup)."""
    marker = item.get_closest_marker("swarmcheck")
    if marker is not None:
        allure.dynamic.title(f"{marker.kwargs['id']}: {marker.kwargs.get('title') or item.name}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    record_outcome(item, report)
    if report.when == "call":
        figures = figures_of(item)
        if figures:
            allure.attach(json.dumps(figures, indent=2), "figures", allure.attachment_type.JSON)
    if report.failed and report.when in ("call", "setup"):
        cluster = item.stash.get(CLUSTER_KEY, None)
        if cluster is not None:
            attach_diagnostics(cluster)
    return report


def attach_state(cluster: Cluster, suffix: str = "") -> None:
    """The node list and every service's tasks, as `docker node ls` / `service ps` show them."""
    try:
        nodes = cluster.node_list()
        allure.attach(
            "\n".join(
                f"{n.hostname:10} {n.role:8} {n.state:8} {n.availability:7} "
                f"{'Leader' if n.leader else (n.reachability or '')}"
                for n in nodes
            ),
            f"node list{suffix}",
            allure.attachment_type.TEXT,
        )
        lead = cluster.client(cluster.leader())
        lines = []
        for service in lead.services():
            for t in lead.tasks(service.name):
                lines.append(
                    f"{service.name}.{t.slot} {t.node_id[:10]} {t.image} "
                    f"{t.desired_state}/{t.state} {t.error or ''}"
                )
        allure.attach(
            "\n".join(lines) or "(no services)",
            f"service tasks{suffix}",
            allure.attachment_type.TEXT,
        )
    except SwarmcheckError as exc:
        allure.attach(
            f"could not read the cluster state: {exc}",
            f"cluster state{suffix}",
            allure.attachment_type.TEXT,
        )


def attach_diagnostics(cluster: Cluster) -> None:
    """On failure: the cluster state and each node daemon's log tail."""
    attach_state(cluster)
    for node in cluster.nodes:
        allure.attach(
            node.daemon_log_tail(80), f"dockerd log: {node.name}", allure.attachment_type.TEXT
        )
