"""The Toxiproxy server image, built locally because no container registry can be assumed.

Recipe: the real Shopify Toxiproxy server, pinned to :data:`TOXIPROXY_VERSION`, compiled as a
static binary (``CGO_ENABLED=0 go install <module>/cmd/server@v<version>``) and packed as the
only file of a FROM-scratch image, imported through the engine's ``/images/create`` endpoint
(``docker import``, see ``machine.recipes``). Two caches make this cheap after the first time
on a machine:

- the binary, under ``$XDG_CACHE_HOME/swarmcheck/toxiproxy/<version>/`` (default ``~/.cache``),
  so the Go build (about a minute) happens once per machine;
- the image, tagged ``swarmcheck/toxiproxy:<version>-<recipe hash>`` and labelled
  ``io.swarmcheck.recipe=<recipe hash>``, so an engine that already has it returns at once.

The recipe hash covers everything that changes the image (version, Go flags, image config), so
editing the recipe yields a new tag rather than silently reusing a stale image.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import docker

from swarmcheck.cache import cache_dir, is_built_binary
from swarmcheck.client.errors import translated
from swarmcheck.config import TOXIPROXY_IMAGE
from swarmcheck.errors import EngineAPIError, ImageBuildError
from swarmcheck.machine.recipes import digest, ensure_image
from swarmcheck.progress import run_with_progress
from swarmcheck.timing import Stopwatch

log = logging.getLogger("swarmcheck.images")

TOXIPROXY_VERSION = "2.12.0"
TOXIPROXY_MODULE = "github.com/Shopify/toxiproxy/v2"
TOXIPROXY_PACKAGE = f"{TOXIPROXY_MODULE}/cmd/server"
IMAGE_REPOSITORY = "swarmcheck/toxiproxy"
API_PORT = 8474

#: Bump when the recipe changes in a way the fields below do not capture.
_RECIPE_REVISION = 1
_BINARY_PATH_IN_IMAGE = "toxiproxy"
# -X sets the version the server reports on GET /version (otherwise "git"), as upstream's
# goreleaser config does; -s -w strip debug info (16 MB -> about 11 MB); -trimpath drops
# local paths so the binary does not depend on this machine's layout.
_GO_FLAGS = (
    "-trimpath",
    f"-ldflags=-s -w -X {TOXIPROXY_MODULE}.Version={TOXIPROXY_VERSION}",
)
_GO_ENV = {"CGO_ENABLED": "0", "GOOS": "linux"}
_IMAGE_CHANGES = (
    'ENTRYPOINT ["/toxiproxy"]',
    f'CMD ["-host=0.0.0.0","-port={API_PORT}"]',
    f"EXPOSE {API_PORT}",
    "ENV LOG_LEVEL=info",
)
_GO_BUILD_TIMEOUT_S = 15 * 60
_MIN_GO = "1.23"  # toxiproxy 2.12.0's go.mod says "go 1.23.0"


def _digest(payload: object) -> str:
    return digest(json.dumps(payload, sort_keys=True))


def _build_recipe() -> dict[str, object]:
    """What determines the binary (the Go toolchain version is deliberately left out)."""
    return {
        "package": TOXIPROXY_PACKAGE,
        "version": TOXIPROXY_VERSION,
        "go_flags": list(_GO_FLAGS),
        "go_env": _GO_ENV,
    }


def recipe_hash() -> str:
    """Full hash of the image recipe: build inputs, image layout and image config."""
    return _digest(
        {
            "revision": _RECIPE_REVISION,
            "build": _build_recipe(),
            "path": _BINARY_PATH_IN_IMAGE,
            "changes": list(_IMAGE_CHANGES),
        }
    )


def image_tag() -> str:
    """``swarmcheck/toxiproxy:<version>-<12 hex digits of the recipe hash>``."""
    return f"{IMAGE_REPOSITORY}:{TOXIPROXY_VERSION}-{recipe_hash()[:12]}"


def binary_cache_dir() -> Path:
    """Where built binaries are kept: ``$XDG_CACHE_HOME/swarmcheck/toxiproxy/<version>``."""
    return cache_dir("toxiproxy", TOXIPROXY_VERSION)


def ensure_toxiproxy_image(client: docker.DockerClient) -> str:
    """Return the tag of the Toxiproxy image, building and importing it first if needed.

    Returns at once when the engine already has the tag with this recipe. Otherwise builds the
    binary with Go (or reuses the one cached under :func:`binary_cache_dir`) and imports it as a
    one-file image; concurrent callers build it once (``recipes.ensure_image``).

    Raises:
        ImageBuildError: Go is missing or too old, the build or import failed, or the engine's
            architecture differs from the one Go builds for.
    """
    tag = image_tag()

    def build(scratch: Path) -> Path:
        binary = _ensure_binary(client, binary_cache_dir(), tag)
        rootfs = scratch / "rootfs.tar"
        _write_rootfs_tar(binary, rootfs)
        log.info("importing %s into the engine", tag)
        return rootfs

    if ensure_image(client, tag, recipe_hash(), _IMAGE_CHANGES, build):
        log.info("Toxiproxy image ready: %s", tag)
    return tag


def _engine_arch(client: docker.DockerClient) -> str:
    try:
        with translated():
            arch = client.version().get("Arch")
    except EngineAPIError as exc:
        raise ImageBuildError(f"cannot ask the engine for its architecture: {exc}") from exc
    if not isinstance(arch, str) or not arch:
        raise ImageBuildError("the engine did not report its architecture (version.Arch)")
    return arch


def _go_missing_message(tag: str, why: str) -> str:
    return (
        f"the Toxiproxy image {tag} is not on this engine and cannot be built: {why}.\n"
        f"Either install Go >= {_MIN_GO} (https://go.dev/dl/ ; it must be on PATH as `go`; "
        "the build needs the Go module proxy, ~1 minute once per machine),\n"
        "or pass an existing Toxiproxy 2.x server image whose entrypoint is the server, e.g. "
        f"{TOXIPROXY_IMAGE.flag}=ghcr.io/shopify/toxiproxy:{TOXIPROXY_VERSION} "
        "(load it first with `docker load` if no registry is reachable)."
    )


def _go_env_value(go: str, name: str) -> str:
    try:
        done = subprocess.run(
            [go, "env", name], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ImageBuildError(f"`{go} env {name}` failed: {exc}") from exc
    return done.stdout.strip()


def _ensure_binary(client: docker.DockerClient, directory: Path, tag: str) -> Path:
    arch = _engine_arch(client)
    build_hash = _digest({**_build_recipe(), "arch": arch})[:12]
    binary = directory / f"toxiproxy-server-linux-{arch}-{build_hash}"
    if is_built_binary(binary):
        log.info("using the cached Toxiproxy %s binary %s", TOXIPROXY_VERSION, binary)
        return binary
    go = _go_for(arch, tag)
    log.warning(
        "building Toxiproxy %s from the Go module proxy (once per machine, ~1 min)",
        TOXIPROXY_VERSION,
    )
    clock = Stopwatch()
    with tempfile.TemporaryDirectory(dir=directory, prefix=".gobin-") as gobin:
        built = _go_install(go, Path(gobin), tag)
        os.replace(built, binary)  # same file system: atomic
    log.warning(
        "built Toxiproxy %s in %.0fs; cached at %s",
        TOXIPROXY_VERSION,
        clock(),
        binary,
    )
    return binary


def _go_for(arch: str, tag: str) -> str:
    """The `go` command, if it builds for the engine's architecture."""
    go = shutil.which("go")
    if go is None:
        raise ImageBuildError(_go_missing_message(tag, "no `go` command on PATH"))
    go_arch = _go_env_value(go, "GOARCH")
    if go_arch != arch:
        raise ImageBuildError(
            f"the engine runs {arch} but Go builds for {go_arch}; swarmcheck does not "
            "cross-compile Toxiproxy. " + _go_missing_message(tag, "architecture mismatch")
        )
    return go


