"""The fast mode by default: a run of the swarm suites spreads its checks over pytest-xdist
workers without being asked (``--swarm-parallel``, default ``auto``).

The suites mostly wait on Swarm, so overlapping the waits of several checks is what makes a
run short (docs/speed.md). xdist decides how many workers to start before anything is
collected, so the choice is made here, in ``pytest_cmdline_main`` before xdist reads
``-n``, from what the command line says:

- ``-n N`` (``-n 0`` too), ``--dist``, ``-p no:xdist``, ``--collect-only`` or ``--pdb``: the
  user chose, nothing changes;
- ``--swarm-parallel=off``: one check at a time; ``--swarm-parallel=N``: N workers;
- ``auto`` (the default): workers sized from this machine's CPUs and memory
  (``machine.capacity``), but only when every test path given lies in a swarm suites folder
  (a ``suites`` folder with a conftest.py and conformance/, chaos/ or release/ in it: this
  checkout's or the shipped copy) and the run is not a nightly chaos night (one schedule, one
  swarm), an existing swarm (one swarm shared with its users) or ``--swarm=none``. Other
  sessions that merely load the plugin (a project's own tests, swarmcheck's tests) keep
  pytest's one-at-a-time.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from swarmcheck.config import CHAOS_DURATION, CHAOS_SCHEDULE, PARALLEL, SUBNET, SWARM
from swarmcheck.machine.capacity import default_workers
from swarmcheck.plugin.options import given
from swarmcheck.plugin.roles import is_worker
from swarmcheck.shipped import SUITE_FOLDERS

OFF = ("off", "0", "no", "false")


def _user_chose(config: pytest.Config) -> bool:
    """Whether the command line already says how to distribute (or cannot distribute)."""
    option = config.option
    if not hasattr(option, "numprocesses") or option.numprocesses is not None:
        return True  # no xdist, or -n given
    args = [
        *config.invocation_params.args,
        *config.getini("addopts"),
        *shlex.split(os.environ.get("PYTEST_ADDOPTS", "")),
    ]
    chose_dist = any(str(a) == "--dist" or str(a).startswith("--dist=") for a in args)
    return bool(
        chose_dist
        or getattr(option, "tx", None)
        or option.collectonly
        or config.getoption("usepdb", False)
    )


def suites_folder(path: Path) -> bool:
    """Whether ``path`` lies in a swarm suites folder (see the module's docstring)."""
    for folder in (path, *path.parents):
        if folder.name == "suites" and (folder / "conftest.py").is_file():
            return any((folder / name).is_dir() for name in SUITE_FOLDERS)
    return False


def _only_suites(config: pytest.Config) -> bool:
    paths = [str(a).split("::", 1)[0] for a in config.args] or [str(config.invocation_params.dir)]
    base = config.invocation_params.dir
    return all(suites_folder((base / p).resolve()) for p in paths)


def requested_workers(config: pytest.Config) -> int | None:
    """The number of workers to start (None: leave the session as it is)."""
    if is_worker(config) or _user_chose(config):
        return None
    value = (given(config, PARALLEL).value or "auto").strip().lower()
    if value in OFF:
        return None
    if value != "auto":
        try:
            count = int(value)
        except ValueError:
            raise pytest.UsageError(
                f"{PARALLEL.flag}={value!r}: give a number of workers, auto or off"
            ) from None
        if count < 0:
            raise pytest.UsageError(f"{PARALLEL.flag}={value}: give 0 or more workers")
        return count or None
    one_swarm = (given(config, SWARM).value or "dind") != "dind"
    nightly = any(given(config, o).value for o in (CHAOS_DURATION, CHAOS_SCHEDULE, SUBNET))
    if one_swarm or nightly or not _only_suites(config):
        return None
    return default_workers()


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """Set -n as if given. pytest-xdist's own hook turns -n into workers in this same
    (tryfirst) hook, before or after this one: what it derives from -n is set here too."""
    workers = requested_workers(config)
    if workers:
        config.option.numprocesses = workers
        if config.option.dist == "no":
            config.option.dist = "load"
        config.option.tx = ["popen"] * workers
