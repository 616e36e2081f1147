"""What a run is asked to do: every option, defined once, and the Settings they resolve to.

Plain data at the bottom of the house: it imports only the cluster spec (spec.py) and the errors, so
the library, the plugin and the command line all read option names, defaults and help from
here (the plugin registers them with pytest and parses them into ``Settings``; library code
receives Settings as arguments and names an option in a message by its ``flag``).

Every option starts with ``--swarm`` and has an ini key of the same name with underscores
(``--swarm-seed`` / ``swarm_seed``); the command line wins over the ini file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from swarmcheck.errors import ConfigError
from swarmcheck.labels import KEEP_HOURS
from swarmcheck.spec import DEFAULT_ENGINE, ClusterSpec, is_debian, previous_engine

SWARM_MODES = ("dind", "existing", "none")
MIN_CHAOS_DURATION_S = 30.0


@dataclass(frozen=True)
class Option:
    """One swarmcheck option: its flag, its ini key, its default, its help, and the
    environment variable its default comes from (if any)."""

    flag: str
    metavar: str
    help: str
    default: str | None = None
    """The built-in default, as the text a user would write (None: unset)."""
    switch: bool = False
    """A flag without a value (its ini key takes true/false)."""
    env: str | None = None
    """The environment variable that gives the default (named in the help; read where the
    value is used, e.g. ``cluster.existing.parse_endpoints``)."""

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def ini(self) -> str:
        return self.dest


SWARM = Option(
    "--swarm", "MODE", "where swarm tests run: dind (a local Docker-in-Docker swarm), existing (a "
    "swarm given with --swarm-existing: non-destructive checks only) or none (skip every swarm "
    "test)", "dind",
)  # fmt: skip
MANAGERS = Option("--swarm-managers", "N", "managers in the default cluster", "3")
WORKERS = Option("--swarm-workers", "N", "workers in the default cluster", "0")
DEBIAN_SUITE = Option(
    "--swarm-debian-suite", "SUITE", "Debian suite of the built node image, which picks the "
    "engine under test: bookworm (20.10), trixie (26.1), sid (28.5)", DEFAULT_ENGINE,
)  # fmt: skip
ENGINE_IMAGE = Option(
    "--swarm-engine-image", "IMAGE", "a dind-capable image already in the local engine, used "
    "for the nodes instead of the built one",
)  # fmt: skip
ENGINES = Option(
    "--swarm-engines", "E1,E2,...", "a mixed-version default cluster: one engine per node "
    "(managers, then workers), each a Debian suite (bookworm, trixie, sid) or a dind image",
)  # fmt: skip
UPGRADE_FROM = Option(
    "--swarm-upgrade-from", "ENGINE", "the older engine of the mixed-version and "
    "engine-upgrade checks (suites/release), a Debian suite or a dind image; the newer one is "
    "the engine under test (default: the Debian suite before it: trixie -> bookworm, sid -> "
    "trixie)",
)  # fmt: skip
EXISTING = Option(
    "--swarm-existing", "ENDPOINTS", "with --swarm=existing: the swarm's engines, "
    "comma-separated Docker context names or engine URLs (tcp://HOST:2376, unix:///PATH), one "
    "per node or one per manager",
)  # fmt: skip
EXISTING_TLS = Option(
    "--swarm-existing-tls", "DIR", "TLS for the engine URLs of --swarm-existing: a folder with "
    "ca.pem, cert.pem and key.pem (default: DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set); "
    "contexts bring their own", env="DOCKER_CERT_PATH",
)  # fmt: skip
ALLOW_DESTRUCTIVE = Option(
    "--swarm-allow-destructive", "", "on an existing swarm (--swarm=existing), also run "
    "destructive checks and faults (they skip otherwise)", switch=True,
)  # fmt: skip
TOXIPROXY_IMAGE = Option(
    "--swarm-toxiproxy-image", "IMAGE", "a Toxiproxy 2.x server image already in the local "
    "engine, used for control-plane faults instead of building one with Go",
)  # fmt: skip
SUBNET = Option(
    "--swarm-subnet", "CIDR", "the node network, a private 10.x /24 (default: a free "
    "10.199.x.0/24; not with pytest-xdist, where every worker needs its own)",
)  # fmt: skip
SELECT = Option(
    "--swarm-select", "ID,AREA,ROW", "run only the checks matching any of these comma-separated "
    "check ids (SC-MEM-002), areas (services) or catalog rows (mem-leave); -k matches ids, "
    "areas and rows too",
)  # fmt: skip
REPORTS = Option(
    "--swarm-reports", "DIR", "where the Allure results and junit.xml go unless --alluredir / "
    "--junitxml say otherwise (default: reports/ under the rootdir)",
)  # fmt: skip
KEEP_ON_FAILURE = Option(
    "--swarm-keep-on-failure", "", "after a failed check, leave the cluster it ran on running "
    "(as the check left it, faults healed) for you to look into, and give the remaining tests a "
    "new one; the summary says how to reach its nodes and how to remove it; later runs' sweeps "
    f"leave it {KEEP_HOURS} h; --swarm=dind only", switch=True,
)  # fmt: skip
CHAOS_DURATION = Option(
    "--swarm-chaos-duration", "DURATION", "nightly chaos mode: run a seeded random fault "
    "schedule this long (e.g. 15m)",
)  # fmt: skip
SEED = Option(
    "--swarm-seed", "N", "seed of the nightly chaos schedule (default: random, printed and "
    "reported)",
)  # fmt: skip
CHAOS_FAULTS = Option(
    "--swarm-chaos-faults", "KIND,...", "nightly chaos mode: draw only these fault kinds "
    "(default: all)",
)  # fmt: skip
PARALLEL = Option(
    "--swarm-parallel", "N|auto|off", "how many checks run at once, each in a pytest-xdist worker "
    "with swarms of its own: auto sizes it from this machine's CPUs and memory when the run "
    "collects swarm suites; off (like pytest's -n 0) runs one check at a time, for debugging; "
    "an explicit -n N wins", "auto",
)  # fmt: skip
QUICK = Option(
    "--swarm-quick", "", "a first look at an engine: one check per catalog area (the seed "
    "tutorial's behaviours first); the report says it was a quick run", switch=True,
)  # fmt: skip
CHAOS_SCHEDULE = Option(
    "--swarm-chaos-schedule", "FILE", "replay a night: the schedule JSON attached to its report "
    "(\"planned schedule (json)\"); it fixes duration, seed and faults",
)  # fmt: skip

OPTIONS: tuple[Option, ...] = (
    SWARM, MANAGERS, WORKERS, DEBIAN_SUITE, ENGINE_IMAGE, ENGINES, UPGRADE_FROM, EXISTING,
    EXISTING_TLS, ALLOW_DESTRUCTIVE, TOXIPROXY_IMAGE, SUBNET, SELECT, REPORTS, KEEP_ON_FAILURE,
    PARALLEL, QUICK,
    CHAOS_DURATION, SEED, CHAOS_FAULTS, CHAOS_SCHEDULE,
)  # fmt: skip
BY_FLAG = {o.flag: o for o in OPTIONS}


def engine_under_test(debian_suite: str | None, engine_image: str | None) -> str:
    """The engine a run tests, from the two options that name it: the dind image when one is
    given, else the Debian suite (else the default)."""
    return engine_image or debian_suite or DEFAULT_ENGINE


def engine_options(engine: str) -> tuple[str, ...]:
    """The options that make a run test ``engine`` (a Debian suite or a dind image)."""
    option = DEBIAN_SUITE if is_debian(engine) else ENGINE_IMAGE
    return (f"{option.flag}={engine}",)


@dataclass(frozen=True)
class Nightly:
    """Nightly chaos mode: a seeded random fault schedule, or a night replayed from the
    schedule file attached to its report (which then fixes duration, seed and kinds)."""

    duration_s: float | None = None
    """--swarm-chaos-duration (None: not in nightly mode, unless a night is replayed)."""
    seed: int | None = None
    """--swarm-seed (None: drawn at random when the schedule is planned, then reported)."""
    kinds: tuple[str, ...] | None = None
    """--swarm-chaos-faults: the fault kinds the schedule may draw (None: every kind)."""
    replay: Path | None = None
    """--swarm-chaos-schedule: a night to replay as it was planned."""

    def __post_init__(self) -> None:
        if self.duration_s is not None and self.duration_s < MIN_CHAOS_DURATION_S:
            raise ConfigError(
                f"--swarm-chaos-duration={self.duration_s:g}s is too short: a fault, its heal and "
                f"the checks need at least {MIN_CHAOS_DURATION_S:g} s"
            )


@dataclass(frozen=True)
class Settings:
    """Everything a run was asked to do."""

    swarm: str = "dind"
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    reports_dir: Path = Path("reports")
    select: str | None = None
    """--swarm-select: check ids, areas or catalog rows to keep (comma-separated)."""
    nightly: Nightly = field(default_factory=Nightly)
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
    keep_on_failure: bool = False
    """Leave the cluster of a failed check running for a person to look into (dind only)."""
    quick: bool = False
    """--swarm-quick: one check per catalog area, the seed tutorial's behaviours first."""

    @property
    def old_engine(self) -> str | None:
        """The engine mixed-version and upgrade checks start from: --swarm-upgrade-from, else
        the Debian suite before the engine under test (None when there is none)."""
        return self.upgrade_from or previous_engine(self.cluster.engine)

    def __post_init__(self) -> None:
        if self.swarm not in SWARM_MODES:
            raise ConfigError(
                f"--swarm={self.swarm!r} is not supported: use --swarm=dind (a local "
                f"Docker-in-Docker swarm), --swarm=existing (a swarm you give with "
                f"--swarm-existing) or --swarm=none (run no swarm tests)"
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