def _go_install(go: str, gobin: Path, tag: str) -> Path:
    """`go install` the server into ``gobin``; the binary it left there."""
    env = {**os.environ, **_GO_ENV, "GOBIN": str(gobin)}
    # -v names each package as it is compiled: the progress lines show how far it got
    command = [go, "install", "-v", *_GO_FLAGS, f"{TOXIPROXY_PACKAGE}@v{TOXIPROXY_VERSION}"]
    try:
        done = run_with_progress(
            command, "building Toxiproxy", log, timeout_s=_GO_BUILD_TIMEOUT_S, env=env
        )
    except OSError as exc:
        raise ImageBuildError(_go_missing_message(tag, f"cannot run {go}: {exc}")) from exc
    if done.timed_out:
        raise ImageBuildError(
            f"building Toxiproxy with `{' '.join(command)}` took more than "
            f"{_GO_BUILD_TIMEOUT_S}s (is the Go module proxy reachable?)"
        )
    if done.returncode != 0:
        raise ImageBuildError(
            f"building Toxiproxy failed (exit {done.returncode}): `{' '.join(command)}`\n"
            f"{done.tail}\n(Go >= {_MIN_GO} and access to the Go module proxy are needed; "
            f"or pass an existing image with {TOXIPROXY_IMAGE.flag}=<image>)"
        )
    built = gobin / "server"
    if not is_built_binary(built):
        raise ImageBuildError(f"`go install` succeeded but left no binary at {built}")
    return built


def _write_rootfs_tar(binary: Path, target: Path) -> None:
    """A root file system holding only ``/toxiproxy`` (static binary: needs nothing else)."""
    data = binary.read_bytes()
    info = tarfile.TarInfo(_BINARY_PATH_IN_IMAGE)
    info.size = len(data)
    info.mode = 0o755
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0  # reproducible tar
    with tarfile.open(target, "w") as tar:
        tar.addfile(info, io.BytesIO(data))
