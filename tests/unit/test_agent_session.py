"""When an agent's announced session registration is due, read from its daemon log: a check
timing the end of a node's heartbeats starts only after it (observe.nodes.wait_agent_session)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from swarmcheck.observe.nodes import SESSION_REGISTERED_S, session_registered_by

FAILED = (
    'time="2026-12-07T17:19:02.064997994Z" level=error msg="agent: session failed" backoff=8s '
    'error="rpc error: code = Unavailable" module=node/agent node.id=24c8aembrv52gx2d2qar7hso2\n'
)


def waiting(stamp: str, wait: str) -> str:
    return (
        f'time="{stamp}" level=info msg="waiting {wait} before registering session" '
        "module=node/agent node.id=24c8aembrv52gx2d2qar7hso2\n"
    )


def epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()


def test_no_announced_registration_is_none() -> None:
    assert session_registered_by("") is None
    assert session_registered_by(FAILED) is None
    assert session_registered_by("(log unavailable: engine error)") is None


@pytest.mark.parametrize(
    ("wait", "seconds"), [("6.407992043s", 6.407992043), ("0s", 0.0), ("750ms", 0.75)]
)
def test_due_is_the_announcement_plus_its_wait(wait: str, seconds: float) -> None:
    log = FAILED + waiting("2026-12-07T17:19:02.065161256Z", wait)
    due = session_registered_by(log)
    assert due == pytest.approx(
        epoch("2026-12-07T17:19:02.065161") + seconds + SESSION_REGISTERED_S
    )


def test_the_latest_announcement_counts() -> None:
    log = (
        waiting("2026-12-07T16:00:00.5Z", "1.2s")
        + FAILED
        + waiting("2026-12-07T17:19:02Z", "8s")
        + 'time="2026-12-07T17:19:03Z" level=info msg="something else"\n'
    )
    assert session_registered_by(log) == pytest.approx(
        epoch("2026-12-07T17:19:02") + 8 + SESSION_REGISTERED_S
    )
