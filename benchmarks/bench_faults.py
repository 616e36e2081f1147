"""Benchmark: time to apply and to heal each fault kind of the registry (``faults.kinds``),
and failover / recovery times against Docker's documented defaults (a new leader 10-20 s
after the leader dies).

Prints figures (medians of several runs); asserts nothing.

    python benchmarks/bench_faults.py [--runs 3] [--failovers 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time

from swarmcheck.client.engine import host_client
from swarmcheck.cluster.cluster import running_cluster
from swarmcheck.faults import process
from swarmcheck.faults.base import FaultLog
from swarmcheck.faults.kinds import FAULT_KINDS, KINDS
from swarmcheck.faults.runner import build_fault
from swarmcheck.faults.schedule import PlannedFault
from swarmcheck.machine import hostengine
from swarmcheck.machine.images import prepare_images
from swarmcheck.spec import ClusterSpec
from swarmcheck.timing import Stopwatch
from swarmcheck.workload.service import deploy_web

DOC_ELECTION_S = (10.0, 20.0)

PARAMS_SEED = 0
"""Parameters of each kind are drawn as a schedule would, from this fixed seed."""


def planned(name: str, hold_s: float) -> PlannedFault:
    """One fault of kind ``name`` on a follower (or the kind's own target: a task, a minority)."""
    kind = KINDS[name]
    target = "follower" if "follower" in kind.targets else kind.targets[0]
    return PlannedFault(0.0, hold_s, name, target, kind.draw(random.Random(PARAMS_SEED)))


def med(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s (n={len(values)}, max {max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--failovers", type=int, default=3)
    parser.add_argument("--hold", type=float, default=3.0, help="seconds each fault stays on")
    args = parser.parse_args()
    hostengine.ensure_engine()
    host = host_client()
    spec = ClusterSpec(control_plane_proxy=True)
    with running_cluster(host, spec, prepare_images(host, spec)) as cluster:
        deploy_web(cluster, "web", 3)
        print(f"{'fault (on a follower)':28} {'apply':>22} {'heal':>22} {'whole again':>22}")
        for kind in FAULT_KINDS:
            apply_s, heal_s, whole_s = [], [], []
            plan = planned(kind, args.hold)
            label = " ".join([kind, *(f"{v}" for v in plan.params.values())])
            for run in range(args.runs):
                log = FaultLog()
                fault = build_fault(cluster, plan, random.Random(run), log, service="web")
                with fault:
                    time.sleep(args.hold)
                window = log.windows()[-1]
                apply_s.append(window.apply_s or 0.0)
                heal_s.append(window.heal_s or 0.0)
                clock = Stopwatch()
                cluster.wait_healthy(120)
                whole_s.append(clock())
            print(f"{label:28} {med(apply_s):>22} {med(heal_s):>22} {med(whole_s):>22}", flush=True)
        failover, recovery = [], []
        for _ in range(args.failovers):
            log = FaultLog()
            old = cluster.leader()
            clock = Stopwatch()
            with process.pause_node(cluster, old, log=log):
                cluster.wait_leader(90, exclude=old.name)
                failover.append(clock())
            clock = Stopwatch()
            cluster.wait_healthy(120)
            recovery.append(clock())
        print()
        print(
            f"leader failover (leader paused):   {med(failover)}  "
            f"documented: a new leader in {DOC_ELECTION_S[0]:.0f}-{DOC_ELECTION_S[1]:.0f} s"
        )
        print(f"recovery after unpause (whole):   {med(recovery)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
