"""swarmcheck's exception hierarchy: one root, so callers can catch everything we raise.

Three families matter to a person reading a report, and the reporting categories follow them:
- ``EnvironmentProblem`` (and ``ProvisioningError``, ``ReadinessTimeout``): this machine cannot
  run the check (no engine, no IPVS, a build failed, a node container could not start).
- ``SwarmPromiseBroken``: Swarm did not do what its documentation promises (a product failure):
  a checker's verdict, a wait for a documented behaviour that timed out (``PromiseTimeout``), a
  documented operation the swarm under test refused or failed (``SwarmRefused``), or a known
  engine defect seen with its exact signature (``KnownEngineDefect``: one subclass per defect,
  what a strict expected failure names).
- everything else: swarmcheck itself misbehaved or was misused (framework or input error).

A ``SwarmPromiseBroken`` is an ``AssertionError``, so pytest and Allure report it as a failed
check; the other families are "broken" (an error, not a verdict).
"""

from __future__ import annotations


class SwarmcheckError(Exception):
    """Root of every exception swarmcheck raises."""


class ConfigError(SwarmcheckError):
    """Bad option, marker or spec; the message says what was wrong and how to fix it."""


class EnvironmentProblem(SwarmcheckError):
    """The machine lacks something swarmcheck needs (engine, privileges, kernel feature)."""


class ImageBuildError(EnvironmentProblem):
    """A node, workload or Toxiproxy image could not be built."""


class ProvisioningError(SwarmcheckError):
    """A node or the swarm could not be brought up."""

    def __init__(self, message: str, node: str | None = None, log_tail: str | None = None) -> None:
        if log_tail:
            message = (
                f"{message}\n--- last lines of {node or 'the node'}'s daemon log ---\n{log_tail}"
            )
        super().__init__(message)
        self.node = node
        self.log_tail = log_tail


class ReadinessTimeout(ProvisioningError):
    """Waiting for a node, the swarm or a service to become ready took too long."""

    def __init__(
        self,
        waited_for: str,
        timeout_s: float,
        node: str | None = None,
        log_tail: str | None = None,
        last_error: str | None = None,
    ) -> None:
        message = f"timed out after {timeout_s:.0f}s waiting for {waited_for}"
        if last_error:
            message += f" (last error: {last_error})"
        super().__init__(message, node=node, log_tail=log_tail)
        self.waited_for = waited_for
        self.timeout_s = timeout_s


class EngineAPIError(SwarmcheckError):
    """A Docker Engine API call failed; carries the status code and the engine's explanation."""

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        explanation: str | None = None,
        node: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.explanation = explanation or message
        self.node = node


class DiskFull(EngineAPIError, EnvironmentProblem):
    """The engine (or this machine) ran out of disk space: building an image, importing it or
    loading the workload into a node. An environment problem, whatever the operation."""


DISK_FULL_FIX = (
    "free disk space where the engine keeps its data (`docker system df` shows what uses it; "
    "`swarmcheck sweep --images` removes the images swarmcheck built, `docker system prune` "
    "what nothing uses), then run again"
)
"""What to do about a full disk: every message about one ends with it."""


def is_disk_full(text: str) -> bool:
    """Whether an error text (the engine's, a tool's) says a disk is full (ENOSPC)."""
    return "no space left on device" in text.lower()


class NotFound(EngineAPIError):
    """The engine says the object does not exist."""


class EngineUnreachable(EngineAPIError):
    """The node's engine did not answer (stopped, paused, partitioned, or timed out)."""


class FaultError(SwarmcheckError):
    """A fault could not be injected or healed."""

    def __init__(self, message: str, fault: str, node: str | None = None) -> None:
        super().__init__(f"{fault}: {message}")
        self.fault = fault
        self.node = node


class FaultRecoveryError(FaultError):
    """Healing failed: the cluster can no longer be trusted and must be replaced."""


class SwarmPromiseBroken(SwarmcheckError, AssertionError):
    """A documented Swarm behaviour did not hold; an AssertionError so pytest reports a failure."""

    def __init__(self, message: str, expected: str | None = None, seen: str | None = None) -> None:
        parts = [message]
        if expected is not None:
            parts.append(f"expected: {expected}")
        if seen is not None:
            parts.append(f"seen:     {seen}")
        super().__init__("\n".join(parts))
        self.expected = expected
        self.seen = seen


