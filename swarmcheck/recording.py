"""What a check records for its report beside its verdict: measured figures and availability
plots. Checks call what the plugin hands them (the ``figure`` and ``attach_availability``
fixtures) through these protocols, so they depend on no pytest or Allure internals; report
steps are ``swarmcheck.steps.step``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from swarmcheck.checkers.availability import Probe


class Recorder(Protocol):
    """Records a measured figure (a time, a count, a short text) under ``name``: shown in the
    terminal summary, JUnit properties and the Allure report."""

    def __call__(self, name: str, value: float | int | str, /) -> None: ...


class PlotAttacher(Protocol):
    """Attaches an availability plot of ``probes`` (what a client saw, request by request)
    titled ``title`` to the report."""

    def __call__(self, probes: Sequence[Probe], title: str, /) -> None: ...
