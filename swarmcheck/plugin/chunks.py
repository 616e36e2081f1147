"""The chunks of swarm tests of one cluster shape, which the xdist scheduler keeps together:
each worker writes them at the end of its collection, the controller reads them (see
plugin/xdist.py for why)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from swarmcheck.plugin.keys import SETTINGS_KEY
from swarmcheck.plugin.markers import shape_of
from swarmcheck.plugin.roles import worker_count
from swarmcheck.spec import ClusterSpec

MIN_CHUNK = 6
"""Tests per chunk at least: an extra bring-up (seconds) for fewer than this is not worth it."""
POOLED_FIXTURE = "swarm_cluster"


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
