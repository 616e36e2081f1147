"""Removal of everything a run made, and a sweep of what killed runs left behind."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import docker

from swarmcheck import labels
from swarmcheck.client.errors import translated
from swarmcheck.cluster import sockets
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


def sweep_stale(host: docker.DockerClient) -> Removed:
    """Remove objects of runs whose process is gone (killed, Ctrl-C'd twice, crashed)."""
    removed = _remove(host, lambda lab: not labels.owner_alive(lab))
    removed = replace(removed, socket_dirs=sockets.sweep_run_dirs())
    if removed:
        log.warning("swept leftovers of earlier runs: %s", removed)
    return removed


def _remove(host: docker.DockerClient, match: object) -> Removed:
    assert callable(match)
    flt = {"label": labels.RUN}
    containers = networks = volumes = 0
    # sparse: no inspect per container, which fails when another run (another helper, an
    # xdist worker) removes one of its containers between the list and the inspect.
    for c in host.containers.list(all=True, filters=flt, sparse=True):
        if match(c.attrs.get("Labels") or {}):
            try:
                c.remove(force=True, v=True)
                containers += 1
            except docker.errors.NotFound:
                pass
    for n in host.networks.list(filters=flt):
        if match(n.attrs.get("Labels") or {}):
            try:
                n.remove()
                networks += 1
            except docker.errors.NotFound:
                pass
    for v in host.volumes.list(filters=flt):
        if match(v.attrs.get("Labels") or {}):
            try:
                v.remove(force=True)
                volumes += 1
            except docker.errors.NotFound:
                pass
    return Removed(containers, networks, volumes)


def remove_images(host: docker.DockerClient) -> tuple[list[str], list[str]]:
    """Remove every image swarmcheck built (labelled with its recipe): (removed, kept in use).

    Images a live run's containers still use are kept; the next `swarmcheck setup` rebuilds
    what was removed.
    """
    removed: list[str] = []
    in_use: list[str] = []
    for image in host.images.list(filters={"label": labels.RECIPE}):
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
