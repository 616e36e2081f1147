"""Removal of everything a run made, and a sweep of what killed runs left behind."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import docker

from swarmcheck import labels
from swarmcheck.client.errors import translated
from swarmcheck.cluster import sockets
from swarmcheck.cluster.kept import (
    KeptCluster,
    KeptJudgement,
    expired_note,
    judge_kept,
    kept_runs,
    removable,
)
from swarmcheck.errors import EngineAPIError, NotFound

log = logging.getLogger("swarmcheck.reaper")


@dataclass(frozen=True)
class Removed:
    containers: int = 0
    networks: int = 0
    volumes: int = 0
    socket_dirs: int = 0

    def __bool__(self) -> bool:
        return bool(self.containers or self.networks or self.volumes or self.socket_dirs)

    def __str__(self) -> str:
        return (
            f"{self.containers} containers, {self.networks} networks, {self.volumes} volumes, "
            f"{self.socket_dirs} node socket directories"
        )


def remove_run(host: docker.DockerClient, run_id: str) -> Removed:
    """Remove the containers, then networks and volumes, labelled with ``run_id``, and the
    run's node socket directory."""
    removed = _remove(host, lambda lab: lab.get(labels.RUN) == run_id)
    return replace(removed, socket_dirs=int(sockets.remove_run_dir(run_id)))


@dataclass(frozen=True)
class Sweep:
    """What a sweep removed, and the kept runs it left or removed (their time over)."""

    removed: Removed
    kept: KeptJudgement
    at: float
    """When it ran (seconds since the epoch)."""


def sweep_stale(host: docker.DockerClient, now: float | None = None) -> Sweep:
    """Remove objects of runs whose process is gone (killed, Ctrl-C'd twice, crashed), except
    clusters kept after a failed check whose time is not over (``kept.KEEP_S``)."""
    at = time.time() if now is None else now
    kept = judge_kept(kept_runs(host, ended=True), at)
    left = kept.left_ids
    removed = _remove(host, lambda lab: removable(lab, left))
    removed = replace(removed, socket_dirs=sockets.sweep_run_dirs(leave=left))
    if removed:
        log.warning("swept leftovers of earlier runs: %s", removed)
    for gone in kept.expired:
        log.warning("%s", expired_note(gone))
    return Sweep(removed, kept, at)


def remove_kept(host: docker.DockerClient) -> list[tuple[KeptCluster, Removed]]:
    """Remove every cluster kept after a failed check, whatever its age."""
    return [(k, remove_run(host, k.run_id)) for k in kept_runs(host)]


def _remove(host: docker.DockerClient, match: Callable[[dict[str, str]], bool]) -> Removed:
    flt = {"label": labels.RUN}
    # sparse: no inspect per container, which fails when another run (another helper, an
    # xdist worker) removes one of its containers between the list and the inspect.
    with translated("the host"):
        listed = host.containers.list(all=True, filters=flt, sparse=True)
    containers = [c for c in listed if match(_labels(c.attrs))]
    removed_containers = sum(
        _gone(functools.partial(c.remove, force=True, v=True)) for c in containers
    )
    with translated("the host"):
        networks = [n for n in host.networks.list(filters=flt) if match(_labels(n.attrs))]
    removed_networks = sum(_gone(n.remove) for n in networks)
    with translated("the host"):
        volumes = [v for v in host.volumes.list(filters=flt) if match(_labels(v.attrs))]
    removed_volumes = sum(_gone(functools.partial(v.remove, force=True)) for v in volumes)
    return Removed(removed_containers, removed_networks, removed_volumes)


def _labels(attrs: dict[str, Any]) -> dict[str, str]:
    return dict(attrs.get("Labels") or {})


def _gone(remove: Callable[[], object]) -> bool:
    """Remove one object; False if it was already gone (another sweep got there first)."""
    try:
        with translated("the host"):
            remove()
    except NotFound:
        return False
    return True


def remove_images(
    host: docker.DockerClient, recipe: str | None = None
) -> tuple[list[str], list[str]]:
    """Remove every image swarmcheck built (labelled with its recipe), or only those of one
    ``recipe``: (removed, kept in use).

    Images a live run's containers still use are kept; the next `swarmcheck setup` rebuilds
    what was removed.
    """
    removed: list[str] = []
    in_use: list[str] = []
    wanted = labels.RECIPE if recipe is None else f"{labels.RECIPE}={recipe}"
    with translated("the host"):
        built = host.images.list(filters={"label": wanted})
    for image in built:
        name = image.tags[0] if image.tags else image.short_id
        try:
            with translated():
                host.images.remove(image.id, force=False, noprune=False)
            removed.append(name)
        except NotFound:
            continue
        except EngineAPIError as exc:
            if exc.status_code != 409:  # 409: a container uses it
                raise
            in_use.append(name)
    return removed, in_use
