"""The typed spec builders send what docker-py's ``docker.types`` sent (checks moved off
docker-py without changing a byte on the wire), and the one sampler base keeps sampling
through errors, recording each as a gap."""

from __future__ import annotations

import time

import docker.types
import pytest

from swarmcheck.client.specs import (
    NS,
    ConfigRef,
    EndpointSpec,
    Healthcheck,
    Port,
    RestartPolicy,
    SecretRef,
    UpdateConfig,
)
from swarmcheck.errors import EngineAPIError
from swarmcheck.observe.sampler import Sampler


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (UpdateConfig(parallelism=1, monitor_s=0.5), docker.types.UpdateConfig(1, monitor=NS // 2)),
        (
            UpdateConfig(parallelism=0, monitor_s=1, failure_action="rollback", delay_s=2),
            docker.types.UpdateConfig(0, delay=2 * NS, monitor=NS, failure_action="rollback"),
        ),
        (
            UpdateConfig(order="start-first", monitor_s=0.5),
            docker.types.UpdateConfig(order="start-first", monitor=NS // 2),
        ),
        (RestartPolicy("any", delay_s=0.2), docker.types.RestartPolicy("any", delay=NS // 5)),
        (
            RestartPolicy("on-failure", 0.5, max_attempts=2, window_s=10),
            docker.types.RestartPolicy("on-failure", NS // 2, 2, 10 * NS),
        ),
        (
            Healthcheck(["CMD", "true"], interval_s=0.5, timeout_s=1, retries=3),
            docker.types.Healthcheck(test=["CMD", "true"], interval=NS // 2, timeout=NS, retries=3),
        ),
        (Healthcheck("exit 1"), docker.types.Healthcheck(test="exit 1")),
        (EndpointSpec(ports={30901: 8080}), docker.types.EndpointSpec(ports={30901: 8080})),
        (EndpointSpec(ports={None: 8080}), docker.types.EndpointSpec(ports={None: 8080})),
        (EndpointSpec(mode="dnsrr"), docker.types.EndpointSpec(mode="dnsrr")),
        (
            EndpointSpec("vip", [Port(8080, 30950, mode="host")]),
            docker.types.EndpointSpec("vip", {30950: (8080, "tcp", "host")}),
        ),
        (SecretRef("abc", "db"), docker.types.SecretReference("abc", "db")),
        (
            SecretRef("abc", "tls", "/etc/k", uid="1000", gid="1001", mode=0o640),
            docker.types.SecretReference("abc", "tls", "/etc/k", "1000", "1001", 0o640),
        ),
        (
            ConfigRef("abc", "app.tmpl", filename="/app.conf"),
            docker.types.ConfigReference("abc", "app.tmpl", filename="/app.conf"),
        ),
    ],
)
def test_a_builder_sends_what_docker_types_sent(ours: object, theirs: dict[str, object]) -> None:
    assert ours.api() == dict(theirs)  # type: ignore[attr-defined]


class Counting(Sampler[int]):
    """Samples its round number; every third round the engine "does not answer"."""

    name = "counting"

    def __init__(self) -> None:
        super().__init__(interval_s=0.01, stop_timeout_s=1.0)
        self.rounds = 0

    def sample(self, t: float) -> list[int]:
        self.rounds += 1
        if self.rounds % 3 == 0:
            raise EngineAPIError("no answer")
        return [self.rounds]


def test_the_sampler_keeps_sampling_through_errors_and_records_gaps() -> None:
    with Counting() as sampler:
        deadline = time.monotonic() + 5
        while len(sampler.gaps) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
    taken = sampler.stop()
    assert len(sampler.gaps) >= 3, "three failing rounds were not recorded as gaps"
    assert all(g.target == "round" and g.error == "no answer" for g in sampler.gaps)
    assert taken and all(n % 3 for n in taken), f"samples: {taken}"
    assert len(taken) + len(sampler.gaps) == sampler.rounds
