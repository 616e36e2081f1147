"""How many checks this machine can run at once, each with swarms of its own.

A check mostly waits on Swarm (heartbeats, elections, restart delays, holds): measured here
(docs/speed.md), an idle node costs about 0.3 % of a core, a whole run about a fifth of the
CPU its wall time offers, so the waits of several checks can overlap on few cores. What
limits the overlap is the CPU of the bursts (bring-ups, rolling updates: up to a core each
for seconds), which time-budget checks must not be starved by, and memory: a worker holds a
swarm of up to six nodes (a few hundred MiB) plus its own Python process.
"""

from __future__ import annotations

import os
from pathlib import Path

GiB = 1024**3
CHECKS_PER_CPU = 3
"""Checks waiting at once per core (docs/speed.md: the measured CPU per check-second)."""
MAX_WORKERS = 8
"""Beyond this the pytest processes' own start-up and bring-ups cost more than they save."""
WORKER_MEMORY = 3 * GiB // 4
"""A worker's share: its largest swarm (5 managers + 1 worker) and its Python process."""
RESERVED_MEMORY = 2 * GiB
"""Left to the host engine, the page cache and everything else on the machine."""


def workers_for(cpus: int, available_memory: int, max_workers: int = MAX_WORKERS) -> int:
    """The number of workers (at least 1) for ``cpus`` cores and ``available_memory`` bytes."""
    by_cpu = max(1, cpus) * CHECKS_PER_CPU
    by_memory = max(1, (available_memory - RESERVED_MEMORY) // WORKER_MEMORY)
    return max(1, min(by_cpu, by_memory, max_workers))


def usable_cpus() -> int:
    """The cores this process may run on (its affinity, else the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def available_memory(meminfo: Path = Path("/proc/meminfo")) -> int:
    """MemAvailable in bytes (a generous default where /proc/meminfo cannot be read)."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 8 * GiB


def default_workers() -> int:
    """Workers for this machine, now."""
    return workers_for(usable_cpus(), available_memory())
