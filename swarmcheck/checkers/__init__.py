"""Checkers: pure functions turning samples gathered during a test into a ``Verdict``."""

from __future__ import annotations

from swarmcheck.checkers.availability import (
    Probe,
    answer_histogram,
    check_availability,
    longest_gap,
)
from swarmcheck.checkers.convergence import ReplicaSample, check_converged
from swarmcheck.checkers.inventory import Inventory, check_nothing_lost
from swarmcheck.checkers.leaders import LeaderSample, check_single_leader
from swarmcheck.checkers.verdict import Figure, Verdict

__all__ = [
    "Figure",
    "Inventory",
    "LeaderSample",
    "Probe",
    "ReplicaSample",
    "Verdict",
    "answer_histogram",
    "check_availability",
    "check_converged",
    "check_nothing_lost",
    "check_single_leader",
    "longest_gap",
]
