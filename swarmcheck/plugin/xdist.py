"""pytest-xdist: one swarm per worker, and tests of one cluster shape kept together.

Every worker is its own pytest session: its own ClusterPool, clusters with their own run ids
(container names, socket directories), networks on subnets no other process holds (the
choice is serialised across processes, cluster/network.py), Allure result files with unique
names, no JUnit file (the controller writes it). What xdist does not give for free is
keeping the bring-ups few: a swarm takes seconds to come up and the pool reuses it only for
the next test of the same shape, so tests of one shape should run one after another on one
worker, yet a shape with many tests should still use every worker.

Hence a scheduler (``ShapeScheduling``, used when ``-n`` is given without ``--dist``, and in
the fast mode, plugin/parallel.py): each worker, at the end of its collection, writes the
cluster shape of each of its swarm tests to a file the controller reads when that worker's
collection arrives. The controller plans units of work (chunks.plan_units): the checks of one
shape, longest first, in units of about 45 expected seconds (how long each check took last
time on this machine: plugin/durations.py), and hands them out one at a time, a unit of the
shape a worker's cluster already has whenever there is one (``UnitScheduling``). So each
worker brings a cluster up about once per shape it takes, and the workers end together
rather than one of them running a long chunk alone at the end. ``--dist loadgroup`` with one
xdist_group per shape was the other candidate: it keeps every test of a shape on one worker,
so a suite of mostly one shape would run on one worker; xdist's ``loadscope`` with fixed
chunks sent two whole chunks to each worker at once and could not even them out. A session
without swarm tests writes no file and is scheduled exactly as xdist's default (``load``)
would.
"""

from __future__ import annotations

import os
import shlex
import shutil
from typing import Any

import pytest

from swarmcheck.plugin.chunks import groups_dir


def _dist_chosen(config: pytest.Config) -> bool:
    """Whether the user named a --dist mode (then it is theirs, not ours to change)."""
    args = [
        *config.invocation_params.args,
        *config.getini("addopts"),
        *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
    ]
    return any(a == "--dist" or str(a).startswith("--dist=") for a in args)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """-n without --dist: ShapeScheduling (xdist's own ``load`` for sessions without swarm
    tests)."""
    if config.getvalue("dist") != "load" or _dist_chosen(config):
        return None
    from swarmcheck.plugin.scheduling import ShapeScheduling

    def cleanup() -> None:
        if scheduler.testrunuid:
            shutil.rmtree(groups_dir(scheduler.testrunuid), ignore_errors=True)

    scheduler = ShapeScheduling(config, log)
    config.add_cleanup(cleanup)
    return scheduler
