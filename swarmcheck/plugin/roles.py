"""Which pytest process this is: a plain session, a pytest-xdist worker or its controller."""

from __future__ import annotations

import pytest


def is_worker(config: pytest.Config) -> bool:
    """A pytest-xdist worker (runs tests, sends its reports to the controller)."""
    return hasattr(config, "workerinput")


def is_controller(config: pytest.Config) -> bool:
    """The pytest-xdist controller: it collects and runs nothing; workers do."""
    return (
        not is_worker(config)
        and getattr(config.option, "dist", "no") != "no"
        and not config.option.collectonly
    )


def worker_count(config: pytest.Config) -> int:
    """How many workers share the run (1 without xdist)."""
    workerinput = getattr(config, "workerinput", None)
    return int(workerinput["workercount"]) if workerinput else 1
