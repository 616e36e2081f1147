"""No effect unless asked: swarmcheck switches itself on only for a swarm session.

Installed next to other plugins, swarmcheck must leave every other pytest run as it was: no
reports/ folder, no Allure or JUnit output nobody asked for, pytest's own SIGTERM behaviour,
testcontainers' settings untouched. It switches on (``activate``) when

- a swarmcheck option is given, on the command line or in the ini file: at configure time,
  before Allure and JUnit read their options; or
- the session collects a swarm test (an item with a ``swarm`` or ``swarmcheck`` marker, or
  one that uses the swarm fixtures): at the end of collection; under pytest-xdist the
  controller, which collects nothing, learns it from the first report a worker sends for a
  swarm test.

What switching on does: Allure results and JUnit XML under reports/ unless the user chose
other places (report.py), swarmcheck's progress lines on the terminal, library steps as Allure
steps, and SIGTERM unwinding like Ctrl-C so fixtures remove the swarm.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

import allure
import pytest

from swarmcheck.plugin.keys import ACTIVE_KEY
from swarmcheck.plugin.report import enable_report_defaults
from swarmcheck.plugin.roles import is_controller
from swarmcheck.steps import install_attacher, install_recorder

SWARM_MARKERS = ("swarm", "swarmcheck")
SWARM_FIXTURE = "swarm_pool"
"""Every fixture that hands out a swarm (swarm_cluster, swarm_fresh_cluster, and their old
names) depends on this one."""


def is_swarm_item(item: pytest.Item) -> bool:
    """Whether a test belongs to swarmcheck: a swarm/swarmcheck marker or the swarm fixtures."""
    if any(item.get_closest_marker(name) is not None for name in SWARM_MARKERS):
        return True
    return SWARM_FIXTURE in getattr(item, "fixturenames", ())


def active(config: pytest.Config) -> bool:
    return config.stash.get(ACTIVE_KEY, None) is not None


def activate(config: pytest.Config, why: str, *, early: bool) -> None:
    """Switch swarmcheck on for this session (once). ``early``: at configure time, before
    Allure and JUnit have read their options."""
    if active(config):
        return
    config.stash[ACTIVE_KEY] = why
    enable_report_defaults(config, early=early, controller=is_controller(config))
    _show_progress(config)
    previous = install_recorder(allure.step)  # library steps become Allure steps
    previous_attacher = install_attacher(_allure_attach)

    def restore_recorder() -> None:
        install_recorder(previous)
        install_attacher(previous_attacher)

    config.add_cleanup(restore_recorder)
    _sigterm_as_interrupt(config)


def _allure_attach(body: str, name: str, kind: str) -> None:
    kinds = {
        "text": allure.attachment_type.TEXT,
        "json": allure.attachment_type.JSON,
        "html": allure.attachment_type.HTML,
    }
    allure.attach(body, name, kinds[kind])


class TerminalLogHandler(logging.Handler):
    """Shows swarmcheck's progress lines (image builds, bring-ups, sweeps) as they happen."""

    def __init__(self, config: pytest.Config) -> None:
        super().__init__(logging.WARNING)
        self.config = config

    def emit(self, record: logging.LogRecord) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        line = f"[swarmcheck] {record.getMessage()}"
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(line)
        else:
            reporter.write_line(line)


def _show_progress(config: pytest.Config) -> None:
    logger = logging.getLogger("swarmcheck")
    handler = TerminalLogHandler(config)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)

    def restore() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)

    config.add_cleanup(restore)


def _sigterm_as_interrupt(config: pytest.Config) -> None:
    """A SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so fixtures remove the cluster."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (embedded use): leave signals alone
        return

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    config.add_cleanup(restore)
