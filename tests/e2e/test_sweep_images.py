"""`swarmcheck sweep --images` gives back the disk of the images swarmcheck built: every image
labelled with a recipe goes, except one a container still uses (a live run's node).

Checked on images made here with a recipe of their own, so the images other runs use stay.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import docker
import pytest
from docker.errors import ImageNotFound

from swarmcheck import labels
from swarmcheck.cluster import reaper

pytestmark = pytest.mark.e2e

BASE = "swarmcheck/workload:v1"


@pytest.fixture
def probe_recipe(host: docker.DockerClient) -> Iterator[str]:
    """Two images built from the workload image with a recipe label only this test uses; one
    of them held by a created container. Whatever is left is removed after."""
    recipe = f"sweep-probe-{os.getpid()}"
    base = host.containers.create(BASE, labels={"io.swarmcheck.test": "sweep-images"})
    held = None
    try:
        for tag in ("free", "held"):
            base.commit(
                repository="swarmcheck/sweep-probe",
                tag=f"{tag}-{os.getpid()}",
                changes=[f"LABEL {labels.RECIPE}={recipe}"],
            )
        held = host.containers.create(
            f"swarmcheck/sweep-probe:held-{os.getpid()}",
            labels={"io.swarmcheck.test": "sweep-images"},
        )
        yield recipe
    finally:
        base.remove()
        if held is not None:
            held.remove()
        for tag in ("free", "held"):
            with contextlib.suppress(ImageNotFound):
                host.images.remove(f"swarmcheck/sweep-probe:{tag}-{os.getpid()}", force=True)


def test_sweep_images_removes_built_images_but_not_one_in_use(
    host: docker.DockerClient, probe_recipe: str
) -> None:
    removed, kept = reaper.remove_images(host, recipe=probe_recipe)
    pid = os.getpid()
    assert removed == [f"swarmcheck/sweep-probe:free-{pid}"]
    assert kept == [f"swarmcheck/sweep-probe:held-{pid}"]
    left = host.images.list(filters={"label": f"{labels.RECIPE}={probe_recipe}"})
    assert [t for image in left for t in image.tags] == [f"swarmcheck/sweep-probe:held-{pid}"]
