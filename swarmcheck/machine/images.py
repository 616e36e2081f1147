"""Images without a registry: the node image of each engine (a Docker engine from Debian, or a
user's dind image already loaded) and the workload.

Each image built here carries the hash of its recipe as a label (``machine.recipes``); it is
built once and rebuilt only when the recipe changes. Nothing is ever pulled.
"""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
import tarfile
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from pathlib import Path

import docker

from swarmcheck.client.errors import translated
from swarmcheck.config import DEBIAN_SUITE, ENGINE_IMAGE
from swarmcheck.errors import (
    DISK_FULL_FIX,
    ConfigError,
    EnvironmentProblem,
    ImageBuildError,
    NotFound,
    is_disk_full,
)
from swarmcheck.machine.debian import apt_install
from swarmcheck.machine.recipes import digest, ensure_image
from swarmcheck.progress import run_with_progress
from swarmcheck.recipes import recipe as recipe_file
from swarmcheck.spec import DEBIAN_ENGINES, DEBIAN_ORDER, ClusterSpec, is_debian
from swarmcheck.timing import Stopwatch

log = logging.getLogger("swarmcheck.images")

NODE_REPO = "swarmcheck/node"
WORKLOAD_REPO = "swarmcheck/workload"
WORKLOAD_VERSIONS = ("v1", "v2")
WORKLOAD_PORT = 8080
MMDEBSTRAP_TIMEOUT_S = 900.0


def node_entrypoint() -> bytes:
    """The entrypoint script copied into every node container (ours or a user's dind image)."""
    return recipe_file("node", "entrypoint.sh").read_bytes()


def _recipe_lines(path: Traversable) -> list[str]:
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@dataclass(frozen=True)
class NodeImage:
    """A node image and the engine version it runs (known once a node has started)."""

    ref: str
    built_here: bool


def ensure_node_image(client: docker.DockerClient, suite: str = "bookworm") -> NodeImage:
    """Build (once) a node image with Debian ``suite``'s Docker engine; return its reference."""
    if suite not in DEBIAN_ENGINES:
        raise ConfigError(
            f"unknown Debian suite {suite!r} for the node image; choose one of "
            f"{', '.join(f'{s} (Docker {v})' for s, v in DEBIAN_ENGINES.items())}, "
            f"or give a dind-capable image instead ({ENGINE_IMAGE.flag})"
        )
    packages = _recipe_lines(recipe_file("node", "packages.txt"))
    if suite != "bookworm":
        packages.append("docker-cli")
    ref = f"{NODE_REPO}:{suite}"

    def build(scratch: Path) -> Path:
        _need_tool("mmdebstrap")
        log.warning(
            "building node image %s (Debian %s, Docker %s) with mmdebstrap: once per recipe, "
            "30-90 s",
            ref,
            suite,
            DEBIAN_ENGINES[suite],
        )
        clock = Stopwatch()
        rootfs = scratch / "rootfs.tar"
        cmd = ["mmdebstrap", "--variant=minbase", f"--include={','.join(packages)}"]
        if suite == "sid":  # sid's Release file may be past its Valid-Until in mirrors
            cmd.append('--aptopt=Acquire::Check-Valid-Until "false"')
        cmd += [suite, str(rootfs)]
        done = run_with_progress(cmd, f"mmdebstrap ({suite})", log, timeout_s=MMDEBSTRAP_TIMEOUT_S)
        if done.returncode != 0:
            why = (
                f"timed out after {MMDEBSTRAP_TIMEOUT_S:.0f} s"
                if done.timed_out
                else f"exit {done.returncode}"
            )
            fix = f"\n{DISK_FULL_FIX}" if is_disk_full(done.tail) else ""
            raise ImageBuildError(
                f"mmdebstrap failed for the {suite} node image ({why}):\n{done.tail}{fix}"
            )
        log.warning("node image %s: root file system in %.0f s, importing it", ref, clock())
        return rootfs

    recipe = digest("node", suite, *packages)[:16]
    built = ensure_image(client, ref, recipe, ["CMD []"], build)
    return NodeImage(ref=ref, built_here=built)


def ensure_workload_images(client: docker.DockerClient) -> tuple[str, ...]:
    """Build (once) the v1 and v2 workload images: busybox httpd answering its version."""
    serve = recipe_file("workload", "serve.sh").read_bytes()
    applets = _recipe_lines(recipe_file("workload", "applets.txt"))
    busybox = _static_busybox()
    recipe = digest("workload", serve, *applets, hashlib.sha256(busybox.read_bytes()).hexdigest())[
        :16
    ]
    changes = ["ENV PATH=/bin", f"EXPOSE {WORKLOAD_PORT}", 'CMD ["/bin/sh", "/serve.sh"]']
    refs = []
    for version in WORKLOAD_VERSIONS:
        ref = f"{WORKLOAD_REPO}:{version}"
        refs.append(ref)

        def build(scratch: Path, ref: str = ref, version: str = version) -> bytes:
            log.warning("building workload image %s from busybox-static", ref)
            return _workload_tar(busybox, applets, serve, version)

        ensure_image(client, ref, recipe, changes, build)
    return tuple(refs)


