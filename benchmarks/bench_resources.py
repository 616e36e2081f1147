"""Resources of a run: peak memory (node containers, the pytest process) and disk, given back?

Runs a pytest command (default: the conformance suites) in a child process while a sampler
reads, every ``--interval`` seconds, the memory of every swarmcheck node container (cgroup usage
minus page cache, as `docker stats` shows it) summed per cluster, and the space used on the
filesystem of the engine's data root. Prints the peaks, the pytest process's peak RSS, and the
disk used before, at the peak and after the run (the difference after is what was not given
back). Targets: a 3-node cluster at most 1.5 GiB; disk back to where it started.

    python benchmarks/bench_resources.py [--interval 2] [-- pytest args...]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import defaultdict
from typing import Any

from swarmcheck import labels
from swarmcheck.client.engine import host_client

MiB = 1024 * 1024
TARGET_CLUSTER_MIB = 1536


def container_memory(stats: dict[str, Any]) -> int:
    """Bytes in use by a container, without reclaimable page cache (cgroup v1 and v2)."""
    memory = stats.get("memory_stats") or {}
    usage = int(memory.get("usage") or 0)
    detail = memory.get("stats") or {}
    cache = detail.get("total_inactive_file", detail.get("inactive_file", detail.get("cache", 0)))
    return max(usage - int(cache or 0), 0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("pytest_args", nargs="*", default=["suites/conformance", "--swarm=dind"])
    args = parser.parse_args()
    host = host_client()
    root = str(host.info().get("DockerRootDir", "/var/lib/docker"))
    disk_before = shutil.disk_usage(root).used
    peak_cluster: dict[str, int] = defaultdict(int)
    peak_disk = disk_before
    samples = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_disk, samples
        while not stop.is_set():
            per_run: dict[str, int] = defaultdict(int)
            for container in host.containers.list(filters={"label": f"{labels.ROLE}=node"}):
                try:
                    stats = container.stats(stream=False)
                except (
                    Exception
                ):  # docker or transport error: a node removed between list and stats
                    continue
                per_run[container.labels.get(labels.RUN, "?")] += container_memory(stats)
            for run, used in per_run.items():
                peak_cluster[run] = max(peak_cluster[run], used)
            peak_disk = max(peak_disk, shutil.disk_usage(root).used)
            samples += 1
            stop.wait(args.interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", *args.pytest_args], check=False)
    wall = time.monotonic() - started
    stop.set()
    sampler.join()
    time.sleep(1)
    disk_after = shutil.disk_usage(root).used
    pytest_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    worst = max(peak_cluster.values(), default=0)
    print(f"resources: pytest {' '.join(args.pytest_args)} exit {done.returncode}, {wall:.0f} s")
    print(f"  samples                         {samples} (every {args.interval:g} s)")
    print(
        f"  peak memory of one cluster      {worst / MiB:.0f} MiB over {len(peak_cluster)} "
        f"clusters (target <= {TARGET_CLUSTER_MIB} MiB)"
    )
    print(f"  peak RSS of the pytest process  {pytest_peak / MiB:.0f} MiB")
    grown_peak, grown_after = peak_disk - disk_before, disk_after - disk_before
    print(
        f"  disk used in {root}: before {disk_before / MiB:.0f} MiB, "
        f"peak +{grown_peak / MiB:.0f} MiB, after +{grown_after / MiB:.0f} MiB"
    )
    host.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
