"""Command-line options, their ini equivalents, and their translation into Settings.

Every option starts with ``--swarm`` (pytest-xdist's ``-n``, pytest-timeout's ``--timeout``
and swarmcheck's ``--swarm-*`` never collide with a project's own options) and has an ini key
of the same name with underscores (``--swarm-seed`` / ``swarm_seed``), so a nightly job keeps
its defaults in pyproject.toml or pytest.ini. The command line wins over the ini file. Bad
input stops the run with a usage error naming the option (or ini key) and the fix.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from swarmcheck.cluster.engines import (
    DEBIAN_ORDER,
    describe,
    is_debian,
    looks_like_engine,
    parse_engines,
)
from swarmcheck.cluster.existing import parse_endpoints
from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.config import Settings, parse_duration
from swarmcheck.errors import ConfigError
from swarmcheck.faults.schedule import FAULT_KINDS, Schedule

GROUP = "swarmcheck"


@dataclass(frozen=True)
class Option:
    """One swarmcheck option: its flag, its ini key, and how it reads."""

    flag: str
    metavar: str
    help: str
    default: str | None = None
    """The built-in default, as the text a user would write (None: unset)."""
    switch: bool = False
    """A flag without a value (its ini key takes true/false)."""

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    @property
    def ini(self) -> str:
        return self.dest


OPTIONS: tuple[Option, ...] = (
    Option("--swarm", "MODE", "where swarm tests run: dind (a local Docker-in-Docker swarm), "
           "existing (a swarm given with --swarm-existing: non-destructive checks only) or none "
           "(skip every swarm test)", "dind"),
    Option("--swarm-managers", "N", "managers in the default cluster", "3"),
    Option("--swarm-workers", "N", "workers in the default cluster", "0"),
    Option("--swarm-debian-suite", "SUITE", "Debian suite of the built node image, which "
           "picks the engine under test: bookworm (20.10), trixie (26.1), sid (28.5)",
           "bookworm"),
    Option("--swarm-engine-image", "IMAGE", "a dind-capable image already in the local engine, "
           "used for the nodes instead of the built one"),
    Option("--swarm-engines", "E1,E2,...", "a mixed-version default cluster: one engine per "
           "node (managers, then workers), each a Debian suite (bookworm, trixie, sid) or a dind "
           "image"),
    Option("--swarm-upgrade-from", "ENGINE", "the older engine of the mixed-version and "
           "engine-upgrade checks (suites/release), a Debian suite or a dind image; the newer "
           "one is the engine under test (default: the Debian suite before it: trixie -> "
           "bookworm, sid -> trixie)"),
    Option("--swarm-existing", "ENDPOINTS", "with --swarm=existing: the swarm's engines, "
           "comma-separated Docker context names or engine URLs (tcp://HOST:2376, "
           "unix:///PATH), one per node or one per manager"),
    Option("--swarm-existing-tls", "DIR", "TLS for the engine URLs of --swarm-existing: a "
           "folder with ca.pem, cert.pem and key.pem (default: DOCKER_CERT_PATH when "
           "DOCKER_TLS_VERIFY is set); contexts bring their own"),
    Option("--swarm-allow-destructive", "", "on an existing swarm (--swarm=existing), also "
           "run destructive checks and faults (they skip otherwise)", switch=True),
    Option("--swarm-toxiproxy-image", "IMAGE", "a Toxiproxy 2.x server image already in the "
           "local engine, used for control-plane faults instead of building one with Go"),
    Option("--swarm-subnet", "CIDR", "the node network, a private 10.x /24 (default: a free "
           "10.199.x.0/24; not with pytest-xdist, where every worker needs its own)"),
    Option("--swarm-select", "ID,AREA,ROW", "run only the checks matching any of these "
           "comma-separated check ids (SC-MEM-002), areas (services) or catalog rows "
           "(mem-leave); -k matches ids, areas and rows too"),
    Option("--swarm-reports", "DIR", "where the Allure results and junit.xml go unless "
           "--alluredir / --junitxml say otherwise (default: reports/ under the rootdir)"),
    Option("--swarm-chaos-duration", "DURATION", "nightly chaos mode: run a seeded random "
           "fault schedule this long (e.g. 15m)"),
    Option("--swarm-seed", "N", "seed of the nightly chaos schedule (default: random, printed "
           "and reported)"),
    Option("--swarm-chaos-faults", "KIND,...", "nightly chaos mode: draw only these fault kinds "
           f"(default: all: {', '.join(FAULT_KINDS)})"),
    Option("--swarm-chaos-schedule", "FILE", "replay a night: the schedule JSON attached to its "
           "report (\"planned schedule (json)\"); it fixes duration, seed and faults"),
)  # fmt: skip
BY_FLAG = {o.flag: o for o in OPTIONS}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        GROUP,
        "swarmcheck (Docker Swarm conformance and chaos; each option has an ini key of the "
        "same name with underscores, e.g. swarm_seed; the command line wins)",
    )
    for o in OPTIONS:
        if o.switch:
            group.addoption(o.flag, dest=o.dest, action="store_true", default=None, help=o.help)
            parser.addini(o.ini, f"swarmcheck: {o.help} (as {o.flag}; true/false)", default="")
            continue
        default = f"; default {o.default}" if o.default is not None else ""
        group.addoption(
            o.flag, dest=o.dest, default=None, metavar=o.metavar, help=f"{o.help}{default}"
        )
        parser.addini(o.ini, f"swarmcheck: {o.help} (as {o.flag})", type="string", default="")


@dataclass(frozen=True)
class Given:
    """Where a value came from: the command line, the ini file, or neither (the default)."""

    value: str | None
    source: str
    """``--swarm-seed`` or ``ini swarm_seed`` (for messages), or ``default``."""


def given(config: pytest.Config, flag: str) -> Given:
    """The value of a swarmcheck option: command line, else ini, else the built-in default."""
    option = BY_FLAG[flag]
    cli = config.getoption(option.dest, None)
    if cli is not None:
        return Given(str(cli), flag)
    ini = config.getini(option.ini)
    if ini not in ("", None):
        return Given(str(ini).strip(), f"ini {option.ini}")
    return Given(option.default, "default")


def asked(config: pytest.Config) -> list[str]:
    """The swarmcheck options this run was given (command line or ini): a swarm session."""
    return [g.source for g in (given(config, o.flag) for o in OPTIONS) if g.source != "default"]


def _int(config: pytest.Config, flag: str) -> int | None:
    g = given(config, flag)
    if g.value is None:
        return None
    try:
        return int(g.value)
    except ValueError:
        raise ConfigError(f"{g.source}={g.value!r}: not a whole number") from None


def _path(config: pytest.Config, flag: str) -> Path | None:
    """A path option: relative to the current directory on the command line, to the ini
    file's folder in the ini file."""
    g = given(config, flag)
    if g.value is None:
        return None
    path = Path(g.value).expanduser()
    if g.source.startswith("ini") and config.inipath is not None and not path.is_absolute():
        path = config.inipath.parent / path
    return path