def _workload_tar(busybox: Path, applets: list[str], serve: bytes, version: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add_file(name: str, content: bytes, mode: int) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(content), mode, 0
            tar.addfile(info, io.BytesIO(content))

        for folder in ("bin", "www", "tmp"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder == "tmp" else 0o755
            tar.addfile(info)
        add_file("bin/busybox", busybox.read_bytes(), 0o755)
        for applet in applets:
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        add_file("serve.sh", serve, 0o755)
        add_file("www/index.html", f"{version}\n".encode(), 0o644)
        add_file("version", f"{version}\n".encode(), 0o644)
    return buf.getvalue()


def _static_busybox() -> Path:
    path = Path("/bin/busybox")
    if not path.exists() or b"statically linked" not in _file_kind(path):
        apt_install("busybox-static", why=_BUILD_HINT)
    if not path.exists():
        raise ImageBuildError(
            "busybox-static is needed for the workload image: apt-get install busybox-static"
        )
    return path


_BUILD_HINT = f"install it, or give a ready dind image ({ENGINE_IMAGE.flag})"


def _file_kind(path: Path) -> bytes:
    # No `file` command needed: a static ELF has no PT_INTERP program header.
    data = path.read_bytes()[:4096]
    return b"statically linked" if b"ld-linux" not in data else b"dynamic"


def _need_tool(tool: str) -> None:
    if shutil.which(tool) is None:
        apt_install(tool, why=_BUILD_HINT)
    if shutil.which(tool) is None:
        raise ImageBuildError(f"{tool} is needed to build images: apt-get install {tool}")


def image_tars(client: docker.DockerClient, refs: tuple[str, ...]) -> tuple[bytes, ...]:
    """`docker save` of each image, to load into every node without a registry."""
    with translated():
        return tuple(b"".join(client.api.get_image(ref)) for ref in refs)


def engine_image(host: docker.DockerClient, engine: str) -> str:
    """The node image that runs ``engine``: built once from Debian packages for a suite,
    otherwise the given dind image, which must already be in the local engine (no registry)."""
    if is_debian(engine):
        return ensure_node_image(host, engine).ref
    try:
        with translated("the host"):
            host.images.get(engine)
    except NotFound as exc:
        raise EnvironmentProblem(
            f"the engine image {engine} is not in the local engine and no registry can be "
            f"reached here: load it first (`docker load -i IMAGE.tar`, or `docker build -t "
            f"{engine} ...` on this machine), or name a Debian suite instead "
            f"({DEBIAN_SUITE.flag}: {', '.join(DEBIAN_ORDER)}) to build the node image from "
            "Debian's packages"
        ) from exc
    return engine


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


@dataclass
class ClusterImages:
    """What every cluster of a run uses: the node image and the workload images."""

    node: str
    workload: tuple[str, ...]
    workload_tars: tuple[bytes, ...] = field(repr=False)
    engines: dict[str, str] = field(default_factory=dict)
    """Node images of other engines (mixed-version swarms, upgrades): engine -> image."""

    def image_for(self, engine: str | None) -> str:
        """The node image of ``engine`` (the run's node image when it is not another one)."""
        return self.engines.get(engine, self.node) if engine else self.node


def prepare_images(host: docker.DockerClient, spec: ClusterSpec) -> ClusterImages:
    """Build (once) or find the node image of ``spec``'s engine (and of each engine its nodes
    run) and the workload images, and save the workload for loading into nodes."""
    node = engine_image(host, spec.engine)
    workload = ensure_workload_images(host)
    prepared = ClusterImages(node, workload, image_tars(host, workload))
    return add_engine_images(host, prepared, spec)


def add_engine_images(
    host: docker.DockerClient, prepared: ClusterImages, spec: ClusterSpec
) -> ClusterImages:
    """Find or build the node image of every engine ``spec``'s nodes run that ``prepared``
    does not hold yet (a mixed-version swarm); return ``prepared``, completed."""
    if spec.engines:
        for engine in spec.node_engines():
            if engine not in prepared.engines:
                prepared.engines[engine] = engine_image(host, engine)
    return prepared


def workload_image(version: str = "v1") -> str:
    return f"{WORKLOAD_REPO}:{version}"
