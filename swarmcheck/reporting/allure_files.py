"""Writers for the extra files Allure reads from a results folder.

``environment.properties`` fills the report's Environment widget, ``categories.json`` sorts
non-passing tests into the three families of :mod:`swarmcheck.errors` (plus deliberate skips),
and ``executor.json`` names the nightly build in the trend charts.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from swarmcheck.errors import (
    EnvironmentProblem,
    ImageBuildError,
    ProvisioningError,
    ReadinessTimeout,
    SwarmPromiseBroken,
)

__all__ = [
    "CATEGORY_ENVIRONMENT",
    "CATEGORY_FRAMEWORK",
    "CATEGORY_NOT_THIS_RUN",
    "CATEGORY_PRODUCT",
    "CATEGORY_SKIPPED",
    "Executor",
    "build_categories",
    "category_of",
    "escape_properties_key",
    "escape_properties_value",
    "executor_from_env",
    "write_categories",
    "write_environment",
    "write_executor",
]

CATEGORY_PRODUCT = "Broken Swarm promise (product failure)"
CATEGORY_ENVIRONMENT = "Environment problem"
CATEGORY_FRAMEWORK = "Framework error"
CATEGORY_SKIPPED = "Skipped: platform lacks a feature"
CATEGORY_NOT_THIS_RUN = "Skipped: not part of this run"
FEATURE_SKIP = r"Skipped: needs [\w-]+: "
"""How a platform-feature skip starts (``capabilities.feature_missing``: "needs ipvs: ...")."""

# Exceptions that mean "this machine can't"; subclasses loaded at write time are added too.
# ProvisioningError is not an EnvironmentProblem in errors.py, but a node that will not start
# is, for the person reading the morning report, a problem of the test machine. A swarm that
# does not form once its engines answer is not: that is a SwarmPromiseBroken (a timeout of a
# documented behaviour, PromiseTimeout), and the product family always wins.
_ENVIRONMENT_ROOTS: tuple[type[BaseException], ...] = (
    EnvironmentProblem,
    ImageBuildError,
    ProvisioningError,
    ReadinessTimeout,
)
_PRODUCT_ROOTS: tuple[type[BaseException], ...] = (SwarmPromiseBroken,)

_PROPERTIES_SPECIALS = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}


def _escape_properties(text: str, *, is_key: bool) -> str:
    """Escape like java.util.Properties.store, but ASCII-only so any reader charset works."""
    out: list[str] = []
    for index, char in enumerate(text):
        if char in _PROPERTIES_SPECIALS:
            out.append(_PROPERTIES_SPECIALS[char])
        elif char == " ":
            # A key ends at a blank; a value loses its leading blanks.
            out.append("\\ " if is_key or index == 0 else " ")
        elif char in "=:#!":
            out.append("\\" + char)
        elif " " < char <= "~":
            out.append(char)
        else:
            out.append(_unicode_escape(char))
    return "".join(out)


def escape_properties_key(text: str) -> str:
    """Escape ``text`` as a java.util.Properties key."""
    return _escape_properties(text, is_key=True)


def escape_properties_value(text: str) -> str:
    """Escape ``text`` as a java.util.Properties value."""
    return _escape_properties(text, is_key=False)


def _unicode_escape(char: str) -> str:
    """``\\uXXXX`` for one code point, as UTF-16 surrogates beyond the BMP, as Java expects."""
    encoded = char.encode("utf-16-be")
    units = [int.from_bytes(encoded[i : i + 2], "big") for i in range(0, len(encoded), 2)]
    return "".join(f"\\u{unit:04X}" for unit in units)


def write_environment(results_dir: Path, mapping: Mapping[str, object]) -> Path:
    """Write ``environment.properties`` (engine version, kernel, node count, ...) for the report."""
    results_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        f"{escape_properties_key(str(key))}={escape_properties_value(str(value))}"
        for key, value in mapping.items()
    ]
    path = results_dir / "environment.properties"
    path.write_text("".join(line + "\n" for line in lines), encoding="ascii")
    return path


def _class_names(roots: Iterable[type[BaseException]]) -> list[str]:
    """Names of ``roots`` and of every subclass imported so far, sorted for a stable file."""
    names: set[str] = set()
    pending = list(roots)
    while pending:
        cls = pending.pop()
        if cls.__name__ not in names:
            names.add(cls.__name__)
            pending.extend(cls.__subclasses__())
    return sorted(names)


def _environment_head() -> str:
    """Java regex for the start of a message raised by an environment exception.

    allure-pytest writes pytest's ``ExceptionInfo.exconly()`` as the message, which starts
    with the exception's qualified class name (``swarmcheck.errors.ImageBuildError: ...``);
    a skip reads ``Skipped: <reason>``, so a skip whose reason starts with the class name
    (``pytest.skip(f"{type(exc).__name__}: {exc}")``) is recognised as well.
    """
    product = set(_class_names(_PRODUCT_ROOTS))
    names = "|".join(
        re.escape(name) for name in _class_names(_ENVIRONMENT_ROOTS) if name not in product
    )
    return rf"\s*(?:Skipped: )?(?:[\w.]+\.)?(?:{names})\b"


def build_categories() -> list[dict[str, Any]]:
    """The category list, mutually exclusive because Allure files a result under every match.

    Allure full-matches each regex with DOTALL, requires ``flaky`` to equal the result's flag
    (which the history plugin sets on flip-flopping tests), and files unmatched failures under
    its own "Product defects"/"Test defects"; so each category is written twice, once per
    flaky value, under one name, and every failed or broken result lands in exactly one.
    """
    env = _environment_head()
    not_env = f"(?!{env})"
    specs: list[dict[str, Any]] = [
        {
            # Allure's "failed" already means AssertionError (SwarmPromiseBroken is one, so
            # are its PromiseTimeout and SwarmRefused) or pytest.fail; only an environment
            # exception forced into a failure is excluded.
            "name": CATEGORY_PRODUCT,
            "matchedStatuses": ["failed"],
            "messageRegex": f"{not_env}.*",
        },
        {
            "name": CATEGORY_ENVIRONMENT,
            "matchedStatuses": ["broken", "skipped", "failed"],
            "messageRegex": f"{env}.*",
        },
        {
            "name": CATEGORY_FRAMEWORK,
            "matchedStatuses": ["broken"],
            "messageRegex": f"{not_env}.*",
        },
        {
            "name": CATEGORY_SKIPPED,
            "matchedStatuses": ["skipped"],
            "messageRegex": f"{not_env}{FEATURE_SKIP}.*",
        },
        {
            # Skips the run asked for: a mode that is off (nightly chaos), a cluster shape or
            # engine mix this run does not give, a check an existing swarm cannot host, or
            # --swarm=none. xfail results are "skipped" too, with an "XFAIL ..." message:
            # neither a missing feature nor this.
            "name": CATEGORY_NOT_THIS_RUN,
            "matchedStatuses": ["skipped"],
            "messageRegex": f"{not_env}(?!XFAIL)(?!{FEATURE_SKIP}).*",
        },
    ]
    return [{**spec, "flaky": flaky} for spec in specs for flaky in (False, True)]


def category_of(status: str, message: str) -> str | None:
    """The category a result with this Allure status ("failed", "broken", "skipped") and
    message falls under, read from the very list ``categories.json`` holds (Allure's rules:
    the status is among ``matchedStatuses`` and the regex matches the whole message), so a
    tool that counts categories agrees with the report. None when no category matches (a
    pass, an expected failure)."""
    for spec in build_categories():
        if spec["flaky"] or status not in spec["matchedStatuses"]:
            continue
        if re.fullmatch(spec["messageRegex"], message, flags=re.DOTALL):
            return str(spec["name"])
    return None


def write_categories(results_dir: Path) -> Path:
    """Write ``categories.json`` so the Categories tab separates product, environment, framework."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "categories.json"
    path.write_text(json.dumps(build_categories(), indent=2) + "\n", encoding="utf-8")
    return path


