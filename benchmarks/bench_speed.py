"""Where a run's time and CPU go: wall, CPU-seconds of this run's own processes and containers
per phase, clusters started, peak memory, the slowest checks. Figures, medians of several
runs; it asserts nothing.

    python benchmarks/bench_speed.py all [--runs 3]      # one at a time, fast, quick
    python benchmarks/bench_speed.py suite [--runs 3] [--label serial] [-- pytest args]
    python benchmarks/bench_speed.py micro [--runs 3]

``suite`` runs pytest (default: the conformance suites) in a child process with the phase
probe (benchmarks/speed_probe.py) while a sampler reads, every ``--interval`` seconds:

- the CPU (cgroup v1 ``cpuacct.usage``) of every node container this run started (found by
  their owner-pid label: the pytest process or one of its xdist workers) and of the task
  containers inside them (the inner engines put those in ``/swarmcheck-<node>/<id>`` cgroups:
  each is matched to its node through its shim's cgroup);
- the CPU (utime + stime) of the pytest process tree;
- the host engine's dockerd and containerd (shared with every other user of the machine: an
  upper bound of what this run cost them);
- the memory of each cluster (nodes + tasks, without page cache) and the pytest tree's RSS;
- the whole machine (/proc/stat) and the load average, for context only.

Each CPU delta goes to the phase its process was in (the node containers' to the phase of the
process that owns them; a swarm shared by several processes to "shared swarm"): bring-up,
restore (the health check before a test), setup and teardown of a test (attachments), call,
reset, release, session (start, collection, reports).

``micro`` brings a swarm up step by step in this process and measures each step's CPU (nodes
and engines, workload image loads, swarm init and joins, readiness), then the engines idle
(without and with a service), the cost of one health check (`node ls` from every manager),
one reset, and the teardown.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CPUACCT = Path("/sys/fs/cgroup/cpuacct")
MEMORY = Path("/sys/fs/cgroup/memory")
TICK = os.sysconf("SC_CLK_TCK")
MiB = 1024 * 1024
OWNER_PID = "io.swarmcheck.owner-pid"
RUN = "io.swarmcheck.run"
SHARED = "io.swarmcheck.shared"


# -- reading the machine ---------------------------------------------------------------------
def read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def proc_cpu_s(pid: int) -> float | None:
    """utime + stime of one process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = defaultdict(list)
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        kids[ppid].append(int(entry.name))
    return kids


def tree(root: int) -> set[int]:
    kids = children_map()
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in found:
            continue
        found.add(pid)
        todo.extend(kids.get(pid, ()))
    return found


