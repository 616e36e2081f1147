"""End to end: the wheel works on its own.

``python -m build`` makes the sdist and, from it, the wheel; the wheel goes into a fresh
virtual environment (no system site-packages, dependencies from PyPI). In an empty folder (no
checkout, no suites/), the environment's ``swarmcheck run`` runs a conformance check
(SC-MEM-002, on a real one-manager swarm) from the suites the wheel ships, and ``swarmcheck
catalog`` lists them; a copy of suites/ in another folder runs with plain pytest too.
Nothing may come from this checkout: PYTHONPATH is dropped and the working directory is
elsewhere, so the plugin, the suites, the image recipes and the catalog must all come from
the wheel.
About two minutes (the build and the install dominate).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from swarmcheck.catalog import load_catalog

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
ROOT_VERSION = re.search(
    r'__version__ = "([^"]+)"', (ROOT / "swarmcheck" / "__init__.py").read_text()
).group(1)  # type: ignore[union-attr]
BUILD_TIMEOUT_S = 600
RUN_TIMEOUT_S = 600
NO_NETWORK = ("Failed to establish a new connection", "Temporary failure in name resolution")


def run(cmd: list[str], cwd: Path, timeout_s: float = BUILD_TIMEOUT_S) -> str:
    """Run a command without this checkout on the import path; its output, or the test fails
    (skips when the package index cannot be reached: the wheel cannot be installed then)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["COLUMNS"] = "200"
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    output = done.stdout + done.stderr
    if done.returncode != 0:
        if any(sign in output for sign in NO_NETWORK):
            pytest.skip(f"no package index reachable for `{' '.join(cmd[:3])}`: {output[-300:]}")
        pytest.fail(f"`{' '.join(cmd)}` failed ({done.returncode}):\n{output[-4000:]}")
    return output


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv with the wheel built from this checkout installed in it."""
    pytest.importorskip("build", reason="the dev extra brings `build`")
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"  # a clean copy: no build/ or egg-info of the checkout leaks in
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", "reports", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache",
            ".ruff_cache", ".tox", ".venv", "node_modules",
        ),
    )  # fmt: skip
    dist = base / "dist"  # test_wheel_ships_the_suites finds it beside the venv
    run([sys.executable, "-m", "build", "--outdir", str(dist), str(source)], cwd=base)
    wheels = list(dist.glob("swarmcheck-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {dist}: {list(dist.iterdir())}"
    env_dir = base / "venv"
    run([sys.executable, "-m", "venv", str(env_dir)], cwd=base)
    python = env_dir / "bin" / "python"
    run([str(python), "-m", "pip", "install", "--quiet", str(wheels[0])], cwd=base)
    yield env_dir


def test_wheel_contents_come_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    python = venv / "bin" / "python"
    where = run(
        [
            str(python),
            "-c",
            "import swarmcheck, swarmcheck.recipes as r;"
            "print(swarmcheck.__file__);"
            "print(len(r.recipe('node', 'entrypoint.sh').read_bytes()))",
        ],
        cwd=tmp_path,
    ).split()
    assert where[0].startswith(str(venv)), f"swarmcheck imported from {where[0]}"
    assert int(where[1]) == len((ROOT / "fixtures/images/node/entrypoint.sh").read_bytes())


def test_wheel_ships_the_suites(venv: Path) -> None:
    wheel = next((venv.parent / "dist").glob("swarmcheck-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = {
        f"swarmcheck/data/suites/{path.relative_to(ROOT / 'suites').as_posix()}"
        for path in (ROOT / "suites").rglob("*")
        if path.suffix in (".py", ".md") and "__pycache__" not in path.parts
    }
    assert expected and expected <= names, sorted(expected - names)


def test_installed_wheel_runs_a_shipped_check_in_an_empty_folder(
    venv: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    swarmcheck = str(venv / "bin" / "swarmcheck")
    version = run([swarmcheck, "--version"], empty)
    assert version.strip() == f"swarmcheck {ROOT_VERSION}", version

    catalog = run([swarmcheck, "catalog"], empty)
    rows = len(load_catalog().rows)  # every row of the shipped catalog has a shipped check
    assert "SC-MEM-002" in catalog and f"{rows} of {rows}" in catalog, catalog[-2000:]

    output = run(
        [swarmcheck, "run", "conformance", "-k", "SC-MEM-002", "--swarm-managers=1"],
        empty,
        timeout_s=RUN_TIMEOUT_S,
    )
    assert "1 passed" in output, output[-3000:]
    assert "swarmcheck: 1 test: 1 passed" in output, output[-3000:]
    assert (empty / "reports" / "junit.xml").is_file()
    verdict = json.loads((empty / "reports" / "verdict.json").read_text())
    assert verdict["verdict"] == "passed" and verdict["counts"]["passed"] == 1, verdict
    assert sorted(p.name for p in empty.iterdir()) == ["reports"], "only reports/ is written here"


def test_installed_wheel_runs_a_check_from_another_folder(venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "elsewhere"
    shutil.copytree(ROOT / "suites", project / "suites", ignore=shutil.ignore_patterns("__py*"))

    catalog = run([str(venv / "bin" / "swarmcheck"), "catalog", "--suites", "suites"], project)
    assert "SC-MEM-002" in catalog, catalog[-2000:]

    output = run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pytest",
            "suites/conformance",
            "-k",
            "SC-MEM-002",
            "--swarm-managers=1",
            "-p",
            "no:cacheprovider",
        ],
        project,
        timeout_s=RUN_TIMEOUT_S,
    )
    assert "1 passed" in output, output[-3000:]
    assert "swarmcheck: 1 test: 1 passed" in output, output[-3000:]
    assert (project / "reports" / "junit.xml").is_file()
