"""Benchmark: time to apply and to heal each fault kind, and failover / recovery times
against Docker's documented defaults (a new leader 10-20 s after the leader dies).

Prints figures (medians of several runs); asserts nothing.

    python benchmarks/bench_faults.py [--runs 3] [--failovers 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

from swarmcheck.client.engine import host_client
from swarmcheck.cluster import hostengine
from swarmcheck.cluster.cluster import Cluster, prepare_images, running_cluster
from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.faults import partition, process, toxics
from swarmcheck.faults.base import Fault, FaultLog
from swarmcheck.timing import Stopwatch
from swarmcheck.workload.service import deploy_web

DOC_ELECTION_S = (10.0, 20.0)

KINDS: dict[str, Callable[[Cluster, str, FaultLog], Fault]] = {
    "latency 500ms": lambda c, n, lg: toxics.latency(c, n, 500, 50, log=lg),
    "bandwidth 64KB/s": lambda c, n, lg: toxics.bandwidth(c, n, 64, log=lg),
    "timeout (black hole)": lambda c, n, lg: toxics.timeout(c, n, 0, log=lg),
    "reset_peer": lambda c, n, lg: toxics.reset_peer(c, n, 0, log=lg),
    "slow_close": lambda c, n, lg: toxics.slow_close(c, n, 1000, log=lg),
    "proxy_down": lambda c, n, lg: toxics.proxy_down(c, n, log=lg),
    "partition isolate": lambda c, n, lg: partition.isolate(c, n, log=lg),
    "partition one-way": lambda c, n, lg: partition.one_way(c, n, c.managers[0].name, log=lg),
    "pause node": lambda c, n, lg: process.pause_node(c, n, log=lg),
    "stop node": lambda c, n, lg: process.stop_node(c, n, log=lg),
    "kill node": lambda c, n, lg: process.kill_node(c, n, log=lg),
    "restart node": lambda c, n, lg: process.restart_node(c, n, log=lg),
    "kill -9 dockerd": lambda c, n, lg: process.kill_dockerd(c, n, log=lg),
}


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
        print(
            f"{'fault (on a follower manager)':28} {'apply':>22} {'heal':>22} {'whole again':>22}"
        )
        for kind, make in KINDS.items():
            apply_s, heal_s, whole_s = [], [], []
            for _ in range(args.runs):
                log = FaultLog()
                victim = next(m.name for m in cluster.managers if m.name != cluster.leader().name)
                fault = make(cluster, victim, log)
                with fault:
                    time.sleep(args.hold)
                window = log.windows()[-1]
                apply_s.append(window.apply_s or 0.0)
                heal_s.append(window.heal_s or 0.0)
                clock = Stopwatch()
                cluster.wait_healthy(120)
                whole_s.append(clock())
            print(f"{kind:28} {med(apply_s):>22} {med(heal_s):>22} {med(whole_s):>22}", flush=True)
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