def parent_of(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def docker_cgroup_of(pid: int) -> str | None:
    """The host container (64-hex id) whose cpuacct cgroup holds ``pid``."""
    try:
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "cpuacct" in controllers.split(","):
                found = re.match(r"^/docker/([0-9a-f]{64})", path)
                return found.group(1) if found else None
    except OSError:
        pass
    return None


def machine_cpu_s() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    busy = sum(int(x) for i, x in enumerate(fields) if i not in (3, 4))  # not idle, iowait
    return busy / TICK


def host_engine_pids() -> list[int]:
    """The host's dockerd and containerd (whose parent is not a container's shim)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry.name}/comm").read_text().strip()
        except OSError:
            continue
        if comm in ("dockerd", "containerd") and docker_cgroup_of(int(entry.name)) is None:
            found.append(int(entry.name))
    return found


def memory_of(cgroup: Path) -> int:
    usage = read_int(cgroup / "memory.usage_in_bytes") or 0
    try:
        stat = dict(
            (k, int(v))
            for k, v in (line.split() for line in (cgroup / "memory.stat").read_text().splitlines())
        )
    except (OSError, ValueError):
        return usage
    return max(usage - stat.get("total_inactive_file", 0), 0)


# -- the sampler -----------------------------------------------------------------------------
@dataclass
class NodeInfo:
    run: str
    owner: int
    shared: bool


@dataclass
class Sampler:
    """Reads the CPU and memory of one run (the pytest process ``root`` and its tree)."""

    root: int
    interval: float = 0.25
    host: Any = None
    nodes: dict[str, NodeInfo | None] = field(default_factory=dict)
    """host container id -> this run's node (None: not ours)."""
    tasks: dict[str, str | None] = field(default_factory=dict)
    """inner cgroup path -> host container id of its node (None: not ours / unknown)."""
    last: dict[str, float] = field(default_factory=dict)
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    """(time, {key: CPU seconds since the previous sample}); keys: pid:N, run:ID, host."""
    peak_cluster: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    peak_rss_sum: int = 0
    peak_rss_max: int = 0
    pids: set[int] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    _tree_read: float = -1e9

    def _node(self, cid: str) -> NodeInfo | None:
        if cid not in self.nodes:
            try:
                labels = self.host.api.inspect_container(cid)["Config"]["Labels"] or {}
            except Exception:  # gone already, or not a container: not ours
                labels = {}
            owner = int(labels.get(OWNER_PID, "0") or 0)
            ours = labels.get("io.swarmcheck.role") == "node" and owner in self.pids
            self.nodes[cid] = (
                NodeInfo(labels.get(RUN, "?"), owner, labels.get(SHARED) == "true")
                if ours
                else None
            )
        return self.nodes[cid]

    def _task_node(self, cgroup: Path) -> str | None:
        key = str(cgroup)
        if key not in self.tasks:
            try:
                pid = int((cgroup / "cgroup.procs").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return None  # empty: try again later
            node = None
            for _ in range(6):
                pid = parent_of(pid) or 0
                if pid <= 1:
                    break
                node = docker_cgroup_of(pid)
                if node:
                    break
            self.tasks[key] = node
        return self.tasks[key]

    def read(self) -> dict[str, float]:
        """Cumulative CPU seconds by key."""
        now: dict[str, float] = {}
        if time.monotonic() - self._tree_read > 2.0:
            self.pids |= tree(self.root)
            self._tree_read = time.monotonic()
        for pid in list(self.pids):
            cpu = proc_cpu_s(pid)
            if cpu is not None:
                now[f"pid:{pid}"] = cpu
        docker_dir = CPUACCT / "docker"
        for entry in os.scandir(docker_dir) if docker_dir.is_dir() else ():
            if len(entry.name) != 64:
                continue
            info = self._node(entry.name)
            if info is None:
                continue
            usage = read_int(Path(entry.path) / "cpuacct.usage")
            if usage is not None:
                now[f"node:{entry.name}"] = usage / 1e9
        for parent in CPUACCT.glob("swarmcheck-*"):
            for entry in os.scandir(parent):
                if len(entry.name) != 64:
                    continue
                node = self._task_node(Path(entry.path))
                if node is None or self.nodes.get(node) is None:
                    continue
                usage = read_int(Path(entry.path) / "cpuacct.usage")
                if usage is not None:
                    now[f"task:{node}:{entry.name}"] = usage / 1e9
        for pid in host_engine_pids():
            cpu = proc_cpu_s(pid)
            if cpu is not None:
                now[f"host:{pid}"] = cpu
        now["machine"] = machine_cpu_s()
        return now

    def _memory(self) -> None:
        per_run: dict[str, int] = defaultdict(int)
        for cid, info in self.nodes.items():
            if info is not None:
                per_run[info.run] += memory_of(MEMORY / "docker" / cid)
        for key, node in self.tasks.items():
            info = self.nodes.get(node or "")
            if info is not None:
                per_run[info.run] += memory_of(MEMORY / Path(key).relative_to(CPUACCT))
        for run, used in per_run.items():
            self.peak_cluster[run] = max(self.peak_cluster[run], used)
        rss = [proc_rss(p) for p in self.pids]
        self.peak_rss_sum = max(self.peak_rss_sum, sum(rss))
        self.peak_rss_max = max(self.peak_rss_max, max(rss, default=0))

    def run(self) -> None:
        tick = 0
        self.last = self.read()
        while not self.stop.wait(self.interval):
            now = self.read()
            delta = {
                k: v - self.last.get(k, 0.0) for k, v in now.items() if v >= self.last.get(k, 0)
            }
            # a key seen for the first time counts from zero: a container started and used
            self.samples.append((time.time(), {k: v for k, v in delta.items() if v > 0}))
            self.last.update(now)
            tick += 1
            if tick % 8 == 0:
                self._memory()


# -- phases ----------------------------------------------------------------------------------
PRIORITY = ["bring-up", "release", "reset", "restore", "call", "setup", "teardown"]


@dataclass
class Timeline:
    """Per process: sorted (start, end, phase) segments, the innermost phase winning."""

    segments: dict[int, list[tuple[float, float, str]]]
    tests: dict[str, dict[str, float]]
    effects: dict[str, list[str]]
    calls: dict[str, dict[str, list[str]]]
    outcomes: dict[str, str]
    bringups: int
    workers: dict[int, str]

    def phase_at(self, pid: int, t: float) -> str:
        segs = self.segments.get(pid)
        if not segs:
            return "session"
        index = bisect.bisect_right(segs, (t, float("inf"), "")) - 1
        if index >= 0 and segs[index][0] <= t < segs[index][1]:
            return segs[index][2]
        return "session"


def load_timeline(folder: Path) -> Timeline:
    intervals: dict[int, list[tuple[float, float, str]]] = defaultdict(list)
    tests: dict[str, dict[str, float]] = defaultdict(dict)
    effects: dict[str, list[str]] = {}
    calls: dict[str, dict[str, list[str]]] = {}
    outcomes: dict[str, str] = {}
    workers: dict[int, str] = {}
    bringups = 0
    for path in folder.glob("*.jsonl"):
        open_: dict[tuple[str, str], float] = {}
        for line in path.read_text().splitlines():
            ev = json.loads(line)
            pid = ev["pid"]
            kind = ev["ev"]
            if kind == "process":
                workers[pid] = ev.get("worker", "?")
            elif kind == "start":
                open_[(ev["phase"], ev.get("test", ""))] = ev["t"]
            elif kind == "end":
                key = (ev["phase"], ev.get("test", ""))
                start = open_.pop(key, None)
                if start is None:
                    continue
                intervals[pid].append((start, ev["t"], ev["phase"]))
                if ev["phase"] == "bring-up":
                    bringups += 1
                if key[1]:
                    tests[key[1]][ev["phase"]] = ev["t"] - start
            elif kind == "effects":
                effects[ev["test"]] = ev["effects"]
                calls[ev["test"]] = ev["calls"]
            elif kind == "outcome" and (ev["when"] == "call" or ev["test"] not in outcomes):
                outcomes[ev["test"]] = ev["outcome"]
    segments: dict[int, list[tuple[float, float, str]]] = {}
    for pid, spans in intervals.items():
        # cut the time line at every boundary; each piece takes its most specific phase
        cuts = sorted({t for s, e, _ in spans for t in (s, e)})
        pieces = []
        for a, b in itertools.pairwise(cuts):
            mid = (a + b) / 2
            active = [p for s, e, p in spans if s <= mid < e]
            if active:
                pieces.append((a, b, min(active, key=PRIORITY.index)))
        segments[pid] = pieces
    return Timeline(segments, dict(tests), effects, calls, outcomes, bringups, workers)


# -- one run ---------------------------------------------------------------------------------
@dataclass
class RunFigures:
    wall_s: float
    exit_code: int
    loadavg: tuple[float, float, float]
    loadavg_start: tuple[float, float, float]
    own_cpu_s: float
    pytest_cpu_s: float
    nodes_cpu_s: float
    host_engine_cpu_s: float
    machine_cpu_s: float
    by_phase: dict[str, dict[str, float]]
    clusters: int
    peak_cluster_mib: float
    clusters_seen: int
    peak_rss_sum_mib: float
    peak_rss_max_mib: float
    slowest: list[tuple[str, float]]
    wall_by_phase: dict[str, dict[str, float]]
    """worker -> phase -> seconds of wall time (where each process's time went)."""
    outcomes: dict[str, int]
    effects: dict[str, list[str]]
    calls: dict[str, dict[str, list[str]]]


def attribute(sampler: Sampler, timeline: Timeline) -> dict[str, dict[str, float]]:
    """CPU seconds by phase and by kind (pytest, nodes, host engine)."""
    by_phase: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for t, delta in sampler.samples:
        for key, cpu in delta.items():
            kind, _, rest = key.partition(":")
            if kind == "machine":
                continue
            if kind == "host":
                by_phase["(host engine, shared)"]["host"] += cpu
                continue
            if kind == "pid":
                pid = int(rest)
                by_phase[timeline.phase_at(pid, t)]["pytest"] += cpu
                continue
            cid = rest.split(":")[0]
            info = sampler.nodes.get(cid)
            if info is None:
                continue
            phase = "shared swarm" if info.shared else timeline.phase_at(info.owner, t)
            by_phase[phase]["nodes" if kind == "node" else "tasks"] += cpu
    return {p: dict(v) for p, v in by_phase.items()}


def run_suite(pytest_args: list[str], interval: float, keep: bool = False) -> RunFigures:
    from swarmcheck.client.engine import host_client

    host = host_client()
    log_dir = Path(tempfile.mkdtemp(prefix="swarmcheck-speed-"))
    env = dict(os.environ, SWARMCHECK_SPEED_LOG=str(log_dir))
    env["PYTEST_PLUGINS"] = ",".join(
        p for p in (env.get("PYTEST_PLUGINS", ""), "benchmarks.speed_probe") if p
    )
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    before_children = os.times()
    load_start = os.getloadavg()
    started = time.monotonic()
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *pytest_args],
        cwd=ROOT,
        env=env,
    )
    sampler = Sampler(root=child.pid, interval=interval, host=host)
    thread = threading.Thread(target=sampler.run, daemon=True)
    thread.start()
    code = child.wait()
    wall = time.monotonic() - started
    sampler.stop.set()
    thread.join()
    after_children = os.times()
    pytest_total = (after_children.children_user - before_children.children_user) + (
        after_children.children_system - before_children.children_system
    )
    timeline = load_timeline(log_dir)
    by_phase = attribute(sampler, timeline)
    nodes = sum(v.get("nodes", 0) + v.get("tasks", 0) for v in by_phase.values())
    host_engine = sum(v.get("host", 0) for v in by_phase.values())
    machine = sum(d.get("machine", 0) for _, d in sampler.samples)
    slowest = sorted(
        (
            (test, sum(p.get(k, 0) for k in ("setup", "call", "teardown")))
            for test, p in timeline.tests.items()
        ),
        key=lambda x: -x[1],
    )[:10]
    outcomes: dict[str, int] = defaultdict(int)
    for outcome in timeline.outcomes.values():
        outcomes[outcome] += 1
    wall_by_phase: dict[str, dict[str, float]] = {}
    for pid, segs in timeline.segments.items():
        name = timeline.workers.get(pid, str(pid))
        spent: dict[str, float] = defaultdict(float)
        for a, b, phase in segs:
            spent[phase] += b - a
        spent["(outside tests)"] = wall - sum(spent.values())
        wall_by_phase[name] = dict(spent)
    if keep:
        print(f"bench_speed: the probe's logs are in {log_dir}")
    else:
        shutil.rmtree(log_dir, ignore_errors=True)
    host.close()
    return RunFigures(
        wall_s=wall,
        exit_code=code,
        loadavg=os.getloadavg(),
        loadavg_start=load_start,
        own_cpu_s=pytest_total + nodes,
        pytest_cpu_s=pytest_total,
        nodes_cpu_s=nodes,
        host_engine_cpu_s=host_engine,
        machine_cpu_s=machine,
        by_phase=by_phase,
        clusters=timeline.bringups,
        clusters_seen=len({i.run for i in sampler.nodes.values() if i is not None}),
        peak_cluster_mib=max(sampler.peak_cluster.values(), default=0) / MiB,
        peak_rss_sum_mib=sampler.peak_rss_sum / MiB,
        peak_rss_max_mib=sampler.peak_rss_max / MiB,
        slowest=slowest,
        wall_by_phase=wall_by_phase,
        outcomes=dict(outcomes),
        effects=timeline.effects,
        calls=timeline.calls,
    )