def write_executor(
    results_dir: Path,
    name: str,
    build_name: str,
    report_url: str | None = None,
    *,
    build_order: int | None = None,
    build_url: str | None = None,
    executor_type: str = "swarmcheck",
) -> Path:
    """Write ``executor.json``: who ran this launch; trend charts label points with it."""
    results_dir.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {"name": name, "type": executor_type, "buildName": build_name}
    if build_order is not None:
        data["buildOrder"] = build_order
    if build_url is not None:
        data["buildUrl"] = build_url
    if report_url is not None:
        data["reportUrl"] = report_url
        data["reportName"] = build_name
    path = results_dir / "executor.json"
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class Executor:
    """Who ran a launch, as ``executor.json`` says it: Allure's trend charts label each point
    with ``build_name`` (and order points by ``build_order``), so a night is recognisable."""

    name: str
    type: str
    build_name: str
    build_url: str | None = None
    build_order: int | None = None
    report_url: str | None = None


def _number(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def executor_from_env(env: Mapping[str, str], now: datetime | None = None) -> Executor:
    """The CI build this run belongs to, from the variables GitHub Actions, GitLab CI and
    Jenkins set; elsewhere the host and the start time (UTC) name and order the run."""
    if env.get("GITHUB_ACTIONS") == "true":
        server = env.get("GITHUB_SERVER_URL", "https://github.com")
        repo, run_id = env.get("GITHUB_REPOSITORY", ""), env.get("GITHUB_RUN_ID", "")
        number = env.get("GITHUB_RUN_NUMBER", "")
        return Executor(
            name="GitHub Actions",
            type="github",
            build_name=f"{env.get('GITHUB_WORKFLOW', repo)} #{number}".strip(),
            build_url=f"{server}/{repo}/actions/runs/{run_id}" if repo and run_id else None,
            build_order=_number(number),
        )
    if env.get("GITLAB_CI") == "true":
        number = env.get("CI_PIPELINE_IID") or env.get("CI_PIPELINE_ID", "")
        job = env.get("CI_JOB_NAME")
        return Executor(
            name="GitLab CI",
            type="gitlab",
            build_name=f"{env.get('CI_PROJECT_PATH', 'pipeline')} #{number}"
            + (f" {job}" if job else ""),
            build_url=env.get("CI_JOB_URL") or env.get("CI_PIPELINE_URL"),
            build_order=_number(number),
        )
    if env.get("JENKINS_URL") or env.get("JENKINS_HOME"):
        number = env.get("BUILD_NUMBER", "")
        return Executor(
            name="Jenkins",
            type="jenkins",
            build_name=f"{env.get('JOB_NAME', 'build')} #{number}",
            build_url=env.get("BUILD_URL"),
            build_order=_number(number),
        )
    started = now or datetime.now(UTC)
    return Executor(
        name="swarmcheck",
        type="local",
        build_name=f"{socket.gethostname()} {started:%Y-%m-%d %H:%M} UTC",
        # the trend labels points "#<order>": the start time reads as a date (202611260200)
        build_order=int(f"{started:%Y%m%d%H%M}"),
    )
