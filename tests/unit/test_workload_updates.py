"""The Engine API's timestamps, as the restart and update checks compare them."""

from __future__ import annotations

import pytest

from swarmcheck.operations.updates import parse_time


def test_nanosecond_timestamps_keep_their_fraction() -> None:
    assert parse_time("2026-11-25T23:43:16.824806172Z") == pytest.approx(
        1795650196.824806172, abs=1e-6
    )
    assert parse_time("2026-11-25T23:43:16Z") == 1795650196.0


def test_offsets_are_honoured() -> None:
    assert parse_time("2026-11-26T00:43:16.5+01:00") == pytest.approx(1795650196.5)


@pytest.mark.parametrize("unset", [None, "", "0001-01-01T00:00:00Z"])
def test_unset_times_are_none(unset: str | None) -> None:
    assert parse_time(unset) is None


def test_anything_else_is_refused() -> None:
    with pytest.raises(ValueError, match="not an RFC 3339 timestamp"):
        parse_time("yesterday")
