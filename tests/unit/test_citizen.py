"""swarmcheck among other pytest plugins: no effect unless asked, one option prefix with ini
equivalents, error messages that name real options (no Docker needed).

Projects run in a subprocess (``runpytest_subprocess``), so signal handlers and global
settings are those of a fresh pytest, not of this session.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from swarmcheck.config import BY_FLAG, OPTIONS

ROOT = Path(__file__).resolve().parents[2]

PLAIN = """
import signal

import pytest


def test_untouched(request):
    # what swarmcheck would change if it switched itself on
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert request.config.option.allure_report_dir is None
    assert request.config.option.xmlpath is None
    from testcontainers.core.config import testcontainers_config
    assert vars(testcontainers_config).get("_ryuk_disabled") is None
    from swarmcheck import steps
    assert steps._recorder is None


def test_fails():
    assert 1 == 2


@pytest.mark.skip(reason="on purpose")
def test_skipped():
    pass
"""

CHECK = """
import pytest


@pytest.mark.swarmcheck(
    id="SC-TEST-960",
    area="membership",
    doc="https://docs.docker.com/engine/swarm/",
    title="a check that needs no swarm",
    promise="A check MUST be reported.",
    rows=("mem-join-worker",),
    effects=("writes",),
)
def test_check(swarm_figure):
    swarm_figure("answer", 42)


def test_plain():
    pass