class KnownEngineDefect(SwarmPromiseBroken):
    """A promise an engine is known to break, seen with that defect's exact signature.

    A strict expected failure names one subclass (``xfail(strict=True, raises=...)``), and a
    check raises it only when what it saw matches the defect exactly; anything else the check
    meets (a timeout, a refusal, another broken promise) stays a failure of the run. Each
    subclass's docstring says what the defect is and where it was seen."""


class UnhealthyStartReportedComplete(KnownEngineDefect):
    """SC-HEAL-009: a container found unhealthy before its first passing check is stopped and,
    when its process then exits 0, the engine reports the start as a success: the task ends
    ``complete`` with no error instead of ``failed`` as unhealthy (moby daemon/cluster/executor/
    container/controller.go Start; seen on 20.10.24, docs/engine-differences.md)."""


class CertExpiryNotApplied(KnownEngineDefect):
    """SC-PKI-004, SC-PKI-007: after `swarm update --cert-expiry D`, or `swarm init
    --cert-expiry D` (which moby applies as an update once the swarm has started), certificates
    the CA issues keep the previous validity: swarmkit's CA server rebuilds its signer, and so
    reads NodeCertExpiry, only when the root CA changes (ca/server.go UpdateRootCA; engines
    20.10, 26.1, 28.5)."""


class CheckerError(SwarmcheckError):
    """A checker could not reach a verdict (bad input), which is never a pass."""


class PromiseTimeout(SwarmPromiseBroken):
    """A wait for a documented Swarm behaviour (a leader, convergence, a replaced task, a whole
    swarm) did not see it within the budget: the promise is broken, not the machine.

    The signature fits ``wait_until(..., timeout_error=PromiseTimeout)``.
    """

    def __init__(
        self,
        waited_for: str,
        timeout_s: float,
        last_error: str | None = None,
        *,
        log_tail: str | None = None,
    ) -> None:
        message = (
            f"timed out after {timeout_s:.0f}s waiting for {waited_for}, a documented behaviour"
        )
        if last_error:
            message += f" (last seen: {last_error})"
        if log_tail:
            message += f"\n--- last lines of the nodes' daemon logs ---\n{log_tail}"
        super().__init__(message)
        self.waited_for = waited_for
        self.timeout_s = timeout_s
        self.last_error = last_error


class StaleReadOnDeposedLeader(SwarmPromiseBroken):
    """A manager that had lost its leadership without knowing it yet (frozen, or cut off from
    the other managers' Raft port) answered reads from its own store, older than writes the new
    leader had acknowledged; every other operation of the history was linearizable. A known
    engine behaviour (docs/consistency.md): swarmkit serves a leader's reads locally, with no
    quorum check, until CheckQuorum steps it down."""


class SwarmRefused(EngineAPIError, SwarmPromiseBroken):
    """An engine of the swarm under test answered a documented swarm operation with an error
    (it refused or failed it). Still an ``EngineAPIError``, so code that expects a refusal
    (``pytest.raises(EngineAPIError)``) keeps catching it; unexpected, it is a product failure."""


class SwarmNotFound(NotFound, SwarmRefused):
    """The swarm under test says a swarm object (service, node, task) does not exist."""


class NotOnExistingSwarm(EnvironmentProblem):
    """A check needs what only a swarm swarmcheck made offers (a node's container to stop,
    pause or run a command in, an engine nobody gave an address for): on an existing swarm the
    plugin skips the check with this reason."""


class EffectNotAllowed(NotOnExistingSwarm):
    """A call would have an effect on a swarm in use that the check now running may not
    have (it does not declare it, or the user did not allow it): the engine clients of an
    existing swarm refuse it before it is sent."""

    def __init__(self, message: str, effect: str) -> None:
        super().__init__(message)
        self.effect = effect


class HistoryCheckerUnavailable(EnvironmentProblem):
    """The history checker (a Go program using Porcupine, ``machine/history_checker.py``) is not
    built and cannot be built here: no Go, a Go too old, or no Go module proxy. Consistency
    checks skip with this reason; they never pass without a verdict."""