def med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def print_suite(label: str, runs: list[RunFigures]) -> None:
    n = len(runs)
    print(f"\n== {label}: {n} run{'s' if n > 1 else ''} (medians) ==")
    print(
        f"wall                  {med([r.wall_s for r in runs]):7.1f} s   "
        f"(each: {', '.join(f'{r.wall_s:.0f}' for r in runs)}; exit "
        f"{', '.join(str(r.exit_code) for r in runs)}; load average at start -> end "
        f"{', '.join(f'{r.loadavg_start[0]:.1f} -> {r.loadavg[0]:.1f}' for r in runs)})"
    )
    print(
        f"own CPU               {med([r.own_cpu_s for r in runs]):7.1f} s   "
        f"= pytest processes {med([r.pytest_cpu_s for r in runs]):.1f} + node containers "
        f"and their tasks {med([r.nodes_cpu_s for r in runs]):.1f}"
    )
    print(
        f"host dockerd+containerd {med([r.host_engine_cpu_s for r in runs]):5.1f} s   "
        "(shared with the machine's other users: an upper bound)"
    )
    print(
        f"whole machine         {med([r.machine_cpu_s for r in runs]):7.1f} s   "
        "(everybody's: context only)"
    )
    print(
        f"clusters started      {med([r.clusters for r in runs]):7.0f}     "
        f"(distinct swarms seen: {med([r.clusters_seen for r in runs]):.0f})"
    )
    print(
        f"peak memory           {med([r.peak_cluster_mib for r in runs]):7.0f} MiB one "
        f"cluster; pytest RSS {med([r.peak_rss_sum_mib for r in runs]):.0f} MiB all processes"
        f" (largest {med([r.peak_rss_max_mib for r in runs]):.0f})"
    )
    outcomes = runs[-1].outcomes
    print(f"outcomes (last run)   {', '.join(f'{v} {k}' for k, v in sorted(outcomes.items()))}")
    phases = sorted({p for r in runs for p in r.by_phase})
    print(f"\n{'CPU-seconds by phase':24} {'pytest':>8} {'nodes':>8} {'tasks':>8} {'host':>8}")
    for phase in phases:
        cols = [
            med([r.by_phase.get(phase, {}).get(kind, 0.0) for r in runs])
            for kind in ("pytest", "nodes", "tasks", "host")
        ]
        print(f"{phase:24} " + " ".join(f"{c:8.1f}" for c in cols))
    last = runs[-1].wall_by_phase
    phases_seen = sorted({p for spent in last.values() for p in spent})
    print("\nwall seconds by phase, per process (last run)")
    print(f"{'process':12} " + " ".join(f"{p[:10]:>10}" for p in phases_seen))
    for name, spent in sorted(last.items()):
        print(f"{name:12} " + " ".join(f"{spent.get(p, 0.0):10.0f}" for p in phases_seen))
    print("\nslowest checks (last run: setup + call + teardown)")
    for test, seconds in runs[-1].slowest:
        print(f"  {seconds:6.1f} s  {test}")


