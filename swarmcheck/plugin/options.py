"""Command-line options, their ini equivalents, and their translation into Settings.

Every option starts with ``--swarm`` (pytest-xdist's ``-n``, pytest-timeout's ``--timeout``
and swarmcheck's ``--swarm-*`` never collide with a project's own options) and has an ini key
of the same name with underscores (``--swarm-seed`` / ``swarm_seed``), so a nightly job keeps
its defaults in pyproject.toml or pytest.ini. The command line wins over the ini file. Bad
input stops the run with a usage error naming the option (or ini key) and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from swarmcheck.cluster.existing import parse_endpoints
from swarmcheck.config import (
    ALLOW_DESTRUCTIVE,
    CHAOS_DURATION,
    CHAOS_FAULTS,
    CHAOS_SCHEDULE,
    DEBIAN_SUITE,
    ENGINE_IMAGE,
    ENGINES,
    EXISTING,
    EXISTING_TLS,
    KEEP_ON_FAILURE,
    MANAGERS,
    OPTIONS,
    QUICK,
    REPORTS,
    SEED,
    SELECT,
    SUBNET,
    SWARM,
    TOXIPROXY_IMAGE,
    UPGRADE_FROM,
    WORKERS,
    Nightly,
    Option,
    Settings,
    engine_under_test,
    parse_duration,
)
from swarmcheck.errors import ConfigError
from swarmcheck.faults.kinds import FAULT_KINDS
from swarmcheck.spec import (
    DEBIAN_ORDER,
    ClusterSpec,
    describe,
    is_debian,
    looks_like_engine,
    parse_engines,
)

GROUP = "swarmcheck"
CHOICES: dict[Option, tuple[str, ...]] = {CHAOS_FAULTS: FAULT_KINDS}
"""Options whose values only a higher layer knows (the fault registry): listed in the help."""


def _help(option: Option) -> str:
    choices = CHOICES.get(option)
    return f"{option.help}; one or more of {', '.join(choices)}" if choices else option.help


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        GROUP,
        "swarmcheck (Docker Swarm conformance and chaos; each option has an ini key of the "
        "same name with underscores, e.g. swarm_seed; the command line wins)",
    )
    for o in OPTIONS:
        text = _help(o)
        if o.switch:
            group.addoption(o.flag, dest=o.dest, action="store_true", default=None, help=text)
            parser.addini(o.ini, f"swarmcheck: {text} (as {o.flag}; true/false)", default="")
            continue
        default = f"; default {o.default}" if o.default is not None else ""
        group.addoption(
            o.flag, dest=o.dest, default=None, metavar=o.metavar, help=f"{text}{default}"
        )
        parser.addini(o.ini, f"swarmcheck: {text} (as {o.flag})", type="string", default="")


@dataclass(frozen=True)
class Given:
    """Where a value came from: the command line, the ini file, or neither (the default)."""

    value: str | None
    source: str
    """``--swarm-seed`` or ``ini swarm_seed`` (for messages), or ``default``."""

    @property
    def chosen(self) -> bool:
        return self.source != "default"


def given(config: pytest.Config, option: Option) -> Given:
    """The value of a swarmcheck option: command line, else ini, else the built-in default."""
    cli = config.getoption(option.dest, None)
    if cli is not None:
        return Given(str(cli), option.flag)
    ini = config.getini(option.ini)
    if ini not in ("", None):
        return Given(str(ini).strip(), f"ini {option.ini}")
    return Given(option.default, "default")


def asked(config: pytest.Config) -> list[str]:
    """The swarmcheck options this run was given (command line or ini): a swarm session."""
    return [g.source for g in (given(config, o) for o in OPTIONS) if g.chosen]


def _int(config: pytest.Config, option: Option) -> int | None:
    g = given(config, option)
    if g.value is None:
        return None
    try:
        return int(g.value)
    except ValueError:
        raise ConfigError(f"{g.source}={g.value!r}: not a whole number") from None


def _path(config: pytest.Config, option: Option) -> Path | None:
    """A path option: relative to the current directory on the command line, to the ini
    file's folder in the ini file."""
    g = given(config, option)
    if g.value is None:
        return None
    path = Path(g.value).expanduser()
    if g.source.startswith("ini") and config.inipath is not None and not path.is_absolute():
        path = config.inipath.parent / path
    return path


def _engine(config: pytest.Config) -> str:
    """The engine under test, from --swarm-engine-image or --swarm-debian-suite; a suite is
    checked now (one swarmcheck can build), not when the first swarm test needs the image."""
    suite = given(config, DEBIAN_SUITE)
    if suite.value is not None and not is_debian(suite.value):
        raise ConfigError(
            f"{suite.source}={suite.value!r}: not a Debian suite swarmcheck builds an engine "
            f"from; use {', '.join(describe(s) for s in DEBIAN_ORDER)}, or give a dind image "
            f"with {ENGINE_IMAGE.flag}"
        )
    return engine_under_test(suite.value, given(config, ENGINE_IMAGE).value)


