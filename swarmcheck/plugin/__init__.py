"""The pytest plugin (entry point `pytest11: swarmcheck`): a thin layer over the library.

Only this package imports pytest. It registers options, markers and fixtures, and turns
library results into pytest outcomes and Allure labels.
"""

from __future__ import annotations

from swarmcheck.plugin.allure_hooks import pytest_runtest_makereport, pytest_runtest_setup
from swarmcheck.plugin.chaos import (
    attach_availability,
    chaos_schedule,
    fault_log,
    pytest_report_header,
)
from swarmcheck.plugin.fixtures import cluster, figure, fresh_cluster, swarm_pool, swarm_settings
from swarmcheck.plugin.options import pytest_addoption
from swarmcheck.plugin.parallel import pytest_cmdline_main
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
    "attach_availability",
    "chaos_schedule",
    "cluster",
    "fault_log",
    "figure",
    "fresh_cluster",
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
    "swarm_pool",
    "swarm_settings",
]
