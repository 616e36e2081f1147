"""Run settings, resolved once from options; library code receives them as arguments."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from swarmcheck.cluster.engines import previous_engine
from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.errors import ConfigError
from swarmcheck.faults.schedule import Schedule

SWARM_MODES = ("dind", "existing", "none")


@dataclass(frozen=True)
class Settings:
    """Everything a run was asked to do."""

    swarm: str = "dind"
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    reports_dir: Path = Path("reports")
    select: str | None = None
    """--swarm-select: check ids, areas or catalog rows to keep (comma-separated)."""
    chaos_duration_s: float | None = None
    seed: int | None = None
    chaos_faults: tuple[str, ...] | None = None
    """--swarm-chaos-faults: the fault kinds the nightly schedule may draw (None: every kind)."""
    chaos_schedule: Schedule | None = None
    """--swarm-chaos-schedule: a night to replay as it was planned."""
    asked: tuple[str, ...] = ()
    """The swarmcheck options given (command line or ini): the run asked for swarmcheck."""
    upgrade_from: str | None = None
    """The older engine of mixed-version and upgrade checks (None: the one before ours)."""
    existing: tuple[str, ...] = ()
    """--swarm=existing: where the swarm's engines answer (Docker contexts or engine URLs)."""
    existing_tls: str | None = None
    """A folder with ca.pem, cert.pem and key.pem for the engine URLs (as DOCKER_CERT_PATH)."""
    allow_destructive: bool = False
    """Run destructive checks and faults on an existing swarm too."""

    @property
    def old_engine(self) -> str | None:
        """The engine mixed-version and upgrade checks start from: --swarm-upgrade-from, else
        the Debian suite before the engine under test (None when there is none)."""
        return self.upgrade_from or previous_engine(self.cluster.engine)

    def __post_init__(self) -> None:
        if self.swarm not in SWARM_MODES:
            raise ConfigError(
                f"--swarm={self.swarm!r} is not supported: use --swarm=dind (a local "
                "Docker-in-Docker swarm), --swarm=existing (a swarm you give with "
                "--swarm-existing) or --swarm=none (run no swarm tests)"
            )
        if self.swarm == "existing" and not self.existing:
            raise ConfigError(
                "--swarm=existing needs --swarm-existing: the swarm's Docker contexts or engine "
                "URLs, one per node or one per manager (e.g. --swarm-existing=lab1,lab2,lab3 or "
                "--swarm-existing=tcp://10.0.0.5:2376,... --swarm-existing-tls=CERT_DIR)"
            )
        if self.existing and self.swarm != "existing":
            raise ConfigError(
                "--swarm-existing is given but --swarm is not 'existing': add --swarm=existing "
                "to run against that swarm"
            )
        if self.chaos_duration_s is not None and self.chaos_duration_s < 30:
            raise ConfigError(
                f"--swarm-chaos-duration={self.chaos_duration_s:g}s is too short: a fault, its "
                "heal and the checks need at least 30 s"
            )


def parse_duration(text: str) -> float:
    """'90', '90s', '15m', '1h' -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    raw = text.strip().lower()
    factor = units.get(raw[-1:])
    number = raw[:-1] if factor else raw
    try:
        value = float(number) * (factor or 1)
    except ValueError:
        raise ConfigError(
            f"bad duration {text!r}: use seconds or a unit, e.g. 90, 90s, 15m, 1h"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(f"bad duration {text!r}: must be positive")
    return value
