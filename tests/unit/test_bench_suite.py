"""The suite benchmark sums check times per area from Allure results."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.bench_suite import area_times


def test_area_times_from_allure_results(tmp_path: Path) -> None:
    for name, area, start, stop in (
        ("a", "raft", 0, 30_000),
        ("b", "raft", 30_000, 40_000),
        ("c", "services", 40_000, 45_500),
    ):
        (tmp_path / f"{name}-result.json").write_text(
            json.dumps(
                {"labels": [{"name": "feature", "value": area}], "start": start, "stop": stop}
            )
        )
    areas, span = area_times(tmp_path)
    assert areas == {"raft": (2, 40.0), "services": (1, 5.5)}
    assert span == 45.5
