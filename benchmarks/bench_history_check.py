"""Benchmark: how long the history checker takes on a realistic history of 2,000 operations
(issue 21's target: under 10 s), for the CAS register and for the grow-only set.

The histories come from a simulated control plane that is linearizable by construction: each
operation takes effect at one instant between its call and its return, several clients run at
once, some writes time out (unknown outcome, applied or not), stale CAS writes fail ("update out
of sequence"), the engine bumps versions on its own, and a slow window (a fault) stretches calls.
They are recorded through the real HistoryRecorder, on a simulated clock.

Prints figures (median of several runs: the whole check as a caller sees it, and the Porcupine
search alone, as the Go checker reports it); asserts nothing.

    python benchmarks/bench_history_check.py [--ops 2000] [--runs 5] [--clients 6]
"""

from __future__ import annotations

import argparse
import functools
import heapq
import itertools
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from swarmcheck.checkers.history import (
    History,
    HistoryRecorder,
    JSONObject,
    PendingOperation,
    RecordingClient,
)
from swarmcheck.checkers.linearizable import check_linearizable
from swarmcheck.machine.history_checker import ensure_history_checker

MS = 1_000_000


@dataclass
class _Client:
    recorder_client: RecordingClient
    last_version: int
    pending: PendingOperation | None = None
    unknown: bool = False  # this operation's answer never comes (a timeout)
    counter: itertools.count[int] = field(default_factory=itertools.count)


