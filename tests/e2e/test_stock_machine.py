"""End to end: the README's first command on a stock machine, in a clean container.

A stock Debian 12 and a stock Debian 13 are built from Debian's packages as the node image is
(``mmdebstrap --variant=standard``: what Debian installs as a standard system, with Python 3
but no venv module, no Java, no Node.js, no Docker), and a copy of this checkout (no .venv, no
reports) runs ``./run suites`` in each with a short selection of checks. Nothing is installed
by hand: ./run makes its virtual environment (installing python3-venv), installs docker.io and
starts dockerd, builds the node and workload images, runs the checks on a swarm and makes the
HTML report (installing npm, then Allure 3).

What the container adds, and why (a real machine needs none of it):
- to run a Docker engine inside a container, the node-container recipe of the platform notes:
  every capability but SYS_RESOURCE (``--privileged`` is refused here), seccomp and AppArmor
  unconfined, a device cgroup rule, a volume for /var/lib/docker, tmpfs /run and /tmp, and,
  first thing, writable /proc/sys, /sys and fresh cgroup v1 mounts (``prepare_script``);
- this workplace's network: the CA of its TLS-intercepting proxy (the host's
  /usr/local/share/ca-certificates, with ``PIP_CERT`` and npm's ``cafile`` pointing at the
  system bundle, as the host has them) and its apt settings for the Debian mirror
  (/etc/apt/apt.conf.d/99artifact-registry, when the host has it).

Ubuntu 24.04 is not tried: its packages come from Ubuntu's archive, which this machine cannot
reach (Debian's mirror is the only source of Debian-format packages here), so no stock Ubuntu
root can be built.

Each distribution takes several minutes (apt, PyPI and npm downloads, the node image build);
the per-step times are printed (``-s``) and the whole output is kept in
reports/tests/stock-<distribution>.log.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import re
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from docker.types import IPAMConfig, IPAMPool

from swarmcheck import labels
from swarmcheck.cluster import reaper
from swarmcheck.machine.recipes import digest, ensure_image
from swarmcheck.progress import run_with_progress
from swarmcheck.recipes import recipe

pytestmark = pytest.mark.e2e
LOG = logging.getLogger("swarmcheck.tests.stock")

ROOT = Path(__file__).resolve().parents[2]
STOCK_REPO = "swarmcheck-test/stock"
DISTRIBUTIONS = {"debian12": "bookworm", "debian13": "trixie"}
STOCK_PACKAGES = ("ca-certificates",)  # a standard install has it; minbase-based standard not
RUN_TIMEOUT_S = 2400.0
BUILD_TIMEOUT_S = 900.0
CHECKS = "SC-MEM-002 or SC-UPD-001 or SC-UPD-002"
"""A membership check, the rolling update with its plot, and the IPVS check (skips here)."""
STEP = re.compile(
    r"^\[ *\d+s\] (run: |swarmcheck: (installing|installed|building|no Docker|dockerd answers"
    r"|node image|set-up done|report at|\d+ tests?:)|=+ .*(passed|failed|error))"
)
"""The lines of ./run's output that say which step began or ended (with the time so far)."""
WORKPLACE_APT = Path("/etc/apt/apt.conf.d/99artifact-registry")
WORKPLACE_CAS = Path("/usr/local/share/ca-certificates")
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
IGNORED = (
    ".git", "reports", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache",
    ".ruff_cache", ".tox", ".venv", "node_modules",
)  # fmt: skip

PREPARE_TAIL = r"""
# This workplace's network: its TLS proxy's CA (copied in beside the checkout).
update-ca-certificates >/dev/null 2>&1
# What the machine has before ./run: the test checks these lines.
for tool in java node npm docker dockerd mmdebstrap; do
  if command -v "$tool" >/dev/null 2>&1; then has=has; else has=lacks; fi
  echo "STOCK $has $tool"
done
if python3 -c 'import ensurepip' 2>/dev/null; then has=has; else has=lacks; fi
echo "STOCK $has ensurepip"
echo "STOCK python $(python3 -V 2>&1)"
cd /src
start=$(date +%s)
set -o pipefail
status=0
./run suites "$@" 2>&1 | while IFS= read -r line; do
  printf '[%4ds] %s\n' "$(( $(date +%s) - start ))" "$line"
done || status=$?
echo "STOCK ./run exit $status after $(( $(date +%s) - start )) s"
exit "$status"
"""
"""What /prepare.sh does after the kernel mounts (``prepare_script``)."""


