"""--swarm=existing end to end: the non-destructive conformance checks against a swarm started
outside the plugin (``outside_swarm``: three dind managers whose engines listen only with
mutual TLS on their own address), reached through a Docker context and engine URLs; the swarm
must be exactly as it was found afterwards, and nothing swarmcheck made may remain on it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.context import ContextAPI

from swarmcheck.catalog.model import RESET_EFFECTS
from swarmcheck.plugin.catalog import collect_checks
from tests.e2e import outside_swarm
from tests.e2e.outside_swarm import Lab

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 2400.0
KNOWN_WEAK = {
    "SC-UPD-005": "polls the update status and can miss the short rollback_started state when "
    "the manager answers over the network (it should read the service's events)",
}
"""Checks that may fail here for a weakness of their own, not of the existing-swarm mode; any
other failure fails this test."""
EXPECTED_SKIPS = ("on an existing swarm: ", "needs ipvs", "expected failure (xfail): engines ")
"""Why a check may skip here: what an existing swarm cannot offer (node containers, a swarm
of its own, faults, destructive checks, another shape), the kernel's missing IPVS, or a known
engine defect its strict xfail marker names (SC-HEAL-009 runs here; a fixed engine would
make it fail as an unexpected pass)."""


@pytest.fixture(scope="module")
def lab(host: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with outside_swarm.running(host, tmp_path_factory.mktemp("lab")) as started:
        yield started


@pytest.fixture
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A DOCKER_CONFIG of this test's own, so the contexts it makes are nobody else's."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # docker-py finds contexts beside a config file
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    return folder


def test_non_destructive_checks_leave_an_existing_swarm_as_found(
    lab: Lab, docker_config: Path, tmp_path: Path, host: docker.DockerClient
) -> None:
    ContextAPI.create_context(
        "lab1", host=lab.url("lab1"), tls_cfg=outside_swarm.tls(lab.client_dir)
    )
    before = outside_swarm.state(lab)
    reports = tmp_path / "reports"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "suites/conformance",
        "-p",
        "no:cacheprovider",
        "--swarm=existing",
        f"--swarm-existing=lab1,{lab.url('lab2')},{lab.url('lab3')}",
        f"--swarm-existing-tls={lab.client_dir}",
        "-k",
        "not destructive or SC-TOK-004",  # one destructive check (it rotates a token)
        f"--swarm-reports={reports}",
        f"--alluredir={reports / 'allure-results'}",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOCKER_CONFIG": str(docker_config)}
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    (tmp_path / "pytest.log").write_text(done.stdout + done.stderr)
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-60:])
    tail += "\n--- the lab's node containers ---\n" + outside_swarm.node_health(host, lab)
    assert done.returncode in (0, 1), f"the run against the existing swarm broke:\n{tail}"

    outcomes = json.loads((reports / "outcomes.json").read_text())["outcomes"]
    counts = Counter(o["status"] for o in outcomes)
    assert counts["passed"] >= 40, f"too few checks ran on the existing swarm: {counts}"
    failing = {
        o["id"]: o["reason"]
        for o in outcomes
        if o["status"] in ("failed", "error") and o["id"] not in KNOWN_WEAK
    }
    assert not failing, f"checks failed on the existing swarm: {failing}\n{tail}"
    for o in outcomes:
        if o["status"] == "skipped":
            assert str(o["reason"]).startswith(EXPECTED_SKIPS), (o["id"], o["reason"])
    rotation = next(o for o in outcomes if o["id"] == "SC-TOK-004")
    assert rotation["status"] == "skipped", rotation
    assert "--swarm-allow-destructive" in rotation["reason"], rotation
    # Only what the user allowed ran: every check that ran declares effects the reset puts back.
    effects = {c.id: set(c.effects) for c in collect_checks(ROOT / "suites")}
    ran = {o["id"] for o in outcomes if o["status"] in ("passed", "failed", "error")}
    beyond = {i: sorted(effects[i] - RESET_EFFECTS) for i in ran if effects[i] - RESET_EFFECTS}
    assert not beyond, f"checks with effects the user did not allow ran: {beyond}"

    after = outside_swarm.state(lab)
    changed = {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert not changed, f"the run changed the existing swarm: {changed}"
    assert outside_swarm.labelled(lab) == [], "objects labelled by swarmcheck remain"