def _engine_name(config: pytest.Config, option: Option) -> str | None:
    """An option naming one engine: a Debian suite or an image reference."""
    g = given(config, option)
    if g.value is not None and not looks_like_engine(g.value):
        raise ConfigError(
            f"{g.source}={g.value!r}: neither a Debian suite ({', '.join(DEBIAN_ORDER)}) nor "
            "a dind image reference (e.g. my/dind:28)"
        )
    return g.value


def _cluster(config: pytest.Config) -> ClusterSpec:
    """The default cluster; a bad shape names the options (or ini keys) it came from."""
    managers, workers = _int(config, MANAGERS), _int(config, WORKERS)
    assert managers is not None and workers is not None  # they have defaults
    engine, engines = _engine(config), _engines(config)  # their messages name them
    try:
        return ClusterSpec(
            managers=managers,
            workers=workers,
            engine=engine,
            toxiproxy_image=given(config, TOXIPROXY_IMAGE).value,
            subnet=given(config, SUBNET).value,
            engines=engines,
        )
    except ConfigError as exc:
        sources = [g.source for g in (given(config, o) for o in _SHAPE) if g.chosen]
        raise ConfigError(f"{exc} (from {', '.join(sources) or 'the defaults'})") from exc


_SHAPE = (MANAGERS, WORKERS, SUBNET, ENGINES)
"""The options a bad cluster shape can come from."""


def _fault_kinds(config: pytest.Config) -> tuple[str, ...] | None:
    """--swarm-chaos-faults: the kinds the nightly schedule may draw (None: all)."""
    g = given(config, CHAOS_FAULTS)
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


def _duration(config: pytest.Config) -> float | None:
    g = given(config, CHAOS_DURATION)
    try:
        return parse_duration(g.value) if g.value else None
    except ConfigError as exc:
        raise ConfigError(f"{g.source}={g.value}: {exc}") from exc


def _nightly(config: pytest.Config) -> Nightly:
    """Nightly chaos mode as asked: duration, seed and kinds, or a night to replay (which
    fixes all three, so they cannot be given with it)."""
    replay = _path(config, CHAOS_SCHEDULE)
    if replay is None:
        return Nightly(_duration(config), _int(config, SEED), _fault_kinds(config))
    fixed = [g.source for g in (given(config, o) for o in _FIXED_BY_REPLAY) if g.chosen]
    if fixed:
        raise ConfigError(
            f"{given(config, CHAOS_SCHEDULE).source}={replay} replays a night as it was "
            f"planned: drop {', '.join(fixed)} (the schedule fixes duration, seed and fault "
            "kinds)"
        )
    return Nightly(replay=replay)


_FIXED_BY_REPLAY = (CHAOS_DURATION, SEED, CHAOS_FAULTS)


def _switch(config: pytest.Config, option: Option) -> bool:
    """A flag given on the command line, or its ini key set to true (yes, 1)."""
    g = given(config, option)
    value = (g.value or "").strip().lower()
    if value in ("", "false", "no", "0"):
        return False
    if value in ("true", "yes", "1"):
        return True
    raise ConfigError(f"{g.source}={g.value!r}: use true or false")


def _keep_on_failure(config: pytest.Config, swarm: str) -> bool:
    """--swarm-keep-on-failure: only a swarm swarmcheck made can be kept."""
    keep = _switch(config, KEEP_ON_FAILURE)
    if keep and swarm == "existing":
        source = given(config, KEEP_ON_FAILURE).source
        fix = (
            f"-o {KEEP_ON_FAILURE.ini}=false overrides the ini key"
            if source.startswith("ini")
            else f"drop {KEEP_ON_FAILURE.flag}"
        )
        raise ConfigError(
            f"{source} works only with --swarm=dind: it keeps a cluster swarmcheck made, and a "
            f"swarm you give (--swarm=existing) is always put back as it was found, so there is "
            f"nothing to keep. Look into a failure there with -x --pdb instead, or {fix}"
        )
    return keep


def _engines(config: pytest.Config) -> tuple[str, ...]:
    """--swarm-engines: one engine per node, each a Debian suite or a dind image."""
    g = given(config, ENGINES)
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
            raise ConfigError(f"{EXISTING_TLS.flag}={tls_dir}: {exc}") from exc
        raise
    return values


def settings_from(config: pytest.Config) -> Settings:
    """Build Settings from the command line and ini file; a bad value is a usage error."""
    try:
        tls = given(config, EXISTING_TLS).value
        swarm = given(config, SWARM).value or "dind"
        return Settings(
            swarm=swarm,
            cluster=_cluster(config),
            reports_dir=_path(config, REPORTS) or config.rootpath / "reports",
            select=given(config, SELECT).value,
            upgrade_from=_engine_name(config, UPGRADE_FROM),
            existing=_existing(given(config, EXISTING).value, tls),
            existing_tls=tls,
            allow_destructive=_switch(config, ALLOW_DESTRUCTIVE),
            keep_on_failure=_keep_on_failure(config, swarm),
            quick=_switch(config, QUICK),
            nightly=_nightly(config),
            asked=tuple(asked(config)),
        )
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from exc
