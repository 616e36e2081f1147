"""Command-line options and their translation into Settings (bad input -> UsageError)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.config import Settings, parse_duration
from swarmcheck.errors import ConfigError


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("swarmcheck", "Docker Swarm conformance and chaos")
    group.addoption(
        "--swarm",
        default="dind",
        metavar="MODE",
        help="Where suites run: dind (a local Docker-in-Docker swarm, default) or none",
    )
    group.addoption(
        "--swarm-managers",
        type=int,
        default=3,
        metavar="N",
        help="Managers in the default cluster (default 3)",
    )
    group.addoption(
        "--swarm-workers",
        type=int,
        default=0,
        metavar="N",
        help="Workers in the default cluster (default 0)",
    )
    group.addoption(
        "--engine-image",
        default=None,
        metavar="IMAGE",
        help="A dind-capable image (already in the local engine) to use for nodes "
        "instead of building one from Debian packages",
    )
    group.addoption(
        "--debian-suite",
        default="bookworm",
        metavar="SUITE",
        help="Debian suite of the built node image, which picks the engine: "
        "bookworm (20.10), trixie (26.1), sid (28.5)",
    )
    group.addoption(
        "--swarm-select",
        default=None,
        metavar="ID,AREA,ROW",
        help="Run only the checks matching any of these comma-separated check ids "
        "(SC-MEM-002), areas (services) or catalog rows (mem-leave); `swarmcheck catalog` "
        "lists them. -k matches ids, areas and rows too",
    )
    group.addoption(
        "--swarm-subnet",
        default=None,
        metavar="CIDR",
        help="The node network, a private 10.x /24 (default: a free 10.199.x.0/24)",
    )
    group.addoption(
        "--swarmcheck-reports",
        default=None,
        metavar="DIR",
        help="Where reports go (default: reports/ under the rootdir)",
    )
    group.addoption(
        "--swarm-faults",
        action="store_true",
        default=False,
        help="Route each manager's control plane through Toxiproxy (chaos suites "
        "turn this on for their own clusters)",
    )
    group.addoption(
        "--chaos-duration",
        default=None,
        metavar="DURATION",
        help="Nightly chaos mode: run a seeded random fault schedule this long (e.g. 10m)",
    )
    group.addoption(
        "--seed",
        type=int,
        default=None,
        metavar="N",
        help="Seed of the chaos schedule (default: random, printed and reported)",
    )


def _seed(given: int | None, duration: str | None) -> int | None:
    """Nightly mode always has a seed: the given one, or a random one that gets reported."""
    if given is None and duration:
        return random.randrange(1, 2**31)
    return given


def settings_from(config: pytest.Config) -> Settings:
    """Build Settings from the command line; a bad value stops the run with a usage error."""
    opt = config.getoption
    try:
        duration = opt("--chaos-duration")
        try:
            chaos_duration_s = parse_duration(duration) if duration else None
        except ConfigError as exc:
            raise ConfigError(f"--chaos-duration={duration}: {exc}") from exc
        reports = opt("--swarmcheck-reports")
        return Settings(
            swarm=opt("--swarm"),
            cluster=ClusterSpec(
                managers=opt("--swarm-managers"),
                workers=opt("--swarm-workers"),
                debian_suite=opt("--debian-suite"),
                engine_image=opt("--engine-image"),
                subnet=opt("--swarm-subnet"),
            ),
            reports_dir=Path(reports) if reports else config.rootpath / "reports",
            faults=opt("--swarm-faults"),
            chaos_duration_s=chaos_duration_s,
            seed=_seed(opt("--seed"), duration),
        )
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