"""

VOLATILE = re.compile(r"^(platform |rootdir|plugins|cachedir|configfile)|\bin [\d.]+s\b")


PYTESTER_OWN = re.compile(r"^(stdout|stderr|runpytest-[^/]+)(/|$)")
"""What runpytest_subprocess itself leaves in the project (its output and basetemp)."""


def files(root: Path) -> set[str]:
    """Files and folders a run may have made in ``root`` (pytester's own left out)."""
    found = {p.relative_to(root).as_posix() for p in root.rglob("*")}
    return {f for f in found if "__pycache__" not in f and not PYTESTER_OWN.match(f)}


def stable_lines(output: list[str]) -> list[str]:
    """The output without the lines that differ between any two runs (timings, header)."""
    return [line for line in output if not VOLATILE.search(line)]


def test_plain_project_behaves_as_without_swarmcheck(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain=PLAIN)
    before = files(pytester.path)

    with_plugin = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA")
    assert files(pytester.path) == before, "swarmcheck wrote files into a plain project"
    without = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", "-p", "no:swarmcheck")

    with_plugin.assert_outcomes(passed=1, failed=1, skipped=1)
    assert with_plugin.ret == without.ret == pytest.ExitCode.TESTS_FAILED
    assert stable_lines(with_plugin.outlines) == stable_lines(without.outlines)
    assert not [line for line in stable_lines(with_plugin.outlines) if "swarmcheck" in line]


def test_a_project_with_its_own_seed_option_starts(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        def pytest_addoption(parser):
            parser.addoption("--seed", type=int, default=0)
            parser.addini("seed", "the project's own seed")
        """
    )
    pytester.makepyfile(
        test_seed="""
        def test_seed(request):
            assert request.config.getoption("--seed") == 7
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--seed=7")
    result.assert_outcomes(passed=1)


def test_a_swarm_test_switches_swarmcheck_on(pytester: pytest.Pytester) -> None:
    """A collected check brings the reports (Allure, JUnit under reports/) and the summary,
    without any option."""
    pytester.makepyfile(test_check=CHECK)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*swarmcheck summary*", "swarmcheck: 1 test: 1 passed*"])
    assert (pytester.path / "reports" / "junit.xml").is_file()
    results = pytester.path / "reports" / "allure-results"
    assert list(results.glob("*-result.json")), "no Allure results"
    assert (results / "executor.json").is_file()


def test_an_option_switches_swarmcheck_on(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--swarm=none")
    result.assert_outcomes(passed=1)
    assert (pytester.path / "reports" / "junit.xml").is_file()


def test_collect_only_writes_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_check=CHECK)
    before = files(pytester.path)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    assert result.ret == pytest.ExitCode.OK
    assert files(pytester.path) == before


def test_user_report_places_win(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_check=CHECK)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--junitxml=mine.xml", "--alluredir=mine"
    )
    result.assert_outcomes(passed=2)
    assert (pytester.path / "mine.xml").is_file()
    assert list((pytester.path / "mine").glob("*-result.json"))
    assert not (pytester.path / "reports").exists()


def test_every_option_has_the_prefix_and_an_ini_key(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    text = result.stdout.str()
    section = text[text.index("swarmcheck (Docker Swarm") :]
    section = section[: section.index("\n\n")]
    for option in OPTIONS:
        assert option.flag.startswith("--swarm")
        assert option.flag in section, f"{option.flag} is not in the swarmcheck group"
        assert re.search(rf"^\s+{option.ini} \(string\):", text, re.M), f"no ini {option.ini}"


SHOW_SETTINGS = """
def test_settings(swarm_settings):
    spec = swarm_settings.cluster
    nightly = swarm_settings.nightly
    print("SETTINGS", spec.managers, spec.workers, spec.engine, nightly.seed,
          nightly.duration_s, swarm_settings.reports_dir.name)
"""


def test_ini_gives_defaults_and_the_command_line_wins(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        swarm_managers = 1
        swarm_workers = 2
        swarm_debian_suite = trixie
        swarm_seed = 11
        swarm_chaos_duration = 2m
        swarm_reports = out
        """
    )
    pytester.makepyfile(test_settings=SHOW_SETTINGS)
    from_ini = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    from_ini.stdout.fnmatch_lines(["*SETTINGS 1 2 trixie 11 120.0 out"])
    assert (pytester.path / "out" / "junit.xml").is_file(), "ini swarm_reports is not used"
    assert from_ini.stdout.str().count("generated xml file") == 1

    from_cli = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-s", "--swarm-managers=3", "--swarm-seed=5"
    )
    from_cli.stdout.fnmatch_lines(["*SETTINGS 3 2 trixie 5 120.0 out"])


@pytest.mark.parametrize(
    ("ini", "says"),
    [
        ("swarm_managers = many", "ini swarm_managers='many': not a whole number"),
        ("swarm_managers = 0", "(from ini swarm_managers)"),
        ("swarm_chaos_duration = soon", "ini swarm_chaos_duration=soon: bad duration"),
    ],
)
def test_bad_ini_value_is_a_usage_error_naming_the_key(
    pytester: pytest.Pytester, ini: str, says: str
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert says in result.stderr.str()


def test_subnet_with_xdist_is_refused(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is in the dev extra")
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-n", "1", "--swarm-subnet=10.199.3.0/24"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "cannot be used with pytest-xdist" in result.stderr.str()


OLD_NAMES = re.compile(
    r"(?<![\w-])--(chaos-duration|seed|swarmcheck-reports|swarm-faults|"
    r"swarmcheck-toxiproxy-image)\b"
)
SETUP_NAMES = re.compile(r"(?<![\w-])--(engine-image|debian-suite)\b")
SWARM_FLAG = re.compile(r"(?<![\w-])--swarm(?:-[a-z]+)*")


def _texts() -> list[Path]:
    paths = [ROOT / "README.md", ROOT / "run", ROOT / "tox.ini", ROOT / "suites" / "README.md"]
    for folder in ("swarmcheck", "suites", "docs", "benchmarks", "tests"):
        paths += [p for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".md")]
    return [p for p in paths if p.is_file() and p != Path(__file__)]


def test_texts_name_only_options_that_exist() -> None:
    """Code, messages and docs name swarmcheck's options as they are registered."""
    problems = []
    for path in _texts():
        text = path.read_text()
        for match in OLD_NAMES.finditer(text):
            problems.append(f"{path.relative_to(ROOT)}: old option {match.group(0)}")
        for number, line in enumerate(text.splitlines(), 1):
            # `swarmcheck setup --engine-image/--debian-suite` exist; pytest's are --swarm-*
            if SETUP_NAMES.search(line) and "setup" not in line and path.name != "cli.py":
                problems.append(f"{path.relative_to(ROOT)}:{number}: pytest option without --swarm")
        for match in SWARM_FLAG.finditer(text):
            if match.group(0) not in BY_FLAG:
                problems.append(f"{path.relative_to(ROOT)}: unknown option {match.group(0)}")
    assert not problems, "\n".join(problems)
