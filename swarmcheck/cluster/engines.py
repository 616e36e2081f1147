"""Engines under test: a Debian suite (its docker.io package) or any dind-capable image.

A run tests one engine; mixed-version swarms and rolling engine upgrades need several. This
module names them, orders the Debian ones (older to newer, so an upgrade has a natural "from")
and finds or builds the node image of each.
"""

from __future__ import annotations

import docker

from swarmcheck.client.errors import translated
from swarmcheck.cluster.cluster import ClusterImages
from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.errors import ConfigError, EnvironmentProblem, NotFound
from swarmcheck.machine import images

DEBIAN_ORDER = ("bookworm", "trixie", "sid")
"""Debian suites from the oldest Docker engine to the newest (20.10, 26.1, 28.5)."""
NO_OLDER_ENGINE = "no older engine than the one under test"
"""How the skip of a check that needs an older engine (mixed versions, upgrades) begins when
the run has none: a property of the run, not a behaviour of its engine (the matrix does not
count it as a difference)."""


def is_debian(engine: str) -> bool:
    return engine in images.DEBIAN_ENGINES


def describe(engine: str) -> str:
    """``bookworm (Docker 20.10)`` for a Debian suite, the image reference otherwise."""
    if is_debian(engine):
        return f"{engine} (Docker {images.DEBIAN_ENGINES[engine]})"
    return engine


def label(spec: ClusterSpec) -> str:
    """The engine a run tests, as reports name it: ``trixie (Docker 26.1)``, an image, or each
    node's engine for a mixed-version default cluster."""
    if spec.mixed:
        return ", ".join(describe(e) for e in spec.node_engines())
    return describe(spec.engine)


def previous_engine(engine: str) -> str | None:
    """The Debian suite whose engine precedes ``engine``'s (None: none known)."""
    if engine not in DEBIAN_ORDER:
        return None
    index = DEBIAN_ORDER.index(engine)
    return DEBIAN_ORDER[index - 1] if index > 0 else None


def parse_engines(text: str, what: str) -> tuple[str, ...]:
    """``bookworm,trixie,my/dind:28`` -> the engines; ConfigError naming ``what`` when empty."""
    engines = tuple(e.strip() for e in text.split(",") if e.strip())
    if not engines:
        raise ConfigError(
            f"{what} is empty: give Debian suites ({', '.join(DEBIAN_ORDER)}) or dind images, "
            "separated by commas"
        )
    return engines


def looks_like_engine(engine: str) -> bool:
    """A Debian suite we know, or something shaped like an image reference (repo[:tag])."""
    return is_debian(engine) or "/" in engine or ":" in engine


def missing_images(host: docker.DockerClient, engines: list[str]) -> list[str]:
    """The engines given as an image that the local engine does not hold (no registry is
    reached here); Debian suites are never missing: their node image is built on demand."""
    missing = []
    for engine in engines:
        if is_debian(engine):
            continue
        try:
            with translated():
                host.images.get(engine)
        except NotFound:
            missing.append(engine)
    return missing


def engine_image(host: docker.DockerClient, engine: str) -> str:
    """The node image that runs ``engine``: built once from Debian packages for a suite,
    otherwise the given image, which must already be in the local engine (no registry)."""
    if is_debian(engine):
        return images.ensure_node_image(host, engine).ref
    if not looks_like_engine(engine):
        raise ConfigError(
            f"engine {engine!r} is neither a Debian suite ({', '.join(DEBIAN_ORDER)}) nor an "
            "image reference (e.g. my/dind:28)"
        )
    try:
        with translated():
            host.images.get(engine)
    except NotFound as exc:
        raise EnvironmentProblem(
            f"engine image {engine} is not in the local engine and no registry can be reached "
            "here: `docker load` or `docker build` it first"
        ) from exc
    return engine


def add_engine_images(
    host: docker.DockerClient, prepared: ClusterImages, spec: ClusterSpec
) -> ClusterImages:
    """Find or build the node image of every engine ``spec``'s nodes run that ``prepared``
    does not hold yet (a mixed-version swarm); return ``prepared``, completed."""
    for engine in spec.node_engines():
        if engine not in prepared.engines:
            prepared.engines[engine] = engine_image(host, engine)
    return prepared
