"""pytest-xdist: one swarm per worker, and tests of one cluster shape kept together.

Every worker is its own pytest session: its own ClusterPool, clusters with their own run ids
(container names, socket directories), networks on subnets no other process holds (the
choice is serialised across processes, cluster/network.py), Allure result files with unique
names, no JUnit file (the controller writes it). What xdist does not give for free is
keeping the bring-ups few: a swarm takes seconds to come up and the pool reuses it only for
the next test of the same shape, so tests of one shape should run one after another on one
worker, yet a shape with many tests should still use every worker.

Hence a scheduler (``ShapeScheduling``, used when ``-n`` is given without ``--dist``): each
worker, at the end of its collection, splits the swarm tests of every shape (in collection
order) into contiguous chunks, one chunk per worker but at least ``MIN_CHUNK`` tests each, and
writes nodeid -> chunk to a file the controller reads when that worker's collection arrives.
Chunks are xdist scopes (largest first), so each worker brings up a cluster per chunk it
takes, not per test; tests that need no pooled cluster (fresh_cluster, plain tests) are
scheduled one by one. ``--dist loadgroup`` with one xdist_group per shape was the other
candidate: it keeps every test of a shape on one worker, so a suite of mostly one shape
would run on one worker. A session without swarm tests writes no file and is scheduled
exactly as xdist's default (``load``) would.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.plugin.keys import SETTINGS_KEY
from swarmcheck.plugin.roles import worker_count

MIN_CHUNK = 6
"""Tests per chunk at least: an extra bring-up (seconds) for fewer than this is not worth it."""
POOLED_FIXTURE = "cluster"


def groups_dir(testrunuid: str) -> Path:
    return Path(tempfile.gettempdir()) / f"swarmcheck-xdist-{os.getuid()}-{testrunuid}"


def shape_key(spec: ClusterSpec) -> str:
    return f"{spec.managers}m{spec.workers}w" + ("+faults" if spec.control_plane_proxy else "")


def chunk_groups(
    shapes: Sequence[tuple[str, str | None]], workers: int, min_chunk: int = MIN_CHUNK
) -> dict[str, str]:
    """nodeid -> group for (nodeid, shape key or None) in run order: each shape's tests in
    contiguous chunks of near-equal size, as many as workers but at least ``min_chunk``
    tests each; tests without a shape get no group."""
    by_shape: dict[str, list[str]] = {}
    for nodeid, shape in shapes:
        if shape is not None:
            by_shape.setdefault(shape, []).append(nodeid)
    groups: dict[str, str] = {}
    for shape, nodeids in by_shape.items():
        chunks = max(1, min(workers, len(nodeids) // min_chunk))
        size, extra = divmod(len(nodeids), chunks)
        start = 0
        for index in range(chunks):
            end = start + size + (1 if index < extra else 0)
            for nodeid in nodeids[start:end]:
                groups[nodeid] = f"swarm:{shape}:{index + 1}"
            start = end
    return groups


def write_groups(config: pytest.Config, items: Sequence[pytest.Item]) -> None:
    """Worker side, end of collection: the chunks of this collection, for the controller."""
    from swarmcheck.plugin.session import shape_of

    workerinput: dict[str, Any] = config.workerinput  # type: ignore[attr-defined]
    default = config.stash[SETTINGS_KEY].cluster
    shapes = [
        (
            item.nodeid,
            shape_key(shape_of(item, default))
            if POOLED_FIXTURE in getattr(item, "fixturenames", ())
            else None,
        )
        for item in items
    ]
    folder = groups_dir(str(workerinput["testrunuid"]))
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / f"{workerinput['workerid']}.json"
    partial = target.with_suffix(".partial")
    partial.write_text(json.dumps(chunk_groups(shapes, worker_count(config))))
    partial.replace(target)


def read_groups(testrunuid: str, workerid: str) -> dict[str, str]:
    """Controller side: the chunks a worker wrote ({} for a session without swarm tests)."""
    try:
        data = json.loads((groups_dir(testrunuid) / f"{workerid}.json").read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _dist_chosen(config: pytest.Config) -> bool:
    """Whether the user named a --dist mode (then it is theirs, not ours to change)."""
    args = [
        *config.invocation_params.args,
        *config.getini("addopts"),
        *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
    ]
    return any(a == "--dist" or str(a).startswith("--dist=") for a in args)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """-n without --dist: ShapeScheduling (xdist's own ``load`` for sessions without swarm
    tests)."""
    if config.getvalue("dist") != "load" or _dist_chosen(config):
        return None
    from swarmcheck.plugin.scheduling import ShapeScheduling

    def cleanup() -> None:
        if scheduler.testrunuid:
            shutil.rmtree(groups_dir(scheduler.testrunuid), ignore_errors=True)

    scheduler = ShapeScheduling(config, log)
    config.add_cleanup(cleanup)
    return scheduler
