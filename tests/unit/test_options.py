"""Bad input gets a message that says what was wrong and how to fix it (no Docker needed).

Durations, settings, cluster specs, probe output, node addresses, and the collection-time
check of swarm markers (run in-process with pytester, Allure off). Suite metadata (the
swarmcheck marker), -k and --swarm-select: test_suite_metadata.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from swarmcheck.checkers.availability import Probe
from swarmcheck.cluster.network import node_ip
from swarmcheck.config import Nightly, Settings, parse_duration
from swarmcheck.errors import ConfigError
from swarmcheck.spec import MAX_NODES, ClusterSpec
from swarmcheck.workload.probe import parse

Collect = Callable[..., pytest.RunResult]


def config_error(make: Callable[[], object]) -> str:
    """The message of the ConfigError ``make()`` raises."""
    with pytest.raises(ConfigError) as raised:
        make()
    return str(raised.value)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), (" 2M ", 120), ("1.5m", 90)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("abc", "use seconds or a unit, e.g. 90, 90s, 15m, 1h"),
        ("10x", "use seconds or a unit"),
        ("m", "use seconds or a unit"),
        ("", "use seconds or a unit"),
        ("0", "must be positive"),
        ("-5m", "must be positive"),
    ],
)
def test_bad_duration_names_the_value_and_the_fix(text: str, says: str) -> None:
    message = config_error(lambda: parse_duration(text))
    assert f"bad duration {text!r}" in message
    assert says in message


@pytest.mark.parametrize("text", ["nan", "inf"])
def test_duration_must_be_finite(text: str) -> None:
    config_error(lambda: parse_duration(text))


def test_default_settings_are_valid() -> None:
    settings = Settings(nightly=Nightly(duration_s=30))
    assert settings.swarm == "dind"
    assert settings.cluster == ClusterSpec()


def test_unknown_swarm_mode_lists_the_supported_ones() -> None:
    message = config_error(lambda: Settings(swarm="bogus"))
    assert "--swarm='bogus' is not supported" in message
    assert "--swarm=dind" in message and "--swarm=none" in message


def test_too_short_chaos_duration_says_the_minimum() -> None:
    message = config_error(lambda: Nightly(duration_s=10))
    assert "--swarm-chaos-duration=10s is too short" in message
    assert "at least 30 s" in message


def test_valid_cluster_spec() -> None:
    spec = ClusterSpec(managers=1, workers=2, subnet="10.199.7.0/24")
    assert spec.size == 3
    assert spec.node_names() == ["manager1", "worker1", "worker2"]


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"managers": 0}, "managers=0: a swarm needs at least 1 manager"),
        ({"workers": -1}, "workers=-1: cannot be negative"),
        ({"managers": 5, "workers": 5}, f"10 nodes: at most {MAX_NODES} fit on one machine"),
        ({"subnet": "192.168.1.0/24"}, "subnet=192.168.1.0/24: use a private 10.x range"),
        ({"addr_pool": "172.16.0.0/16"}, "addr_pool=172.16.0.0/16: use a private 10.x range"),
    ],
)
def test_bad_cluster_spec_names_the_field_and_the_fix(fields: dict[str, Any], says: str) -> None:
    message = config_error(lambda: ClusterSpec(**fields))
    assert message.startswith("bad cluster spec: ")
    assert says in message


def test_cluster_spec_reports_every_problem_at_once() -> None:
    message = config_error(lambda: ClusterSpec(managers=0, workers=-1))
    assert "managers=0" in message and "workers=-1" in message


@pytest.mark.parametrize("subnet", ["10.x", "10.1.2.0/33", "10.0.0.0/8"])
def test_malformed_subnet_is_a_config_error(subnet: str) -> None:
    config_error(lambda: ClusterSpec(subnet=subnet))


def test_probe_output_is_parsed_and_noise_skipped() -> None:
    output = (
        "ok 100.00 100.25 v1 10.201.0.5\n"
        "nslookup: can't resolve 'tasks.web'\n"
        "fail 101.00 103.00 - -\n"
        "ok 102.00\n"
        "\n"
    )
    assert parse(output) == [
        Probe(t=100.0, ok=True, latency_ms=250.0, answer="v1"),
        Probe(t=101.0, ok=False, latency_ms=None, answer=None),
    ]
    assert parse("") == []


def test_node_ips_are_fixed_distinct_and_inside_the_subnet() -> None:
    ips = [node_ip("10.199.7.0/24", i) for i in range(MAX_NODES)]
    assert ips[0] == "10.199.7.10"
    assert ips[-1] == f"10.199.7.{10 + MAX_NODES - 1}"
    assert len(set(ips)) == MAX_NODES


@pytest.fixture
def collect(pytester: pytest.Pytester) -> Collect:
    """Write test modules (name -> source) and collect them in-process."""

    def run(**modules: str) -> pytest.RunResult:
        pytester.makepyfile(**modules)
        return pytester.runpytest("--collect-only", "-q", "-p", "no:allure_pytest")

    return run


def test_bad_swarm_marker_names_the_test(collect: Collect) -> None:
    result = collect(
        test_a="""
        import pytest

        @pytest.mark.swarm(managers=0)
        def test_no_manager():
            pass

        @pytest.mark.swarm(manager=1)
        def test_typo():
            pass
        """
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*test_a.py::test_no_manager: swarm marker: bad cluster spec: managers=0: a swarm "
            "needs at least 1 manager",
            "*test_a.py::test_typo: the swarm marker takes only managers=, workers=, faults=, "
            "engines=, capabilities= (got manager=)",
        ]
    )
