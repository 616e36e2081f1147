"""Stash keys and names shared by the plugin's modules (kept apart to avoid import cycles)."""

from __future__ import annotations

import pytest

from swarmcheck.catalog.model import Check
from swarmcheck.cluster.interface import Pool, Swarm
from swarmcheck.cluster.kept import KeptCluster
from swarmcheck.config import Settings
from swarmcheck.faults.base import FaultLog
from swarmcheck.faults.schedule import Schedule
from swarmcheck.reporting.summary import Outcome

SETTINGS_KEY = pytest.StashKey[Settings]()
SCHEDULE_KEY = pytest.StashKey[Schedule | None]()
"""Nightly chaos mode: the schedule this run plays (planned or replayed) at configure time."""
POOL_KEY = pytest.StashKey[Pool]()
CLUSTER_KEY = pytest.StashKey[Swarm]()
OUTCOMES_KEY = pytest.StashKey[dict[str, Outcome]]()
CHECK_KEY = pytest.StashKey[Check]()
"""An item's suite metadata, parsed from its swarmcheck marker at collection."""
FEATURES_KEY = pytest.StashKey[dict[str, str | None]]()
"""Platform features seen in this run: None when present, else why they are missing."""
ACTIVE_KEY = pytest.StashKey[str]()
"""Set once swarmcheck has switched itself on for the session: why (options, swarm tests)."""
SWARM_ITEM_KEY = pytest.StashKey[bool]()
"""An item that belongs to swarmcheck (swarm markers or fixtures)."""
RUN_KEY = pytest.StashKey[dict[str, str]]()
"""What the reporting process learnt about the engine under test (from workers' reports)."""
REPORT_ATTR = "swarmcheck"
"""Test reports of swarm tests carry this attribute (a dict: check id, area, engine...); it
travels with the report from an xdist worker to the controller."""
ENGINE_VERSIONS_KEY = pytest.StashKey[dict[str, str]]()
"""The version each engine of this run reported: engine (a Debian suite, an image) -> version."""
FIGURE_PREFIX = "figure:"
"""user_properties entries with this prefix are measured figures (JUnit, Allure, summary)."""
FAILED_KEY = pytest.StashKey[bool]()
"""An item whose setup or call failed in this attempt (its cluster may be kept)."""
FAULT_LOG_KEY = pytest.StashKey[FaultLog]()
"""An item's fault log: healed before its cluster is kept, whatever the fixtures' order."""
KEPT_KEY = pytest.StashKey[KeptCluster | str]()
"""After a failed check with --swarm-keep-on-failure: the cluster kept, or why none was."""
KEPT_RUNS_KEY = pytest.StashKey[dict[str, KeptCluster | str]]()
"""What the reporting process learnt from teardown reports: test node id -> the cluster kept
for it, or why none was (the xdist controller hears every worker's)."""
