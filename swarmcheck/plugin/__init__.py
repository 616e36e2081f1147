"""The pytest plugin (entry point `pytest11: swarmcheck`): a thin layer over the library.

Only this package imports pytest. It registers options, markers and fixtures (all named
``swarm_*``; the old unprefixed names are deprecated aliases, renamed.py), and turns library
results into pytest outcomes and Allure labels.
"""

from __future__ import annotations

from swarmcheck.plugin.allure_hooks import pytest_runtest_makereport, pytest_runtest_setup
from swarmcheck.plugin.chaos import (
    pytest_report_header,
    swarm_attach_availability,
    swarm_chaos_schedule,
    swarm_fault_log,
)
from swarmcheck.plugin.fixtures import (
    swarm_cluster,
    swarm_figure,
    swarm_fresh_cluster,
    swarm_pool,
    swarm_settings,
)
from swarmcheck.plugin.options import pytest_addoption
from swarmcheck.plugin.parallel import pytest_cmdline_main
from swarmcheck.plugin.renamed import (
    SwarmcheckDeprecationWarning,
    attach_availability_alias,
    chaos_schedule_alias,
    cluster_alias,
    fault_log_alias,
    figure_alias,
    fresh_cluster_alias,
)
from swarmcheck.plugin.session import (
    pytest_collection_finish,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_runtestloop,
    pytest_sessionfinish,
    pytest_terminal_summary,
)
from swarmcheck.plugin.xdist import pytest_xdist_make_scheduler

__all__ = [
    "SwarmcheckDeprecationWarning",
    "attach_availability_alias",
    "chaos_schedule_alias",
    "cluster_alias",
    "fault_log_alias",
    "figure_alias",
    "fresh_cluster_alias",
    "pytest_addoption",
    "pytest_cmdline_main",
    "pytest_collection_finish",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_report_header",
    "pytest_runtest_makereport",
    "pytest_runtest_setup",
    "pytest_runtestloop",
    "pytest_sessionfinish",
    "pytest_terminal_summary",
    "pytest_xdist_make_scheduler",
    "swarm_attach_availability",
    "swarm_chaos_schedule",
    "swarm_cluster",
    "swarm_fault_log",
    "swarm_figure",
    "swarm_fresh_cluster",
    "swarm_pool",
    "swarm_settings",
]
