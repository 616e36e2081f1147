"""The suites that ship with swarmcheck, so a release can be validated without a checkout.

The repository keeps them at the top level (``suites/``); ``swarmcheck/data/suites`` is a
symbolic link to that folder, which the wheel holds as package data (real copies, as
``recipes/images`` holds ``fixtures/images``). A command that runs or lists suites takes
``suites/`` of the current folder when there is one (a checkout, or a project of its own
checks), else the shipped ones.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from swarmcheck.errors import ConfigError

SUITE_FOLDERS = ("conformance", "chaos", "release")
"""The shipped suites' folders, as ``swarmcheck run`` names them."""


def shipped_suites() -> Path:
    """The suites folder installed with swarmcheck."""
    path = Path(str(files("swarmcheck").joinpath("data", "suites")))
    if not (path / "conftest.py").is_file():
        raise ConfigError(
            f"the suites are missing from the installed swarmcheck ({path}): reinstall it"
        )
    return path


def suites_dir(cwd: Path | None = None) -> Path:
    """``suites/`` of ``cwd`` (default: the current folder) when it holds suites, else the
    shipped suites."""
    local = (cwd or Path.cwd()) / "suites"
    return local if (local / "conftest.py").is_file() else shipped_suites()
