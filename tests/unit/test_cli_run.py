"""`swarmcheck run`: which suites it hands pytest, from which folder, with which ini file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from swarmcheck.cli import main, run_command
from swarmcheck.errors import ConfigError
from swarmcheck.shipped import shipped_suites

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_suites_are_the_top_level_folder_in_a_checkout() -> None:
    assert shipped_suites().resolve() == (ROOT / "suites").resolve()


def test_default_is_the_conformance_suite_and_pytest_gets_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cmd = run_command(["-k", "SC-MEM-002", "--swarm-managers=1"])
    assert cmd[:3] == [sys.executable, "-m", "pytest"]
    assert cmd[3] == str(shipped_suites() / "conformance")
    assert f"--rootdir={tmp_path}" in cmd
    assert cmd[cmd.index("-o") + 1] == "junit_family=xunit1"  # no ini here: the suites' own
    assert cmd[-3:] == ["-k", "SC-MEM-002", "--swarm-managers=1"]


def test_named_suites_and_tests_map_into_the_suites_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    cmd = run_command(["chaos", "suites/conformance/test_raft.py::test_x", "-x"])
    root = shipped_suites()
    assert cmd[3:5] == [str(root / "chaos"), str(root / "conformance/test_raft.py::test_x")]
    assert cmd[-1] == "-x"


def test_a_local_suites_folder_and_ini_file_win(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "conftest.py").write_text("")
    (tmp_path / "pytest.ini").write_text("[pytest]\nswarm_workers = 1\n")
    monkeypatch.chdir(tmp_path)
    cmd = run_command([])
    assert cmd[3] == str(tmp_path / "suites" / "conformance")
    assert cmd[cmd.index("-c") + 1] == str(tmp_path / "pytest.ini")


def test_an_unknown_suite_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="not a suite"):
        run_command(["smoke", "-x"])
    assert main(["run", "smoke"]) == 2
    assert "conformance, chaos, release" in capsys.readouterr().err


def test_run_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    assert "usage: swarmcheck run [SUITE ...]" in capsys.readouterr().out


def test_run_script_refuses_a_python_without_swarmcheck(tmp_path: Path) -> None:
    """./run with SWARMCHECK_PYTHON naming an environment where swarmcheck is missing."""
    import os
    import subprocess

    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nexit 1\n")  # an interpreter that imports nothing
    python.chmod(0o755)
    done = subprocess.run(
        [str(ROOT / "run"), "suites"],
        env={**os.environ, "SWARMCHECK_PYTHON": str(python)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done
    assert f"SWARMCHECK_PYTHON={python} cannot import swarmcheck" in done.stderr, done.stderr
