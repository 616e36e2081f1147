"""Benchmark: time to a ready swarm, reset time between tests, total suite time.

Prints figures (medians of several runs); asserts nothing. The floor measured with plain
shell commands on a 2-core machine of this kind is 4.7 s to a ready three-manager swarm
with the workload image loaded; the target is at most 1.3x that, and resets under 1 s.

    python benchmarks/bench_cluster.py [--runs 5] [--resets 10] [--suite]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from swarmcheck.client.engine import host_client
from swarmcheck.cluster.cluster import running_cluster
from swarmcheck.machine import hostengine
from swarmcheck.machine.images import prepare_images
from swarmcheck.spec import ClusterSpec
from swarmcheck.workload.service import deploy_web

FLOOR_S = 4.7


def fmt(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} s  (min {min(values):.2f}, "
        f"max {max(values):.2f}, n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--resets", type=int, default=10)
    parser.add_argument("--managers", type=int, default=3)
    parser.add_argument("--suite", action="store_true", help="also time `pytest suites/` once")
    args = parser.parse_args()
    print(f"engine {hostengine.ensure_engine()}")
    host = host_client()
    spec = ClusterSpec(managers=args.managers)
    prepared = prepare_images(host, spec)

    ready, teardown, resets = [], [], []
    for run in range(args.runs):
        clock = time.monotonic()
        with running_cluster(host, spec, prepared) as cluster:
            ready.append(time.monotonic() - clock)
            print(f"run {run + 1}: ready in {ready[-1]:.2f} s ({cluster.timings})", flush=True)
            if run == 0:
                for _ in range(args.resets):
                    lead = deploy_web(cluster, "web", 3)
                    lead.create_network("bench-net")
                    clock_reset = time.monotonic()
                    cluster.reset()
                    resets.append(time.monotonic() - clock_reset)
            clock = time.monotonic()
        teardown.append(time.monotonic() - clock)

    print()
    print(f"ready {args.managers}-manager swarm (workload loaded): {fmt(ready)}")
    print(
        f"  vs shell floor {FLOOR_S} s: x{statistics.median(ready) / FLOOR_S:.2f} "
        f"(target <= x1.3 = {1.3 * FLOOR_S:.1f} s)"
    )
    print(f"reset after a 3-replica service + network:    {fmt(resets)}  (target < 1 s)")
    print(f"teardown (containers, network, volumes):      {fmt(teardown)}")
    if args.suite:
        clock = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "suites/", "-q", "-p", "no:cacheprovider"], check=False
        )
        print(
            f"total suite time (one run, exit {done.returncode}): {time.monotonic() - clock:.1f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
