"""What every area's operations share about promises: a wait for a documented behaviour
times out as a broken promise (``promise_timeout``), and a request Swarm must refuse is judged
by its refusal (``refused``)."""

from __future__ import annotations

from collections.abc import Callable

from swarmcheck.client.errors import translated
from swarmcheck.errors import (
    EngineAPIError,
    PromiseTimeout,
    SwarmPromiseBroken,
)


def promise_timeout(what: str, timeout_s: float, last_error: str | None) -> PromiseTimeout:
    """``wait_until``'s timeout for a documented behaviour: a broken promise, not a slow host."""
    return PromiseTimeout(what, timeout_s, last_error)  # the one factory (swarmcheck.errors)


# -- promises ----------------------------------------------------------------------------------
def refused(action: Callable[[], object], what: str) -> EngineAPIError:
    """Run ``action``, which Swarm must refuse; return the engine's error.

    An accepted action is a broken promise (the caller then checks status and message).
    """
    try:
        with translated():
            action()
    except EngineAPIError as exc:
        return exc
    raise SwarmPromiseBroken(f"{what} was accepted", expected="a refusal", seen="accepted")