MODES = {
    "one at a time (-n 0)": ["suites/conformance", "-n", "0"],
    "fast (the default)": ["suites/conformance"],
    "quick (--swarm-quick)": ["suites/conformance", "--swarm-quick"],
}
"""What ``all`` runs: the conformance suites in each mode."""


def measure(label: str, pytest_args: list[str], args: argparse.Namespace) -> list[RunFigures]:
    runs = []
    for index in range(args.runs):
        print(
            f"bench_speed: {label} run {index + 1}/{args.runs}: pytest {' '.join(pytest_args)}",
            flush=True,
        )
        runs.append(run_suite(pytest_args, args.interval, args.keep_logs))
    return runs


def suite_main(args: argparse.Namespace) -> int:
    if args.what == "all":
        measured = {label: measure(label, argv, args) for label, argv in MODES.items()}
    else:
        measured = {args.label: measure(args.label, args.pytest_args, args)}
    for label, runs in measured.items():
        print_suite(label, runs)
    if args.json:
        data = {label: [r.__dict__ for r in runs] for label, runs in measured.items()}
        Path(args.json).write_text(json.dumps(data, indent=1, default=list) + "\n")
        print(f"\nfigures and each check's observed effects: {args.json}")
    return 0


# -- micro: one swarm, step by step ------------------------------------------------------------
@contextmanager
def measured(
    name: str, sampler: Sampler, out: dict[str, list[tuple[float, float, float]]]
) -> Iterator[None]:
    """Wall, node-container CPU and this process's CPU of one step."""
    before, started, own = sampler.read(), time.monotonic(), time.process_time()
    yield
    after = sampler.read()
    nodes = sum(
        v - before.get(k, 0.0) for k, v in after.items() if k.startswith(("node:", "task:"))
    )
    host = sum(v - before.get(k, 0.0) for k, v in after.items() if k.startswith("host:"))
    out.setdefault(name, []).append(
        (time.monotonic() - started, nodes, time.process_time() - own + 0 * host)
    )
    out.setdefault(f"{name} [host engine]", []).append((0.0, host, 0.0))


