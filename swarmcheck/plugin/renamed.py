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

import warnings

import pytest

from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.interface import Swarm
from swarmcheck.faults.base import FaultLog
from swarmcheck.faults.schedule import Schedule
from swarmcheck.plugin.chaos import PlotAttacher
from swarmcheck.plugin.fixtures import Recorder

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


def _warn(old: str) -> None:
    warnings.warn(SwarmcheckDeprecationWarning(message(old)), stacklevel=2)


@pytest.fixture(name="cluster")
def cluster_alias(swarm_cluster: Swarm) -> Swarm:
    """Deprecated: ``swarm_cluster``."""
    _warn("cluster")
    return swarm_cluster


@pytest.fixture(name="fresh_cluster")
def fresh_cluster_alias(swarm_fresh_cluster: Cluster) -> Cluster:
    """Deprecated: ``swarm_fresh_cluster``."""
    _warn("fresh_cluster")
    return swarm_fresh_cluster


@pytest.fixture(name="figure")
def figure_alias(swarm_figure: Recorder) -> Recorder:
    """Deprecated: ``swarm_figure``."""
    _warn("figure")
    return swarm_figure


@pytest.fixture(name="fault_log")
def fault_log_alias(swarm_fault_log: FaultLog) -> FaultLog:
    """Deprecated: ``swarm_fault_log``."""
    _warn("fault_log")
    return swarm_fault_log


@pytest.fixture(name="chaos_schedule")
def chaos_schedule_alias(swarm_chaos_schedule: Schedule | None) -> Schedule | None:
    """Deprecated: ``swarm_chaos_schedule``."""
    _warn("chaos_schedule")
    return swarm_chaos_schedule


@pytest.fixture(name="attach_availability")
def attach_availability_alias(swarm_attach_availability: PlotAttacher) -> PlotAttacher:
    """Deprecated: ``swarm_attach_availability``."""
    _warn("attach_availability")
    return swarm_attach_availability