def writable_kernel_mounts() -> str:
    """The node entrypoint's remounts (/proc/sys, /sys, cgroup v1), taken from the recipe
    itself so the two cannot drift: the lines from its /proc/sys comment to its node name."""
    text = recipe("node", "entrypoint.sh").read_text()
    start, end = text.index("# /proc/sys and /sys"), text.index("node_name=")
    return text[start:end]


def prepare_script() -> bytes:
    """/prepare.sh: a container is not a machine, so first the node entrypoint's mounts that
    let it run a Docker engine; then the workplace's CA, what the machine lacks, ./run."""
    return ("#!/bin/bash\nset -eu\n" + writable_kernel_mounts() + PREPARE_TAIL).encode()


def build_stock_image(host: docker.DockerClient, suite: str) -> str:
    """A stock Debian ``suite`` as an image, built once per recipe (like the node image)."""
    ref = f"{STOCK_REPO}:{suite}"

    def build(scratch: Path) -> Path:
        rootfs = scratch / "rootfs.tar"
        cmd = ["mmdebstrap", "--variant=standard", f"--include={','.join(STOCK_PACKAGES)}"]
        done = run_with_progress(
            [*cmd, suite, str(rootfs)], f"mmdebstrap stock {suite}", LOG, timeout_s=BUILD_TIMEOUT_S
        )
        assert done.returncode == 0, f"mmdebstrap for stock {suite} failed:\n{done.tail}"
        return rootfs

    if shutil.which("mmdebstrap") is None:
        pytest.skip("mmdebstrap is not installed: the node image set-up installs it first")
    ensure_image(host, ref, digest("stock", suite, *STOCK_PACKAGES)[:16], ['CMD ["bash"]'], build)
    return ref


def checkout_tar() -> bytes:
    """This checkout as a fresh clone would have it (no venv, reports, caches), plus the
    preparation script and the workplace's CA certificates."""
    buffer = io.BytesIO()
    skip = shutil.ignore_patterns(*IGNORED)
    with tarfile.open(fileobj=buffer, mode="w") as tar:

        def add(folder: Path, arcname: str) -> None:
            ignored = skip(str(folder), os.listdir(folder))
            for name in sorted(os.listdir(folder)):
                if name in ignored:
                    continue
                path = folder / name
                if path.is_dir() and not path.is_symlink():
                    tar.add(path, f"{arcname}/{name}", recursive=False)
                    add(path, f"{arcname}/{name}")
                else:
                    tar.add(path, f"{arcname}/{name}", recursive=False)

        add(ROOT, "src")
        script = prepare_script()
        info = tarfile.TarInfo("prepare.sh")
        info.size, info.mode = len(script), 0o755
        tar.addfile(info, io.BytesIO(script))
        for cert in sorted(WORKPLACE_CAS.glob("*.crt")) if WORKPLACE_CAS.is_dir() else []:
            tar.add(cert, f"usr/local/share/ca-certificates/{cert.name}")
        if WORKPLACE_APT.is_file():
            tar.add(WORKPLACE_APT, f"etc/apt/apt.conf.d/{WORKPLACE_APT.name}")
    return buffer.getvalue()


def file_from(container: docker.models.containers.Container, path: str) -> bytes:
    """One file out of a (stopped) container."""
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        assert member is not None, f"{path} is empty in the container"
        extracted = tar.extractfile(member)
        assert extracted is not None, f"{path} is not a file in the container"
        return extracted.read()


@pytest.fixture
def run_id(host: docker.DockerClient) -> Iterator[str]:
    """A run id for this test's container, network and volume; all removed at the end."""
    made = labels.new_run_id()
    yield made
    reaper.remove_run(host, made)


