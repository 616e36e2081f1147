"""What an error from a control-API call means for a recorded history: certainly not applied
(``fail``) or unknown (``info``), following what swarmkit and moby document for each error
(docs/consistency.md, "The outcome rules"; the anchors' §3.4).

Pure functions over swarmcheck's own exceptions (``client.errors`` translated the docker-py
ones), so the rules are unit-tested without a swarm. Anything not known to be a refusal is
``info``: calling an applied write failed would make the checker judge a history the swarm did
not produce, while calling a refused one unknown only costs the checker a branch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from swarmcheck.errors import EngineAPIError, EngineUnreachable

Failure = Literal["fail", "info"]

REFUSALS: tuple[tuple[str, str], ...] = (
    (
        "update out of sequence",
        "the version sent is not the service's version: swarmkit compares them under the "
        "store's update lock and refuses before proposing anything to Raft",
    ),
    (
        "This node is not a swarm manager",
        "503 from moby before any call reaches the control API",
    ),
    (
        "more than one redirect",
        "the control API's proxy refuses a second forward before sending it",
    ),
)
"""Documented refusals (substrings of the engine's explanation) and why each is certain."""

NOT_SENT: tuple[str, ...] = ("Connection refused", "No such file or directory")
"""Transport errors raised while connecting to the node's engine socket: the request was
never written, so nothing can have been applied (a dead or restarting engine)."""

ALREADY_EXISTS = "already exists"
"""409 for a create: with a unique name, the create was applied (perhaps re-sent by the
control API's proxy after a connection error)."""

NO_SUCH_SERVICE = "(no such service)"
"""The value a register read records when the engine says the service does not exist: the
register never lacks its service, so the checker flags such a read as a value nobody wrote."""


@dataclass(frozen=True)
class Outcome:
    """How one failed call is recorded: its status and the text kept in the history."""

    status: Failure
    error: str


def failure_of(error: EngineAPIError) -> Outcome:
    """``fail`` for a documented refusal or a request never sent, else ``info``."""
    explanation = error.explanation or str(error)
    if isinstance(error, EngineUnreachable):
        text = str(error)
        for phrase in NOT_SENT:
            if phrase in text:
                return Outcome("fail", f"not sent: {_first_line(text)}")
        return Outcome("info", _first_line(text))
    for phrase, _why in REFUSALS:
        if phrase in explanation:
            return Outcome("fail", _described(error))
    return Outcome("info", _described(error))


def is_already_exists(error: EngineAPIError) -> bool:
    """A create answered 409 "already exists"."""
    return error.status_code == 409 and ALREADY_EXISTS in (error.explanation or "")


def is_not_found(error: EngineAPIError) -> bool:
    return error.status_code == 404


def _described(error: EngineAPIError) -> str:
    code = f"{error.status_code}: " if error.status_code is not None else ""
    return code + _first_line(error.explanation or str(error))


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0][:300] if lines else ""