def micro_once(out: dict[str, list[tuple[float, float, float]]], idle_s: float) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from swarmcheck.client.engine import host_client
    from swarmcheck.cluster import pool as pool_module
    from swarmcheck.cluster.cluster import INNER_BIP, INNER_POOL, Cluster
    from swarmcheck.cluster.network import create_network, node_ip
    from swarmcheck.cluster.node import start_node
    from swarmcheck.labels import new_run_id
    from swarmcheck.machine import images
    from swarmcheck.machine.images import prepare_images
    from swarmcheck.spec import ClusterSpec
    from swarmcheck.workload.service import deploy_web

    host = host_client()
    spec = ClusterSpec(managers=3, workers=1)
    prepared = prepare_images(host, spec)
    sampler = Sampler(root=os.getpid(), host=host)
    cluster = Cluster(spec=spec, run_id=new_run_id(), host=host)
    try:
        names, entrypoint = spec.node_names(), images.node_entrypoint()
        with measured("1 nodes: containers started, engines answering", sampler, out):
            cluster.network, cluster.subnet = create_network(host, cluster.run_id, None)
            for index, name in enumerate(names):
                cluster.nodes.append(
                    start_node(
                        host,
                        run_id=cluster.run_id,
                        name=name,
                        role="manager" if index < spec.managers else "worker",
                        image=prepared.node,
                        network=cluster.network,
                        ip=node_ip(cluster.subnet, index),
                        entrypoint=entrypoint,
                        inner_bip=INNER_BIP,
                        inner_pool=INNER_POOL,
                    )
                )
                sampler.read()  # learn the new container while it is young
            with ThreadPoolExecutor(len(names)) as pool:
                versions = list(pool.map(lambda n: n.wait_engine(), cluster.nodes))
            cluster.engine_version = versions[0]
        with (
            measured("2 workload image loaded into every node", sampler, out),
            ThreadPoolExecutor(len(names)) as pool,
        ):
            list(
                pool.map(
                    lambda n: [n.client.images.load(t) for t in prepared.workload_tars],
                    cluster.nodes,
                )
            )
        with measured("3 swarm init + joins", sampler, out):
            cluster._form_swarm()
        with measured("4 until whole (health polling)", sampler, out):
            cluster.wait_healthy(60)
        with measured(f"5 idle {idle_s:g} s, no service", sampler, out):
            time.sleep(idle_s)
        with measured("6 one health check (node ls on every manager)", sampler, out):
            cluster.health_problems()
        with measured("7 a 3-replica service deployed", sampler, out):
            deploy_web(cluster, "web", 3)
        with measured(f"8 idle {idle_s:g} s, one 3-replica service", sampler, out):
            time.sleep(idle_s)
        with measured("9 reset (service removed) + restore check", sampler, out):
            pool_module.restore_nodes(cluster)
            cluster.reset()
        per_node: dict[str, float] = {}
        before = sampler.read()
        time.sleep(idle_s)
        after = sampler.read()
        for node in cluster.nodes:
            cid = node.container.id
            per_node[node.name] = after.get(f"node:{cid}", 0) - before.get(f"node:{cid}", 0)
        leader = cluster.leader().name
        for name, cpu in per_node.items():
            role = (
                "leader"
                if name == leader
                else next(n.role for n in cluster.nodes if n.name == name)
            )
            out.setdefault(f"a node idle ({role}), CPU-s per s", []).append(
                (0.0, cpu / idle_s, 0.0)
            )
    finally:
        with measured("10 teardown (down)", sampler, out):
            cluster.down()
        host.close()