def _seed(given_seed: int | None, duration: float | None) -> int | None:
    """Nightly mode always has a seed: the given one, or a random one that gets reported."""
    if given_seed is None and duration is not None:
        return random.randrange(1, 2**31)
    return given_seed


def _debian_suite(config: pytest.Config) -> str:
    """--swarm-debian-suite: a suite whose engine swarmcheck can build (checked now, not when
    the first swarm test needs the image)."""
    g = given(config, "--swarm-debian-suite")
    suite = g.value or "bookworm"
    if not is_debian(suite):
        raise ConfigError(
            f"{g.source}={suite!r}: not a Debian suite swarmcheck builds an engine from; use "
            f"{', '.join(describe(s) for s in DEBIAN_ORDER)}, or give a dind image with "
            "--swarm-engine-image"
        )
    return suite


def _engine_name(config: pytest.Config, flag: str) -> str | None:
    """An option naming one engine: a Debian suite or an image reference."""
    g = given(config, flag)
    if g.value is not None and not looks_like_engine(g.value):
        raise ConfigError(
            f"{g.source}={g.value!r}: neither a Debian suite ({', '.join(DEBIAN_ORDER)}) nor "
            "a dind image reference (e.g. my/dind:28)"
        )
    return g.value


def _cluster(config: pytest.Config) -> ClusterSpec:
    """The default cluster; a bad shape names the options (or ini keys) it came from."""
    managers, workers = _int(config, "--swarm-managers"), _int(config, "--swarm-workers")
    assert managers is not None and workers is not None  # they have defaults
    suite, engines = _debian_suite(config), _engines(config)  # their messages name them
    try:
        return ClusterSpec(
            managers=managers,
            workers=workers,
            debian_suite=suite,
            engine_image=given(config, "--swarm-engine-image").value,
            toxiproxy_image=given(config, "--swarm-toxiproxy-image").value,
            subnet=given(config, "--swarm-subnet").value,
            engines=engines,
        )
    except ConfigError as exc:
        flags = ("--swarm-managers", "--swarm-workers", "--swarm-subnet", "--swarm-engines")
        sources = [g.source for g in (given(config, f) for f in flags) if g.source != "default"]
        raise ConfigError(f"{exc} (from {', '.join(sources) or 'the defaults'})") from exc