def make_network(host: docker.DockerClient, run_id: str) -> str:
    """The container's own network, in 10.196.x.0/24: outside what the engine inside uses
    (its bridge 10.198.0.0/24, its pool 10.197.0.0/16, node networks 10.199.x.0/24)."""
    name = f"sc-{run_id}-stock"
    for third in random.sample(range(256), 8):
        subnet = f"10.196.{third}.0/24"
        ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=subnet, gateway=f"10.196.{third}.1")])
        try:
            host.networks.create(
                name, driver="bridge", ipam=ipam, labels=labels.for_run(run_id, "network")
            )
            return name
        except docker.errors.APIError:  # taken by another run: try another
            continue
    raise AssertionError("no free 10.196.x.0/24 for the stock machine's network")


@pytest.mark.parametrize("distribution", sorted(DISTRIBUTIONS))
def test_run_suites_on_a_stock_machine(
    host: docker.DockerClient, run_id: str, distribution: str
) -> None:
    suite = DISTRIBUTIONS[distribution]
    clock = time.monotonic()
    image = build_stock_image(host, suite)
    built_s = time.monotonic() - clock
    volume = host.volumes.create(labels=labels.for_run(run_id, "engine-data"))
    container = host.containers.create(
        image,
        ["/prepare.sh", "-k", CHECKS],
        name=f"sc-{run_id}-stock-{distribution}",
        labels=labels.for_run(run_id, "stock-machine"),
        network=make_network(host, run_id),
        cap_add=["ALL"],
        cap_drop=["SYS_RESOURCE"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        device_cgroup_rules=["a *:* rwm"],
        tmpfs={"/run": "", "/tmp": "exec"},  # mmdebstrap runs programs from /tmp
        volumes={volume.name: {"bind": "/var/lib/docker", "mode": "rw"}},
        environment={
            "PIP_CERT": SYSTEM_BUNDLE,
            "npm_config_cafile": SYSTEM_BUNDLE,
            "PIP_DEFAULT_TIMEOUT": "180",
            "COLUMNS": "200",
        },
    )
    container.put_archive("/", checkout_tar())
    log_path = ROOT / "reports" / "tests" / f"stock-{distribution}.log"  # kept after the run
    log_path.parent.mkdir(parents=True, exist_ok=True)
    clock = time.monotonic()
    container.start()
    try:
        status = container.wait(timeout=RUN_TIMEOUT_S)["StatusCode"]
    except Exception:  # requests' ReadTimeout: the run hung; the log says where
        container.kill()
        status = None
    run_s = time.monotonic() - clock
    output = container.logs().decode(errors="replace")
    log_path.write_text(output)
    tail = output[-6000:]
    print(f"\n{distribution}: stock image {built_s:.0f} s, ./run suites {run_s:.0f} s")
    print(f"  log: {log_path}")
    for line in output.splitlines():  # the steps and their times, kept in the test's output
        if line.startswith("STOCK") or STEP.search(line):
            print(f"  {line}")

    for tool in ("java", "node", "docker", "ensurepip"):
        assert f"STOCK lacks {tool}" in output, f"the {distribution} image is not stock:\n{tail}"
    assert status == 0, f"./run suites on stock {distribution} ended with {status}:\n{tail}"
    assert "2 passed, 1 skipped" in output, tail
    assert "making a virtual environment in .venv" in output, tail
    assert "installing python3-venv with apt" in output, tail
    verdict = json.loads(file_from(container, "/src/reports/verdict.json"))
    assert verdict["verdict"] == "passed", verdict
    assert verdict["counts"]["passed"] == 2, verdict
    assert verdict["counts"]["skipped"]["platform_lacks_a_feature"] == 1, verdict
    index = file_from(container, "/src/reports/html/index.html")
    assert len(index) > 100_000, f"reports/html/index.html has {len(index)} bytes"
    summary = json.loads(file_from(container, "/src/reports/html/summary.json"))
    stats = summary["stats"]  # also "new": tests without history
    assert (stats["total"], stats.get("passed"), stats.get("skipped")) == (3, 2, 1), summary
    history = file_from(container, "/src/reports/html/history/history.jsonl")
    assert len(history.splitlines()) == 1
