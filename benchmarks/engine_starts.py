"""How fast a task starts and turns healthy on each engine: the evidence behind a difference
`swarmcheck matrix` shows in rolling-update times.

For every engine named (a Debian suite swarmcheck builds), a one-manager swarm is brought up and
each step is timed ``--samples`` times (median, min and max printed):

- ``docker run`` of the workload image until the container runs (the engine alone);
- ``service create`` until its task runs (scheduler, agent and engine);
- a task's running container with swarmcheck's web healthcheck (interval 0.5 s, start
  period 0.5 s, as ``SwarmClient.create_service(healthcheck=True)`` sets it) until it is
  healthy: a start-first rolling update waits for this at every step.

    python benchmarks/engine_starts.py bookworm trixie sid [--samples 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker

from swarmcheck.client.engine import host_client
from swarmcheck.client.swarm import SwarmClient
from swarmcheck.cluster.cluster import running_cluster
from swarmcheck.machine.images import prepare_images
from swarmcheck.spec import ClusterSpec
from swarmcheck.timing import Stopwatch, wait_until

IMAGE = "swarmcheck/workload:v1"
BUDGET_S = 60.0


def timed(samples: int, once: Callable[[int], float]) -> str:
    """Median (min, max) of ``samples`` runs of ``once``, which returns seconds."""
    got = [once(i) for i in range(samples)]
    return f"{statistics.median(got):.2f} s (min {min(got):.2f}, max {max(got):.2f})"


def container_running(engine: docker.DockerClient, i: int) -> float:
    clock = Stopwatch()
    container = engine.containers.run(IMAGE, detach=True, name=f"start-probe-{i}")
    wait_until(
        lambda: engine.api.inspect_container(container.id)["State"]["Status"] == "running" or None,
        what="the container to run",
        timeout_s=BUDGET_S,
        interval_s=0.02,
    )
    took = clock()
    container.remove(force=True)
    return took


def task_container(client: SwarmClient, name: str, running: bool = True) -> str:
    """The container ID of the service's task: once the task runs, or (``running=False``) as
    soon as its container exists. Swarm calls a task with a healthcheck running only once it
    is healthy, so the health timing starts from the engine's own view of the container."""

    def found() -> str | None:
        for task in client.docker.services.get(name).tasks():
            status = task.get("Status", {})
            container = status.get("ContainerStatus", {}).get("ContainerID")
            if container and (status.get("State") == "running" or not running):
                return str(container)
        return None

    return wait_until(found, what=f"a task container of {name}", timeout_s=BUDGET_S)


def task_running(client: SwarmClient, i: int) -> float:
    clock = Stopwatch()
    client.create_service(f"start-probe-{i}", IMAGE, 1)
    task_container(client, f"start-probe-{i}")
    took = clock()
    client.docker.services.get(f"start-probe-{i}").remove()
    return took


def task_healthy(client: SwarmClient, i: int) -> float:
    name = f"health-probe-{i}"
    client.create_service(name, IMAGE, 1, healthcheck=True)
    container = task_container(client, name, running=False)
    wait_until(
        lambda: (
            client.docker.api.inspect_container(container)["State"]["Status"] == "running" or None
        ),
        what=f"{name}'s container to run",
        timeout_s=BUDGET_S,
        interval_s=0.02,
    )
    clock = Stopwatch()
    wait_until(
        lambda: (
            (client.docker.api.inspect_container(container)["State"].get("Health") or {}).get(
                "Status"
            )
            == "healthy"
            or None
        ),
        what=f"{name}'s task to be healthy",
        timeout_s=BUDGET_S,
        interval_s=0.05,
    )
    took = clock()
    client.docker.services.get(name).remove()
    return took


def measure(host: docker.DockerClient, engine: str, samples: int) -> None:
    """Print the three timings on a one-manager swarm of ``engine``."""
    spec = ClusterSpec(managers=1, engine=engine)
    with running_cluster(host, spec, prepare_images(host, spec)) as cluster:
        node = cluster.managers[0]
        client = cluster.client(node)
        version = node.client.version()
        print(f"{engine}: Docker {version['Version']} (API {version['ApiVersion']})")
        run = timed(samples, lambda i: container_running(node.client, i))
        print(f"  docker run -> running       {run}")
        print(f"  service create -> running   {timed(samples, lambda i: task_running(client, i))}")
        healthy = timed(samples, lambda i: task_healthy(client, i))
        print(f"  running -> healthy          {healthy}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("engines", nargs="+", help="Debian suites (bookworm, trixie, sid)")
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    host = host_client()
    for engine in args.engines:
        measure(host, engine, args.samples)
    host.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