def _fault_kinds(config: pytest.Config) -> tuple[str, ...] | None:
    """--swarm-chaos-faults: the kinds the nightly schedule may draw (None: all)."""
    g = given(config, "--swarm-chaos-faults")
    if g.value is None:
        return None
    kinds = tuple(dict.fromkeys(k.strip() for k in g.value.split(",") if k.strip()))
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown or not kinds:
        raise ConfigError(
            f"{g.source}={g.value!r}: "
            + (f"unknown fault kind(s) {', '.join(unknown)}; " if unknown else "no kind given; ")
            + f"choose among {', '.join(FAULT_KINDS)}"
        )
    return kinds


def _schedule(config: pytest.Config) -> Schedule | None:
    """--swarm-chaos-schedule FILE: the night to replay; the file fixes duration, seed, faults."""
    path = _path(config, "--swarm-chaos-schedule")
    if path is None:
        return None
    source = given(config, "--swarm-chaos-schedule").source
    fixed = [
        g.source
        for g in (given(config, f) for f in ("--swarm-chaos-duration", "--swarm-seed"))
        if g.source != "default"
    ] + [g.source for g in [given(config, "--swarm-chaos-faults")] if g.source != "default"]
    if fixed:
        raise ConfigError(
            f"{source}={path} replays a night as it was planned: drop {', '.join(fixed)} "
            "(the schedule fixes duration, seed and fault kinds)"
        )
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"{source}={path}: cannot read it ({exc.strerror or exc})") from exc
    try:
        return Schedule.from_json(text)
    except ConfigError as exc:
        raise ConfigError(
            f'{source}={path}: {exc}. Use the "planned schedule (json)" attachment of the '
            "night's nightly-chaos test, saved as it is"
        ) from exc


def _switch(config: pytest.Config, flag: str) -> bool:
    """A flag given on the command line, or its ini key set to true (yes, 1)."""
    g = given(config, flag)
    value = (g.value or "").strip().lower()
    if value in ("", "false", "no", "0"):
        return False
    if value in ("true", "yes", "1"):
        return True
    raise ConfigError(f"{g.source}={g.value!r}: use true or false")


def _engines(config: pytest.Config) -> tuple[str, ...]:
    """--swarm-engines: one engine per node, each a Debian suite or a dind image."""
    g = given(config, "--swarm-engines")
    if g.value is None:
        return ()
    engines = parse_engines(g.value, g.source)
    unknown = [e for e in engines if not looks_like_engine(e)]
    if unknown:
        raise ConfigError(
            f"{g.source}={g.value!r}: {', '.join(map(repr, unknown))} is neither a Debian "
            f"suite ({', '.join(DEBIAN_ORDER)}) nor a dind image reference (e.g. my/dind:28)"
        )
    return engines


def _existing(text: str | None, tls_dir: str | None) -> tuple[str, ...]:
    """The --swarm-existing endpoints, checked now (contexts exist, TLS folders complete)."""
    if text is None:
        return ()
    values = tuple(v.strip() for v in text.split(",") if v.strip())
    try:
        parse_endpoints(values, tls_dir)
    except ConfigError as exc:
        if tls_dir is not None and str(exc).startswith("TLS folder"):
            raise ConfigError(f"--swarm-existing-tls={tls_dir}: {exc}") from exc
        raise
    return values


def settings_from(config: pytest.Config) -> Settings:
    """Build Settings from the command line and ini file; a bad value is a usage error."""
    try:
        duration = given(config, "--swarm-chaos-duration")
        try:
            chaos_duration_s = parse_duration(duration.value) if duration.value else None
        except ConfigError as exc:
            raise ConfigError(f"{duration.source}={duration.value}: {exc}") from exc
        reports = _path(config, "--swarm-reports")
        seed = _int(config, "--swarm-seed")
        faults = _fault_kinds(config)
        schedule = _schedule(config)
        if schedule is not None:
            chaos_duration_s, seed = schedule.duration_s, schedule.seed
        return Settings(
            swarm=given(config, "--swarm").value or "dind",
            cluster=_cluster(config),
            reports_dir=reports or config.rootpath / "reports",
            select=given(config, "--swarm-select").value,
            upgrade_from=_engine_name(config, "--swarm-upgrade-from"),
            existing=_existing(
                given(config, "--swarm-existing").value,
                given(config, "--swarm-existing-tls").value,
            ),
            existing_tls=given(config, "--swarm-existing-tls").value,
            allow_destructive=_switch(config, "--swarm-allow-destructive"),
            chaos_duration_s=chaos_duration_s,
            seed=_seed(seed, chaos_duration_s),
            chaos_faults=faults,
            chaos_schedule=schedule,
            asked=tuple(asked(config)),
        )
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
