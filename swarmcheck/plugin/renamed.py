"""The fixtures' old names, kept for one release as deprecated aliases of the ``swarm_`` ones.

swarmcheck's fixtures were named ``cluster``, ``fresh_cluster``, ``figure``, ``fault_log``,
``chaos_schedule`` and ``attach_availability``: names a project may well use for fixtures of its
own (a project's conftest fixture silently wins over a plugin's). They are now ``swarm_cluster``
and so on. Each old name still works for one release: it hands out the new fixture's value (the
same object, the same set-up and teardown) and warns.

The warning is a ``SwarmcheckDeprecationWarning`` raised each time a test requests an old name
(directly or through one of its fixtures), with one text per old name. pytest's warnings summary
groups identical warnings into one entry, listing the tests (or, from ten on, each file with its
count), so a suite that has not moved yet shows one entry per old name, not one per test; under
pytest-xdist the workers' warnings reach the controller and are grouped there too. A warning
raised at run time also comes only from a real use of our alias (a project's own fixture of that
name wins over it and never warns). Silence it while moving with
``filterwarnings = ignore::swarmcheck.plugin.renamed.SwarmcheckDeprecationWarning``.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import pytest

REMOVED_IN = "0.3"
"""The release without the old names (they are deprecated in the one after 0.1)."""
RENAMED = {
    "cluster": "swarm_cluster",
    "fresh_cluster": "swarm_fresh_cluster",
    "figure": "swarm_figure",
    "fault_log": "swarm_fault_log",
    "chaos_schedule": "swarm_chaos_schedule",
    "attach_availability": "swarm_attach_availability",
}
"""Old fixture name -> new one."""


class SwarmcheckDeprecationWarning(pytest.PytestDeprecationWarning):
    """A swarmcheck name that still works but is going away."""


def message(old: str) -> str:
    new = RENAMED[old]
    return (
        f"swarmcheck's fixture '{old}' is renamed '{new}': request '{new}' instead (the same "
        f"fixture; the old name goes in swarmcheck {REMOVED_IN}, and a project's own fixture "
        "of that name would hide it)"
    )


def _alias(old: str) -> Any:
    """The fixture ``old``: it requests the new fixture (so pytest sets it up and tears it
    down, and a test's fixture closure names it, as the plugin's checks expect), warns, and
    hands out its value. Its one parameter is the new name, given by its signature."""
    new = RENAMED[old]

    def alias(**requested: object) -> object:
        # one location for every use, so that pytest groups the uses of one name into one entry
        warnings.warn(SwarmcheckDeprecationWarning(message(old)), stacklevel=1)
        return requested[new]

    alias.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(new, inspect.Parameter.KEYWORD_ONLY)]
    )
    alias.__name__ = alias.__qualname__ = f"{old}_alias"
    alias.__doc__ = f"Deprecated: request ``{new}`` (the same fixture)."
    return pytest.fixture(name=old)(alias)


cluster_alias = _alias("cluster")
fresh_cluster_alias = _alias("fresh_cluster")
figure_alias = _alias("figure")
fault_log_alias = _alias("fault_log")
chaos_schedule_alias = _alias("chaos_schedule")
attach_availability_alias = _alias("attach_availability")
