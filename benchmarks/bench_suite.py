"""Suite time, and time per area, of a conformance (or chaos) run.

Reads the Allure results a run wrote (each result carries its area as the ``feature`` label
and its start and stop times) and prints the time per area and in all, and the pytest time of
the run (first start to last stop). Run it after `./run suites`, or let it run the suites:

    python benchmarks/bench_suite.py [--results reports/allure-results]
    python benchmarks/bench_suite.py --run [-- extra pytest args]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def area_times(results: Path) -> tuple[dict[str, tuple[int, float]], float]:
    """{area: (checks, seconds)} and the span from the first start to the last stop."""
    per_area: dict[str, list[float]] = defaultdict(list)
    starts, stops = [], []
    for path in results.glob("*-result.json"):
        data = json.loads(path.read_text())
        labels = {label["name"]: label["value"] for label in data.get("labels", [])}
        start, stop = data.get("start"), data.get("stop")
        if start is None or stop is None:
            continue
        per_area[labels.get("feature", "(no area)")].append((stop - start) / 1000)
        starts.append(start)
        stops.append(stop)
    span = (max(stops) - min(starts)) / 1000 if starts else 0.0
    return {area: (len(t), sum(t)) for area, t in sorted(per_area.items())}, span


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", default=str(ROOT / "reports" / "allure-results"))
    parser.add_argument("--run", action="store_true", help="run ./run suites first")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    if args.run:
        subprocess.run(["./run", "suites", "-q", *args.pytest_args], cwd=ROOT, check=False)
    areas, span = area_times(Path(args.results))
    if not areas:
        print(f"bench_suite: no Allure results in {args.results}", file=sys.stderr)
        return 2
    print(f"{'area':24} {'checks':>6} {'seconds':>8}")
    for area, (count, seconds) in areas.items():
        print(f"{area:24} {count:>6} {seconds:>8.1f}")
    total = sum(s for _, s in areas.values())
    print(f"{'all checks':24} {sum(c for c, _ in areas.values()):>6} {total:>8.1f}")
    print(f"suite time (first start to last stop): {span:.0f} s ({span / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
