"""Installing Debian packages on this machine (docker.io, mmdebstrap, busybox-static).

One installer for every package swarmcheck may need: it says why a package cannot be
installed (not root, no apt-get), waits for another install to finish instead of failing on
dpkg's lock, and raises when apt-get fails, with the end of its output.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess

from swarmcheck.cache import cache_dir, file_lock
from swarmcheck.errors import EnvironmentProblem

log = logging.getLogger("swarmcheck.debian")

APT_TIMEOUT_S = 900
DPKG_LOCK_WAIT_S = 300


def apt_install(*packages: str, why: str) -> None:
    """Install ``packages`` with apt-get (after ``apt-get update``).

    ``why`` ends the error messages (what the package is for, and what to do instead).
    Raises EnvironmentProblem when this machine cannot install them or apt-get fails.
    """
    names = " ".join(packages)
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise EnvironmentProblem(
            f"the Debian package(s) {names} are needed and cannot be installed here (that "
            f"needs root and apt-get): {why}"
        )
    log.warning("installing Debian package(s) %s", names)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = f"DPkg::Lock::Timeout={DPKG_LOCK_WAIT_S}"
    with file_lock(cache_dir() / "apt.lock"):
        for cmd in (
            ["apt-get", "-o", wait, "update", "-qq"],
            ["apt-get", "-o", wait, "install", "-y", "-qq", *packages],
        ):
            try:
                done = subprocess.run(
                    cmd, capture_output=True, text=True, env=env, check=False, timeout=APT_TIMEOUT_S
                )
            except subprocess.TimeoutExpired as exc:
                raise EnvironmentProblem(
                    f"`{' '.join(cmd)}` did not finish within {APT_TIMEOUT_S}s: {why}"
                ) from exc
            if done.returncode != 0:
                tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
                raise EnvironmentProblem(
                    f"`{' '.join(cmd)}` failed (exit {done.returncode}):\n{tail}\n{why}"
                )
