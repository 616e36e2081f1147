"""Stability: run `./run suites` then `./run chaos` N times on one machine, and print a flake table.

Every round records the wall time of each command, every non-passing test with its Allure
category and the first line of its message (read from the Allure results the round wrote), and
what swarmcheck left on the engine afterwards (containers, networks, volumes labelled
io.swarmcheck.run, and node socket directories). A failing job's reports are kept in
reports/stability/round<N>-<job>/ before the next job replaces them. It asserts nothing: the
table is the result.

    python benchmarks/stability.py --rounds 5 [--only suites|chaos] [-- extra pytest args]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This checkout's swarmcheck, also on a fresh clone where nothing is installed yet.
sys.path.insert(0, str(ROOT))
try:
    from swarmcheck import labels
    from swarmcheck.client.engine import host_client
    from swarmcheck.cluster import sockets
    from swarmcheck.reporting.allure_files import build_categories
except ModuleNotFoundError as missing:
    sys.exit(
        f"stability.py: the Python package {missing.name!r} is not installed: run "
        "`./run tests` once (it installs swarmcheck and its dependencies), then run this again"
    )

REPORTS = ROOT / "reports"
RESULTS = REPORTS / "allure-results"


@dataclass
class Failure:
    round: int
    job: str
    test: str
    status: str
    category: str
    first_line: str


@dataclass
class Round:
    number: int
    wall_s: dict[str, float] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    leftovers: str = ""


def category_of(status: str, message: str, flaky: bool = False) -> str:
    """The Allure category a result lands in, by the same rules Allure applies."""
    for category in build_categories():
        if category["flaky"] != flaky or status not in category["matchedStatuses"]:
            continue
        if re.fullmatch(category["messageRegex"], message, flags=re.DOTALL):
            return str(category["name"])
    return "(no category)"


def failures_in(results: Path, number: int, job: str) -> list[Failure]:
    """Every failed, broken or skipped result of one job, from its Allure result files."""
    found = []
    for path in sorted(results.glob("*-result.json")):
        data = json.loads(path.read_text())
        status = data.get("status", "unknown")
        if status == "passed":
            continue
        message = (data.get("statusDetails") or {}).get("message") or ""
        found.append(
            Failure(
                round=number,
                job=job,
                test=data.get("fullName") or data.get("name", path.name),
                status=status,
                category=category_of(status, message),
                first_line=(message.strip().splitlines() or [""])[0][:160],
            )
        )
    return found


def leftovers() -> str:
    """What runs whose process has ended left on the engine (after a round: should be none).

    Objects of a run still going (another session on this engine) are not leftovers: only
    those whose owner process is gone count, as for `swarmcheck sweep`."""
    host = host_client()
    try:
        flt = {"label": labels.RUN}
        found = {
            "containers": [c.labels for c in host.containers.list(all=True, filters=flt)],
            "networks": [n.attrs.get("Labels") or {} for n in host.networks.list(filters=flt)],
            "volumes": [v.attrs.get("Labels") or {} for v in host.volumes.list(filters=flt)],
        }
    finally:
        host.close()
    counts = {
        kind: sum(not labels.owner_alive(lab) for lab in seen) for kind, seen in found.items()
    }
    counts["socket dirs"] = len(sockets.stale_run_dirs())
    return ", ".join(f"{v} {k}" for k, v in counts.items() if v) or "none"


def flake_table(rounds: list[Round]) -> str:
    """One line per test that did not pass in some round: how often, category, first line."""
    lines = []
    by_test: dict[tuple[str, str], list[Failure]] = {}
    for r in rounds:
        for f in r.failures:
            by_test.setdefault((f.job, f.test), []).append(f)
    lines.append(f"{'job':6} {'test':60} {'rounds':>7}  status/category  first line")
    for (job, test), fails in sorted(by_test.items()):
        kinds = Counter(f"{f.status}/{f.category}" for f in fails)
        lines.append(
            f"{job:6} {test[-60:]:60} {len(fails):>3}/{len(rounds):<3}  "
            f"{'; '.join(f'{k} x{n}' for k, n in kinds.items())}  {fails[-1].first_line}"
        )
    if not by_test:
        lines.append("(every test passed in every round)")
    lines.append("")
    lines.append(f"{'round':>5} {'suites s':>9} {'chaos s':>8} {'exit':>6}  leftovers")
    for r in rounds:
        exits = "/".join(str(r.exit_codes.get(j, "-")) for j in ("suites", "chaos"))
        lines.append(
            f"{r.number:>5} {r.wall_s.get('suites', 0):>9.0f} {r.wall_s.get('chaos', 0):>8.0f} "
            f"{exits:>6}  {r.leftovers}"
        )
    return "\n".join(lines)


def keep_evidence(reports: Path, dest: Path) -> Path:
    """Copy a failing job's Allure results, junit.xml and outcomes.json to ``dest``: the next
    job rewrites them within seconds, and a flake is read from its attachments."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if (reports / "allure-results").is_dir():
        shutil.copytree(reports / "allure-results", dest / "allure-results")
    for name in ("junit.xml", "outcomes.json"):
        if (reports / name).is_file():
            shutil.copy2(reports / name, dest / name)
    return dest


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_job(job: str, pytest_args: list[str]) -> int:
    """`./run <job>` in its own session, so that stopping this script (Ctrl-C or SIGTERM, also
    when started in the background, where SIGINT is ignored) hands SIGINT to the job: pytest
    unwinds as on Ctrl-C (clusters removed, faults healed) and this script waits for it."""
    child = subprocess.Popen(
        ["./run", job, "-q", *pytest_args],
        cwd=ROOT,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        return child.wait()
    except KeyboardInterrupt:
        print(f"stability: stopping ./run {job} (SIGINT to its process group)", flush=True)
        os.killpg(child.pid, signal.SIGINT)
        child.wait()
        raise


def main() -> int:
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=("suites", "chaos"), default=None)
    parser.add_argument("--out", default="reports/stability.json")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    jobs = [args.only] if args.only else ["suites", "chaos"]
    rounds: list[Round] = []
    for number in range(1, args.rounds + 1):
        current = Round(number)
        for job in jobs:
            print(f"stability: round {number}/{args.rounds}: ./run {job}", flush=True)
            started = time.monotonic()
            code = run_job(job, args.pytest_args)
            current.wall_s[job] = time.monotonic() - started
            current.exit_codes[job] = code
            found = failures_in(RESULTS, number, job)
            current.failures += found
            if code != 0 or any(f.status in ("failed", "broken") for f in found):
                kept = keep_evidence(REPORTS, REPORTS / "stability" / f"round{number}-{job}")
                print(f"stability: kept this job's reports in {kept}", flush=True)
        current.leftovers = leftovers()
        rounds.append(current)
        print(flake_table(rounds), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps([r.__dict__ | {"failures": [f.__dict__ for f in r.failures]} for r in rounds])
    )
    unexpected = sum(f.status in ("failed", "broken") for r in rounds for f in r.failures)
    print(f"stability: {len(rounds)} rounds, {unexpected} unexpected failures (table above)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit("stability: stopped; the job that was running has unwound")
