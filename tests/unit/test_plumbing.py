"""The one-of-each plumbing: cache folder and file lock, the Debian installer, recipe digests."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from swarmcheck.cache import cache_dir, file_lock
from swarmcheck.errors import EnvironmentProblem
from swarmcheck.machine import debian
from swarmcheck.machine.recipes import digest


def test_cache_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir("toxiproxy", "2.12.0") == tmp_path / "swarmcheck" / "toxiproxy" / "2.12.0"
    assert (tmp_path / "swarmcheck" / "toxiproxy" / "2.12.0").is_dir()


def test_file_lock_makes_the_second_holder_wait(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    order: list[str] = []
    held = threading.Event()

    def second() -> None:
        held.wait()
        with file_lock(lock):
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with file_lock(lock):
        held.set()
        time.sleep(0.3)  # the other thread is blocked in flock meanwhile
        order.append("first")
    thread.join(5)
    assert order == ["first", "second"]


def test_digest_separates_its_parts() -> None:
    assert digest("ab", "c") != digest("a", "bc")
    assert digest("node", "bookworm") == digest(b"node", b"bookworm")
    assert len(digest("x")) == 64


class FakeApt:
    """Records apt-get calls and answers with the given exit codes, in order."""

    def __init__(self, *codes: int) -> None:
        self.codes = list(codes)
        self.calls: list[list[str]] = []

    def __call__(self, cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(cmd)
        code = self.codes.pop(0)
        err = "E: Unable to locate package nosuch" if code else ""
        return subprocess.CompletedProcess(cmd, code, "", err)


@pytest.fixture
def apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(debian.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(debian.os, "geteuid", lambda: 0)
    return monkeypatch


def test_apt_install_checks_each_step(apt: pytest.MonkeyPatch) -> None:
    fake = FakeApt(0, 100)
    apt.setattr(debian.subprocess, "run", fake)
    with pytest.raises(EnvironmentProblem) as caught:
        debian.apt_install("nosuch", why="or build it elsewhere")
    message = str(caught.value)
    assert "install -y -qq nosuch` failed (exit 100)" in message
    assert "Unable to locate package nosuch" in message and message.endswith("elsewhere")
    assert [c[3] for c in fake.calls] == ["update", "install"]
    assert all("DPkg::Lock::Timeout=" in c[2] for c in fake.calls)


def test_apt_install_succeeds_quietly(apt: pytest.MonkeyPatch) -> None:
    fake = FakeApt(0, 0)
    apt.setattr(debian.subprocess, "run", fake)
    debian.apt_install("busybox-static", "mmdebstrap", why="-")
    assert fake.calls[1][-2:] == ["busybox-static", "mmdebstrap"]


def test_apt_install_says_why_it_cannot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(debian.os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentProblem, match=r"needs root and apt-get.*: use a dind image"):
        debian.apt_install("docker.io", why="use a dind image")
