"""Images built from a recipe, without a registry: the digest, the label, the import, the lock.

Every image swarmcheck builds (the node image, the workload images, the Toxiproxy image)
carries the digest of what it was built from in the ``io.swarmcheck.recipe`` label. An image
whose label matches is reused at once; otherwise it is built under a machine-wide lock (so
parallel processes build it once) and imported as a one-layer image (``docker import``), and
the image it replaced is removed.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import docker

from swarmcheck import labels
from swarmcheck.cache import cache_dir, file_lock
from swarmcheck.client.errors import translated
from swarmcheck.errors import DISK_FULL_FIX, EngineAPIError, ImageBuildError, NotFound

log = logging.getLogger("swarmcheck.images")

Source = Path | bytes
"""A root file system to import: a tar file, or the tar's bytes."""


def digest(*parts: bytes | str) -> str:
    """SHA-256 (hex) of the parts, each followed by a NUL so ("ab", "c") != ("a", "bc")."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def recipe_of(client: docker.DockerClient, ref: str) -> str | None:
    """The recipe label of image ``ref`` on the engine; None if the image or label is absent."""
    try:
        with translated():
            image = client.images.get(ref)
    except NotFound:
        return None
    except EngineAPIError as exc:
        raise ImageBuildError(f"cannot inspect image {ref}: {exc}") from exc
    return (image.labels or {}).get(labels.RECIPE)


def import_image(
    client: docker.DockerClient, src: Source, ref: str, recipe: str, changes: Sequence[str]
) -> None:
    """``docker import`` ``src`` as ``ref`` with ``changes`` and the recipe label, check the
    label landed, and remove the image ``ref`` named before (rebuilds must not pile up)."""
    repo, tag = ref.rsplit(":", 1)
    old = _image_id(client, ref)
    all_changes = [*changes, f"LABEL {labels.RECIPE}={recipe}"]
    try:
        with translated():
            if isinstance(src, bytes):
                client.api.import_image_from_data(
                    src, repository=repo, tag=tag, changes=all_changes
                )
            else:  # a path is streamed from the file, without a client-side timeout
                client.api.import_image(src=str(src), repository=repo, tag=tag, changes=all_changes)
    except EngineAPIError as exc:
        raise ImageBuildError(f"importing {ref} failed: {exc}") from exc
    found = recipe_of(client, ref)
    if found != recipe:
        raise ImageBuildError(
            f"imported {ref} but its {labels.RECIPE} label is {found!r}, expected {recipe!r}"
        )
    if old is not None and old != _image_id(client, ref):
        try:
            with translated():
                client.images.remove(old, noprune=False)
        except EngineAPIError as exc:  # still used by a container: it goes with that
            log.info("the replaced image %s of %s stays: %s", old[:19], ref, exc)


def ensure_image(
    client: docker.DockerClient,
    ref: str,
    recipe: str,
    changes: Sequence[str],
    build: Callable[[Path], Source],
) -> bool:
    """Make sure ``ref`` exists with ``recipe``; return True if it was built here.

    ``build(scratch)`` makes the root file system (in ``scratch``, a temporary folder removed
    afterwards). It runs under a lock per image, after a second look: a process that waited
    while another built the image does not build it again.
    """
    if recipe_of(client, ref) == recipe:
        return False
    lock = cache_dir("locks") / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', ref)}.lock"
    with file_lock(lock):
        if recipe_of(client, ref) == recipe:
            return False
        try:
            with tempfile.TemporaryDirectory(prefix="swarmcheck-image-") as scratch:
                import_image(client, build(Path(scratch)), ref, recipe, changes)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            raise ImageBuildError(
                f"building {ref}: the disk is full ({exc.strerror}: "
                f"{exc.filename or tempfile.gettempdir()}): {DISK_FULL_FIX}"
            ) from exc
    return True


def _image_id(client: docker.DockerClient, ref: str) -> str | None:
    try:
        with translated():
            return str(client.images.get(ref).id)
    except NotFound:
        return None
    except EngineAPIError as exc:
        raise ImageBuildError(f"cannot inspect image {ref}: {exc}") from exc
