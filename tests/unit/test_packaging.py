"""What the wheel declares and ships: every imported package declared and nothing else, the
image recipes and catalog reachable as package data (the wheel itself: tests/e2e/test_wheel.py).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions, version
from pathlib import Path

import pytest

from swarmcheck.recipes import recipe

ROOT = Path(__file__).resolve().parents[2]
OPTIONAL = {"xdist": "pytest-xdist"}
"""Imported only inside hooks that exist when the other plugin is installed (dev extra)."""


def _normalise(requirement: str) -> str:
    name = requirement.split(";")[0]
    for stop in "<>=!~[ ":
        name = name.split(stop)[0]
    return name.strip().lower().replace("_", "-")


def _project() -> dict[str, object]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project: dict[str, object] = data["project"]
    return project


def imported_top_levels() -> set[str]:
    """Top-level modules swarmcheck/ imports (stdlib and swarmcheck itself left out)."""
    found: set[str] = set()
    for path in (ROOT / "swarmcheck").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names and m != "swarmcheck"}


def test_every_imported_package_is_declared_and_nothing_else() -> None:
    dists = packages_distributions()
    imported: set[str] = set()
    for module in imported_top_levels() - OPTIONAL.keys():
        assert module in dists, f"{module} is imported but no installed distribution provides it"
        imported.update(_normalise(d) for d in dists[module])
    declared = {_normalise(r) for r in _project()["dependencies"]}  # type: ignore[attr-defined]
    assert imported - declared == set(), "imported but not declared"
    assert declared - imported == set(), "declared but imported nowhere"


def _extra(name: str) -> set[str]:
    """An extra's requirements by name, with ``swarmcheck[a,b]`` (the extra naming others)
    expanded."""
    extras: dict[str, list[str]] = _project()["optional-dependencies"]  # type: ignore[assignment]
    names: set[str] = set()
    for requirement in extras[name]:
        if _normalise(requirement) == "swarmcheck":
            inner = requirement.split("[", 1)[1].split("]", 1)[0]
            for other in inner.split(","):
                names |= _extra(other.strip())
        else:
            names.add(_normalise(requirement))
    return names


def test_optional_integrations_are_in_the_test_extra_and_dev_is_the_union() -> None:
    assert set(OPTIONAL.values()) <= _extra("test")
    assert {"pytest-rerunfailures", "pytest-timeout", "build"} <= _extra("test")
    assert {"ruff", "mypy"} <= _extra("lint")
    assert _extra("dev") == _extra("test") | _extra("lint")


def test_the_version_is_written_once() -> None:
    """pyproject.toml reads it from swarmcheck.__version__; the installed metadata, the CLI's
    --version and the changelog's latest release agree with it."""
    assert "version" not in _project()
    assert _project()["dynamic"] == ["version"]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    dynamic = pyproject["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "swarmcheck.__version__"}
    import swarmcheck

    assert version("swarmcheck") == swarmcheck.__version__
    shown = subprocess.run(
        [sys.executable, "-m", "swarmcheck.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown.strip() == f"swarmcheck {swarmcheck.__version__}"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## [{swarmcheck.__version__}]" in changelog


def test_the_licence_file_is_the_one_pyproject_names() -> None:
    assert _project()["license"] == "Apache-2.0"
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


@pytest.mark.parametrize(
    "parts",
    [
        ("node", "entrypoint.sh"),
        ("node", "packages.txt"),
        ("workload", "serve.sh"),
        ("workload", "applets.txt"),
    ],
)
def test_recipes_are_package_data_and_the_fixtures_folder(parts: tuple[str, ...]) -> None:
    """The package finds each recipe through importlib.resources; in a checkout it is the
    very file in fixtures/images (one copy, no drift)."""
    data = recipe(*parts).read_bytes()
    assert data == (ROOT / "fixtures" / "images" / Path(*parts)).read_bytes()


def test_package_data_globs_cover_the_recipes() -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = data["tool"]["setuptools"]["package-data"]["swarmcheck"]
    shipped = {p for g in globs for p in (ROOT / "swarmcheck").glob(g)}
    for path in (ROOT / "fixtures" / "images").rglob("*"):
        if path.is_file():
            relative = path.relative_to(ROOT / "fixtures" / "images")
            assert ROOT / "swarmcheck" / "recipes" / "images" / relative in shipped, relative