def micro_main(args: argparse.Namespace) -> int:
    out: dict[str, list[tuple[float, float, float]]] = {}
    for index in range(args.runs):
        print(f"bench_speed micro: run {index + 1}/{args.runs}", flush=True)
        micro_once(out, args.idle)
    print(f"\n== one 3-manager + 1-worker swarm, step by step: medians of {args.runs} ==")
    print(f"{'step':52} {'wall s':>7} {'nodes CPU-s':>11} {'this proc':>9}")
    for name, values in out.items():
        wall = med([v[0] for v in values])
        print(
            f"{name:52} {wall:7.2f} {med([v[1] for v in values]):11.3f} "
            f"{med([v[2] for v in values]):9.2f}"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    suite = sub.add_parser("suite", help="run pytest and break its CPU down by phase")
    every = sub.add_parser("all", help="the conformance suites one at a time, fast and quick")
    for command in (suite, every):
        command.add_argument("--runs", type=int, default=3)
        command.add_argument("--interval", type=float, default=0.25)
        command.add_argument("--json", help="write the figures (and observed effects) here")
        command.add_argument("--keep-logs", action="store_true", help="keep the phase logs")
    suite.add_argument("--label", default="run")
    suite.add_argument("pytest_args", nargs="*", default=["suites/conformance"])
    micro = sub.add_parser("micro", help="one swarm, step by step")
    micro.add_argument("--runs", type=int, default=3)
    micro.add_argument("--idle", type=float, default=20.0)
    args = parser.parse_args()
    return micro_main(args) if args.what == "micro" else suite_main(args)


if __name__ == "__main__":
    sys.exit(main())
