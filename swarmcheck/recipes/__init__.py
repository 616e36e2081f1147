"""The image recipes, as package data: the node entrypoint and package list, the workload's
applets and start script.

The files live in the repository's top-level ``fixtures/images/`` folder; ``images`` here is a
symbolic link to it, so a source checkout, an editable install and a built wheel (which holds
real copies: pyproject.toml lists ``recipes/images/*/*`` as package data) all find them at the
same place through importlib.resources, and nothing reads the source checkout by its path.
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
