"""The image recipes, as package data: the node entrypoint and package list, the workload's
applets and start script; and the history checker's Go source (``history_checker_sources``).

The files live in the repository's top-level ``fixtures/images/`` folder; ``images`` here is a
symbolic link to it, so a source checkout, an editable install and a built wheel (which holds
real copies: pyproject.toml lists ``recipes/images/*/*`` as package data) all find them at the
same place through importlib.resources, and nothing reads the source checkout by its path.
``history-checker`` links to ``fixtures/history-checker/`` the same way.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

from swarmcheck.errors import ConfigError


def recipe(*parts: str) -> Traversable:
    """A recipe file, e.g. ``recipe("node", "entrypoint.sh")``."""
    path = files(__name__).joinpath("images", *parts)
    if not path.is_file():
        raise ConfigError(
            f"the image recipe {'/'.join(parts)} is missing from the installed swarmcheck "
            f"({files(__name__)}): reinstall it"
        )
    return path


def history_checker_sources() -> list[Traversable]:
    """The history checker's Go module (go.mod, go.sum, *.go), sorted by name."""
    folder = files(__name__).joinpath("history-checker")
    wanted = (".go", ".mod", ".sum")
    entries = folder.iterdir() if folder.is_dir() else iter(())
    found = sorted((p for p in entries if p.is_file() and p.name.endswith(wanted)), key=_name)
    if not any(p.name == "go.mod" for p in found):
        raise ConfigError(
            f"the history checker's Go source is missing from the installed swarmcheck "
            f"({folder}): reinstall it"
        )
    return found


def _name(path: Traversable) -> str:
    return path.name
