"""Stash keys and names shared by the plugin's modules (kept apart to avoid import cycles)."""

from __future__ import annotations

import pytest

from swarmcheck.catalog.model import Check
from swarmcheck.cluster.cluster import Cluster
from swarmcheck.cluster.pool import ClusterPool
from swarmcheck.config import Settings
from swarmcheck.reporting.summary import Outcome

SETTINGS_KEY = pytest.StashKey[Settings]()
POOL_KEY = pytest.StashKey[ClusterPool]()
CLUSTER_KEY = pytest.StashKey[Cluster]()
OUTCOMES_KEY = pytest.StashKey[dict[str, Outcome]]()
CHECK_KEY = pytest.StashKey[Check]()
"""An item's suite metadata, parsed from its swarmcheck marker at collection."""
FEATURES_KEY = pytest.StashKey[dict[str, str | None]]()
"""Platform features seen in this run: None when present, else why they are missing."""
FIGURE_PREFIX = "figure:"
"""user_properties entries with this prefix are measured figures (JUnit, Allure, summary)."""
