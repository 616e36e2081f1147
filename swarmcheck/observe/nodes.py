"""How the managers list the nodes over a window: each one's state and role as each observer
sees them, and when a silenced node is reported down."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from swarmcheck.checkers.leaders import LeaderSample
from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.interface import Swarm, SwarmNode
from swarmcheck.errors import PromiseTimeout
from swarmcheck.observe.sampler import Sampler
from swarmcheck.timing import Stopwatch, boot_clock, hold, wait_until


@dataclass(frozen=True)
class NodeStateSample:
    """At ``t`` (seconds after the sampler started) ``observer`` listed ``hostname`` as
    ``state``, and named ``leader`` (None: none) as the leader."""

    t: float
    observer: str
    hostname: str
    state: str
    role: str
    leader: str | None


class NodeStateSampler(Sampler[NodeStateSample]):
    """Asks each of ``observers`` for the node list every ``interval_s``, one after the other,
    with short timeouts so an election or a stopped manager costs a gap, never a hang. Each
    answer is also a leader sample (``leader_samples``)."""

    name = "node-state-sampler"

    def __init__(
        self,
        cluster: Swarm,
        observers: Sequence[SwarmNode],
        interval_s: float = 0.2,
        timeout_s: float = 2.0,
    ) -> None:
        super().__init__(interval_s, timeout_s * (len(observers) + 2))
        self.cluster = cluster
        self.observers = list(observers)
        self.timeout_s = timeout_s
        self.leader_samples: list[LeaderSample] = []

    def sample(self, t: float) -> list[NodeStateSample]:
        # one observer after the other, as an operator's `node ls` on each in turn
        found: list[NodeStateSample] = []
        for node in self.observers:
            for answer in self.ask_each(t, [node], self._ask):
                found += answer
        return found

    def _ask(self, node: SwarmNode) -> list[NodeStateSample]:
        t_boot = boot_clock()
        t = time.monotonic() - self.started
        with self.cluster.client(node, self.timeout_s) as client:
            infos = client.nodes()
        # answered: a frozen manager answers late, from a later moment than its round's
        view = LeaderSample.of_view(
            t_boot, node.name, (i.hostname for i in infos if i.leader), answered=boot_clock()
        )
        self.leader_samples.append(view)
        return [
            NodeStateSample(t, node.name, i.hostname, i.state, i.role, view.leader) for i in infos
        ]


SESSION_WAIT = re.compile(
    r'time="(?P<t>[^"]+)"[^\n]*'
    r'msg="waiting (?P<n>[0-9.]+)(?P<unit>ms|s) before registering session"'
)
"""The line a swarmkit agent logs before it registers a session with a manager (at start, and
after a session failed: a role change, a lost manager), with how long it waits first."""
SESSION_REGISTERED_S = 1.0
"""How long after its announced wait an agent's session counts as registered (the register
call itself); from then on its heartbeats flow."""
SESSION_LOG_LINES = 300


def session_registered_by(log: str) -> float | None:
    """When (seconds since the epoch) the agent's latest announced session registration is
    due, read from its daemon log; None when the log announces none (or cannot be read)."""
    due = None
    for match in SESSION_WAIT.finditer(log):
        stamp = match["t"].rstrip("Z")
        whole, _, fraction = stamp.partition(".")
        at = datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00").timestamp()
        wait = float(match["n"]) / (1000 if match["unit"] == "ms" else 1)
        due = at + wait + SESSION_REGISTERED_S
    return due


def wait_agent_session(node: SwarmNode, timeout_s: float = 30.0) -> None:
    """Wait until ``node``'s agent has registered the session it last announced. After a role
    change (a reset demoting a manager) or a lost manager, the agent waits up to its 8 s
    backoff before it registers again, and sends no heartbeat meanwhile, while the managers
    still list it ready; a check that times from the end of its heartbeats must not start
    inside that gap (SC-NODE-005 once saw a worker down 5.3 s after it was frozen: its session
    had failed when a reset demoted it, and it was still waiting to register)."""

    def settled() -> bool | None:
        due = session_registered_by(node.daemon_log_tail(SESSION_LOG_LINES))
        return True if due is None or time.time() >= due else None

    wait_until(
        settled,
        what=f"the agent on {node.name} to register its session with a manager",
        timeout_s=timeout_s,
        interval_s=0.5,
        timeout_error=PromiseTimeout,
    )


def watch_node_down(
    client: SwarmClient,
    node: SwarmNode,
    silence: Callable[[], object],
    *,
    not_before_s: float,
    budget_s: float,
) -> float:
    """Silence ``node`` (``silence()`` starts a fault that ends its heartbeats; it may take a
    while, e.g. a graceful stop) and watch the managers' view of it meanwhile: it must not be
    down before ``not_before_s`` (every look until then says so) and must be down by
    ``budget_s``, both counted from just before the fault. Return when it was seen down. The
    caller heals the fault. It starts only once the node's agent has a session (its heartbeats
    flow), so that the end of its heartbeats is the fault's start."""

    def state() -> str:
        return next(i.state for i in client.nodes() if i.id == node.node_id)

    wait_agent_session(node)
    failed: list[BaseException] = []

    def run() -> None:
        try:
            silence()
        except BaseException as exc:  # re-raised in the caller's thread below
            failed.append(exc)

    clock = Stopwatch()
    fault = threading.Thread(target=run, name=f"silence {node.name}", daemon=True)
    fault.start()
    try:
        hold(
            not_before_s,
            lambda: (
                f"{node.name} was reported down {clock():.1f} s after its heartbeats began to "
                f"end, before the heartbeat grace ({not_before_s:g} s)"
                if state() == "down"
                else None
            ),
            interval_s=0.2,
        )
    finally:
        fault.join()
    if failed:
        raise failed[0]
    wait_until(
        lambda: True if state() == "down" else None,
        what=f"{node.name} to be reported down within {budget_s:g} s of its heartbeats ending",
        timeout_s=max(0.1, budget_s - clock()),
        interval_s=0.2,
        timeout_error=PromiseTimeout,
    )
    return clock()
