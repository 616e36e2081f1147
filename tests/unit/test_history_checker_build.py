"""The history checker's build and its wrapper, without Go: the pinned version, the package
data, the reason given where Go is missing or too old, and a checker that answers badly."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from swarmcheck.checkers.linearizable import check_linearizable
from swarmcheck.errors import CheckerError, HistoryCheckerUnavailable
from swarmcheck.machine import history_checker
from swarmcheck.recipes import history_checker_sources
from tests.histories import register

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "fixtures" / "history-checker"


def script(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_porcupine_is_pinned_in_go_mod_and_go_sum() -> None:
    pin = f"{history_checker.PORCUPINE_MODULE} {history_checker.PORCUPINE_VERSION}"
    assert f"require {pin}" in (SOURCE / "go.mod").read_text()
    assert f"{pin} h1:" in (SOURCE / "go.sum").read_text()
    minimum = ".".join(map(str, history_checker.MIN_GO))
    assert f"\ngo {minimum}\n" in (SOURCE / "go.mod").read_text()


def test_the_go_source_is_package_data() -> None:
    shipped = {p.name: p.read_bytes() for p in history_checker_sources()}
    expected = {
        p.name: p.read_bytes() for p in SOURCE.iterdir() if p.suffix in (".go", ".mod", ".sum")
    }
    assert shipped == expected and "main.go" in shipped
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = data["tool"]["setuptools"]["package-data"]["swarmcheck"]
    covered = {p for g in globs for p in (ROOT / "swarmcheck").glob(g)}
    for name in expected:
        assert ROOT / "swarmcheck" / "recipes" / "history-checker" / name in covered, name


def test_the_cached_binary_is_named_after_its_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    binary = history_checker.binary_path()
    assert binary.parent == tmp_path / "swarmcheck" / "history-checker"
    assert history_checker.PORCUPINE_VERSION in binary.name
    assert binary.name.endswith(history_checker.source_hash()[:12])
    assert history_checker.cached_history_checker() is None


def test_without_go_the_checker_is_unavailable_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(HistoryCheckerUnavailable) as caught:
        history_checker.ensure_history_checker()
    message = str(caught.value)
    assert "no `go` command on PATH" in message and "Install Go >= 1.21" in message
    assert "swarmcheck setup --history-checker" in message


def test_a_go_too_old_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    script(tmp_path, "go", 'echo "go1.19.3"')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    with pytest.raises(HistoryCheckerUnavailable, match=r"go is go1\.19\.3"):
        history_checker.ensure_history_checker()


def test_no_module_proxy_makes_it_unavailable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    script(
        tmp_path,
        "go",
        (
            'case "$1" in env) echo go1.26.0;; '
            '*) echo "dial tcp: lookup proxy: no such host"; exit 1;; esac'
        ),
    )
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    with pytest.raises(HistoryCheckerUnavailable, match="Go module proxy reachable") as caught:
        history_checker.ensure_history_checker()
    assert "no such host" in str(caught.value)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('echo "bad flag" >&2; exit 2', "refused the prepared history .exit 2.: bad flag"),
        ("echo not json", "printed no JSON result"),
        ('echo \'{"format": "other"}\'', "is not swarmcheck-checker-result/1"),
        (
            'echo \'{"format": "swarmcheck-checker-result/1", "result": "maybe"}\'',
            "answered 'maybe'",
        ),
    ],
)
def test_a_checker_that_answers_badly_is_no_verdict(
    tmp_path: Path, body: str, message: str
) -> None:
    checker = script(tmp_path, "checker", "cat >/dev/null; " + body)
    with pytest.raises(CheckerError, match=message):
        check_linearizable(register().read(0, 0, 1, 10, "init").build(), checker)
    with pytest.raises(CheckerError, match="must be positive"):
        check_linearizable(register().build(), checker, timeout_s=0)
