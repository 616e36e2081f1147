"""A strict expected failure names exactly its engine defect: the xfail markers of SC-HEAL-009,
SC-PKI-004 and SC-PKI-007, as the suites declare them, turn a timeout, a refusal or any other
broken promise into a failure of the run (pytester runs a generated check under each real
marker; no Docker), and the PKI checks raise the defect only for the validity it leaves.
tests/e2e/test_plugin_runs.py runs SC-HEAL-009 itself with a budget it cannot meet.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from suites.conformance.test_restart_and_health import (
    test_unhealthy_start_fails_whatever_the_exit_code as heal_009,
)
from suites.conformance.test_tokens_pki import _expect_validity
from suites.conformance.test_tokens_pki import test_cert_expiry_set_at_init_applies as pki_007
from suites.conformance.test_tokens_pki import test_cert_expiry_update_applies as pki_004
from swarmcheck.errors import CertExpiryNotApplied, KnownEngineDefect, SwarmPromiseBroken

KNOWN_DEFECTS = {"SC-HEAL-009": heal_009, "SC-PKI-004": pki_004, "SC-PKI-007": pki_007}
RAISED = {
    "timeout": "PromiseTimeout('end the task', 30.0, 'task states [starting]')",
    "refusal": "SwarmRefused('engine error (500): no', status_code=500, explanation='no')",
    "other broken promise": "SwarmPromiseBroken('the task ended rejected')",
}


def xfail_of(check: Callable[..., Any]) -> pytest.Mark:
    [mark] = [m for m in getattr(check, "pytestmark", []) if m.name == "xfail"]
    return mark


def outcome_under(pytester: pytest.Pytester, mark: pytest.Mark, raised: str) -> str:
    """Run a check that raises ``raised`` under the xfail marker ``mark``; its outcome."""
    raises = mark.kwargs["raises"]
    pytester.makepyfile(
        test_check=f"""
import pytest
from swarmcheck.errors import PromiseTimeout, SwarmPromiseBroken, SwarmRefused
from swarmcheck.errors import {raises.__name__}


@pytest.mark.xfail(strict={mark.kwargs["strict"]!r}, raises={raises.__name__}, reason="defect")
def test_check():
    raise {raised}
"""
    )
    result = pytester.runpytest("-p", "no:allure_pytest", "-p", "no:cacheprovider", "-rxX")
    outcomes = result.parseoutcomes()
    [(outcome, count)] = [(k, v) for k, v in outcomes.items() if k not in ("warnings",)]
    assert count == 1, result.stdout.str()
    # the check raised what it was meant to (not, say, a TypeError building it)
    assert raised.split("(")[0] in result.stdout.str() or outcome == "xfailed", result.stdout.str()
    return outcome


@pytest.mark.parametrize("check", sorted(KNOWN_DEFECTS))
def test_the_marker_names_one_engine_defect(check: str) -> None:
    mark = xfail_of(KNOWN_DEFECTS[check])
    raises = mark.kwargs["raises"]

    assert mark.kwargs["strict"] is True
    assert issubclass(raises, KnownEngineDefect) and raises is not KnownEngineDefect
    assert str(mark.kwargs["reason"]).startswith("engines "), "test_existing_swarm expects it"


@pytest.mark.parametrize("raised", sorted(RAISED))
@pytest.mark.parametrize("check", sorted(KNOWN_DEFECTS))
def test_anything_but_the_defect_fails_the_run(
    pytester: pytest.Pytester, check: str, raised: str
) -> None:
    mark = xfail_of(KNOWN_DEFECTS[check])

    assert outcome_under(pytester, mark, RAISED[raised]) == "failed"


@pytest.mark.parametrize("check", sorted(KNOWN_DEFECTS))
def test_the_defect_itself_is_the_expected_failure(pytester: pytest.Pytester, check: str) -> None:
    mark = xfail_of(KNOWN_DEFECTS[check])
    defect = mark.kwargs["raises"].__name__

    assert outcome_under(pytester, mark, f"{defect}('seen')") == "xfailed"


def test_the_old_broad_marker_absorbed_a_timeout(pytester: pytest.Pytester) -> None:
    """Why the markers changed: raises=SwarmPromiseBroken took a hang for the defect."""
    broad = pytest.mark.xfail(strict=True, raises=SwarmPromiseBroken).mark

    assert outcome_under(pytester, broad, RAISED["timeout"]) == "xfailed"


# SC-PKI-004 and SC-PKI-007 judge a certificate's validity after setting a 3 h expiry over the
# 90-day default: only the old validity is the defect.
THREE_H, NINETY_DAYS = timedelta(hours=3), timedelta(hours=2160)


@pytest.mark.parametrize("validity", [THREE_H, THREE_H - timedelta(minutes=1)])
def test_the_set_expiry_is_kept(validity: timedelta) -> None:
    _expect_validity(validity, THREE_H, before=NINETY_DAYS, setting="swarm init --cert-expiry 3h")


def test_the_previous_expiry_is_the_defect() -> None:
    with pytest.raises(CertExpiryNotApplied, match="valid for 89 days, 23:59:40"):
        _expect_validity(
            NINETY_DAYS - timedelta(seconds=20), THREE_H, NINETY_DAYS, "swarm init --cert-expiry 3h"
        )


@pytest.mark.parametrize("validity", [timedelta(hours=1), timedelta(hours=24), timedelta(0)])
def test_any_other_validity_is_no_known_defect(validity: timedelta) -> None:
    with pytest.raises(SwarmPromiseBroken) as broken:
        _expect_validity(validity, THREE_H, NINETY_DAYS, "swarm init --cert-expiry 3h")

    assert not isinstance(broken.value, KnownEngineDefect), broken.value