class _Simulation:
    """Events in time order: a call, the instant the operation takes effect, its return.

    ``start(client)`` begins one operation and schedules its effect and its return; ``finish``
    records the outcome and schedules the client's next call, until ``operations`` were called.
    A slow window (0.2 s to 1.2 s: a fault) stretches every call made inside it 40 times.
    """

    FAULT = (200 * MS, 1200 * MS)

    def __init__(self, model: str, initial: JSONObject, clients: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.now = 0
        self.recorder = HistoryRecorder(model, initial=initial, clock=lambda: self.now)
        self.events: list[tuple[int, int, Callable[[], None]]] = []
        self.sequence = itertools.count()
        version = initial.get("version", 0)
        self.clients = [
            _Client(self.recorder.client(f"m{i % 3 + 1}-{i}"), version) for i in range(clients)
        ]
        self.remaining = 0
        self.start: Callable[[_Client], None] = lambda client: None

    def at(self, when: int, action: Callable[[], None]) -> None:
        heapq.heappush(self.events, (when, next(self.sequence), action))

    def durations(self) -> tuple[int, int]:
        """Call-to-effect and effect-to-return: a few ms, much longer inside the fault."""
        scale = 40 if self.FAULT[0] <= self.now <= self.FAULT[1] else 1
        return (
            self.rng.randint(1 * MS, 15 * MS) * scale,
            self.rng.randint(1 * MS, 15 * MS) * scale,
        )

    def run(self, operations: int, start: Callable[[_Client], None]) -> History:
        self.remaining, self.start = operations, start
        for client in self.clients:
            self.at(self.rng.randint(0, 5 * MS), functools.partial(self.call, client))
        while self.events:
            when, _, action = heapq.heappop(self.events)
            self.now = when
            action()
        return self.recorder.history()

    def call(self, client: _Client) -> None:
        if self.remaining > 0:
            self.remaining -= 1
            self.start(client)

    def finish(
        self, client: _Client, status: str, output: JSONObject | None = None, error: str = ""
    ) -> None:
        pending = client.pending
        assert pending is not None
        client.pending = None
        if client.unknown:
            status, error = "info", "context deadline exceeded"
        if status == "ok":
            pending.ok(output)
        elif status == "fail":
            pending.fail(error)
        else:
            pending.info(error)
        self.at(self.now + self.rng.randint(0, 3 * MS), functools.partial(self.call, client))


def simulate_register(
    operations: int,
    clients: int = 6,
    seed: int = 1,
    info_rate: float = 0.03,
    applied_rate: float = 0.5,
) -> History:
    """A linearizable CAS-register history: reads, CAS writes with the version last read."""
    sim = _Simulation("cas-register", {"version": 10, "value": "init"}, clients, seed)
    state: dict[str, Any] = {"version": 10, "value": "init", "index": 10}
    rng = sim.rng

    def bump() -> None:  # the allocator or updater writing the service
        state["index"] += rng.randint(1, 3)
        state["version"] = state["index"]

    def start(client: _Client) -> None:
        effect_in, return_in = sim.durations()
        unknown = client.unknown = rng.random() < info_rate
        if rng.random() < 0.5:
            client.pending = client.recorder_client.begin("read")
            seen: dict[str, Any] = {}

            def read() -> None:
                seen.update(version=state["version"], value=state["value"])
                if rng.random() < 0.02:
                    bump()

            def done_read() -> None:
                if not unknown:  # a client that got no answer keeps the version it knew
                    client.last_version = seen["version"]
                sim.finish(client, "ok", seen)

            sim.at(sim.now + effect_in, read)
            sim.at(sim.now + effect_in + return_in, done_read)
            return
        value = f"{client.recorder_client.process}-w{next(client.counter)}"
        expect = client.last_version
        client.pending = client.recorder_client.begin(
            "cas", {"expect_version": expect, "value": value}
        )
        applied: list[bool] = []

        def write() -> None:
            if expect == state["version"] and (not unknown or rng.random() < applied_rate):
                state["index"] += rng.randint(1, 2)
                state["version"] = state["index"]
                state["value"] = value
                applied.append(True)

        def done_write() -> None:
            if applied:
                sim.finish(client, "ok", {})
            else:
                sim.finish(
                    client, "fail", None, "rpc error: code = Unknown desc = update out of sequence"
                )

        sim.at(sim.now + effect_in, write)
        sim.at(sim.now + effect_in + return_in, done_write)

    return sim.run(operations, start)


def simulate_set(
    operations: int,
    clients: int = 6,
    seed: int = 1,
    info_rate: float = 0.03,
    applied_rate: float = 0.5,
) -> History:
    """A linearizable grow-only-set history: config creates under unique names, and lists."""
    sim = _Simulation("grow-only-set", {"names": []}, clients, seed)
    names: list[str] = []
    rng = sim.rng

    def start(client: _Client) -> None:
        effect_in, return_in = sim.durations()
        unknown = client.unknown = rng.random() < info_rate
        if rng.random() < 0.3:
            client.pending = client.recorder_client.begin("list")
            seen: list[str] = []
            sim.at(sim.now + effect_in, lambda: seen.extend(names))

            def done_list() -> None:
                sim.finish(client, "ok", {"names": list(seen)})

            sim.at(sim.now + effect_in + return_in, done_list)
            return
        name = f"{client.recorder_client.process}-c{next(client.counter)}"
        client.pending = client.recorder_client.begin("create", {"name": name})

        def create() -> None:
            if not unknown or rng.random() < applied_rate:
                names.append(name)

        def done_create() -> None:
            sim.finish(client, "ok", {"existed": False})

        sim.at(sim.now + effect_in, create)
        sim.at(sim.now + effect_in + return_in, done_create)

    return sim.run(operations, start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--clients", type=int, default=6)
    args = parser.parse_args()
    checker = ensure_history_checker()
    print(f"checker: {checker}")
    for simulate in (simulate_register, simulate_set):
        history = simulate(args.ops, args.clients)
        statuses = {
            s: sum(op.status == s for op in history.operations) for s in ("ok", "fail", "info")
        }
        clients = len({op.client for op in history.operations})
        wall, go = [], []
        for _ in range(args.runs):
            started = time.perf_counter()
            verdict = check_linearizable(history, checker, timeout_s=120)
            wall.append(time.perf_counter() - started)
            go.append(verdict.elapsed_s)
            if not verdict.ok:
                print(verdict.report())
                return 1
        print(
            f"{history.model:14} {len(history.operations)} ops ({statuses}, {clients} client ids, "
            f"{verdict.checked} checked): median {statistics.median(wall):.3f} s "
            f"(max {max(wall):.3f}; Porcupine search alone {statistics.median(go):.3f} s), "
            f"n={args.runs}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
