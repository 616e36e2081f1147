"""The `swarmcheck` command: set-up, running the shipped suites, sweeping leftovers, the HTML
report, the catalog, the compatibility matrix and checking a recorded history."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from swarmcheck import __version__
from swarmcheck.client.engine import host_client
from swarmcheck.cluster import reaper
from swarmcheck.cluster.kept import expired_note, left_note
from swarmcheck.config import DEBIAN_SUITE, ENGINE_IMAGE, engine_under_test
from swarmcheck.errors import ConfigError, SwarmcheckError
from swarmcheck.labels import KEEP_HOURS
from swarmcheck.machine import hostengine
from swarmcheck.machine.images import prepare_images
from swarmcheck.spec import DEBIAN_ORDER, ClusterSpec

log = logging.getLogger("swarmcheck")

if TYPE_CHECKING:
    from swarmcheck.catalog import Coverage

    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]  # add_subparsers() gives


def cmd_setup(args: argparse.Namespace) -> int:
    """Start the engine and build every image the suites need (each step idempotent)."""
    clock = time.monotonic()
    print(f"swarmcheck: Docker engine {hostengine.ensure_engine()} answers")
    host = host_client()
    swept = reaper.sweep_stale(host)
    if swept.removed:
        print(f"swarmcheck: removed leftovers of earlier runs: {swept.removed}")
    for kept in swept.kept.left:
        print(f"swarmcheck: {left_note(kept, swept.at)}")
    spec = ClusterSpec(engine=engine_under_test(args.debian_suite, args.engine_image))
    prepared = prepare_images(host, spec)
    print(f"swarmcheck: node image {prepared.node}; workload {', '.join(prepared.workload)}")
    if args.toxiproxy:
        from swarmcheck.machine.toxiproxy_image import ensure_toxiproxy_image

        print(f"swarmcheck: Toxiproxy image {ensure_toxiproxy_image(host)}")
    if args.allure:
        from swarmcheck.machine.allure import ensure_allure_cli

        print(f"swarmcheck: Allure command line {ensure_allure_cli(tool=args.tool)}")
    if args.history_checker:
        from swarmcheck.machine.history_checker import ensure_history_checker

        print(f"swarmcheck: history checker {ensure_history_checker()}")
    print(f"swarmcheck: set-up done in {time.monotonic() - clock:.1f} s")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Remove what killed runs left (containers, networks, volumes whose owner is gone);
    clusters kept after a failed check stay for their time unless named or --kept."""
    host = host_client()
    if args.run:
        print(f"swarmcheck: removed run {args.run}: {reaper.remove_run(host, args.run)}")
    elif args.kept:
        gone = reaper.remove_kept(host)
        for kept, removed in gone:
            tests = ", ".join(kept.tests)
            print(f"swarmcheck: removed kept cluster {kept.run_id} ({tests}): {removed}")
        if not gone:
            print("swarmcheck: no kept cluster to remove")
    else:
        swept = reaper.sweep_stale(host)
        print(f"swarmcheck: removed {swept.removed}")
        for kept in swept.kept.expired:
            print(f"swarmcheck: {expired_note(kept)}")
        for kept in swept.kept.left:
            print(f"swarmcheck: {left_note(kept, swept.at)}")
    if args.images:
        images, in_use = reaper.remove_images(host)
        print(f"swarmcheck: removed {len(images)} built images: {', '.join(images) or 'none'}")
        if in_use:
            print(f"swarmcheck: kept {len(in_use)} images a live run uses: {', '.join(in_use)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Generate the HTML report from the Allure results of the last run."""
    from pathlib import Path

    from swarmcheck.reporting.html import generate_html

    index = generate_html(Path(args.results), Path(args.output), tool=args.tool)
    print(f"swarmcheck: report at {index}")
    return 0


def cmd_catalog(args: argparse.Namespace) -> int:
    """Print the catalog: every check, and which documented behaviours they cover."""
    from pathlib import Path

    from swarmcheck.catalog import (
        FEATURES,
        bounds,
        coverage,
        generated_block,
        load_catalog,
        render_json,
        render_markdown,
        splice,
    )
    from swarmcheck.cluster.capabilities import host_feature
    from swarmcheck.plugin.catalog import collect_checks

    if (args.write or args.check) and args.format != "markdown":
        raise ConfigError("--write and --check keep a Markdown page: drop --format json")
    from swarmcheck.shipped import suites_dir

    if args.suites is None:
        args.suites = str(suites_dir())
    cov = coverage(load_catalog(), collect_checks(Path(args.suites)))
    target = Path(args.write or args.check or ".")
    if target.is_file() and bounds.is_bounds_page(target.read_text()):
        return _bounds_page(args, target, cov)
    if args.measured:
        raise ConfigError("--measured goes with the bounds page: --write docs/bounds.md")
    if args.write or args.check:
        # The file is committed: what it says must not depend on the machine it was made on.
        block = render_markdown(cov)
        target = Path(args.write or args.check)
        document = target.read_text() if target.exists() else ""
        if args.check:
            if generated_block(document) != block:
                print(
                    f"swarmcheck: {target} does not match the checks in {args.suites}: "
                    f"run `swarmcheck catalog --suites {args.suites} --write {target}`",
                    file=sys.stderr,
                )
                return 1
            print(f"swarmcheck: {target} is up to date")
            return 0
        target.write_text(splice(document, block))
        print(
            f"swarmcheck: wrote the catalog into {target}: {len(cov.checks)} checks, "
            f"{cov.with_checks} of {len(cov.rows)} rows covered"
        )
        return 0
    host = {feature: host_feature(feature) for feature in FEATURES}
    render = render_json if args.format == "json" else render_markdown
    sys.stdout.write(render(cov, host))
    return 0


def _bounds_page(args: argparse.Namespace, page: Path, cov: Coverage) -> int:
    """docs/bounds.md: check it, or record a run's figures (``--measured``) and write it."""
    from swarmcheck.catalog import bounds
    from swarmcheck.catalog.render import generated_block, splice

    if args.measured:
        from datetime import UTC, datetime

        from swarmcheck.reporting.matrix import read_run

        run = read_run(Path(args.measured), engine="")
        if run.problem:
            raise ConfigError(f"--measured {args.measured}: {run.problem}")
        day = datetime.fromtimestamp(Path(args.measured).stat().st_mtime, UTC).date()
        record_file = bounds.measured_path(page)
        bounds.write_measured(
            record_file,
            bounds.record(
                cov.catalog,
                bounds.read_measured(record_file),
                (bounds.RunFigures(r.id, r.status, r.figures) for r in run.results),
                engine=run.version or run.label or "unknown engine",
                date=day.isoformat(),
            ),
        )
        print(f"swarmcheck: recorded the figures of {args.measured} in {record_file}")
    block = bounds.page_block(page, cov.catalog, cov.checks)
    document = page.read_text()
    if args.check:
        if generated_block(document, bounds.BEGIN, bounds.END) != block:
            print(
                f"swarmcheck: {page} does not match the catalog's bounds and "
                f"{bounds.measured_path(page)}: run `swarmcheck catalog --write {page}`",
                file=sys.stderr,
            )
            return 1
        print(f"swarmcheck: {page} is up to date")
        return 0
    page.write_text(splice(document, block, bounds.BEGIN, bounds.END))
    print(f"swarmcheck: wrote the bounds into {page}")
    return 0


def cmd_matrix(args: argparse.Namespace) -> int:
    """Run the suites once per engine and write the compatibility matrix (check x engine)."""
    import signal
    from pathlib import Path

    from swarmcheck.machine.images import missing_images
    from swarmcheck.reporting.matrix_runner import DEFAULT_SUITES, run_matrix
    from swarmcheck.spec import looks_like_engine, parse_engines

    engines = [*parse_engines(args.engines, "--engines"), *args.engine_image]
    unknown = [e for e in engines if not looks_like_engine(e)]
    if unknown:
        raise ConfigError(
            f"--engines: {', '.join(unknown)} is neither a Debian suite "
            f"({', '.join(DEBIAN_ORDER)}) nor an image reference (repo:tag)"
        )
    if len(set(engines)) != len(engines):
        raise ConfigError(f"--engines names an engine twice: {', '.join(engines)}")
    missing = missing_images(host_client(), engines)
    if missing:  # before any run: every test of that engine would error at set-up
        raise ConfigError(
            f"engine image(s) {', '.join(missing)} not in the local engine, and no registry "
            "is reached here: load them first (`docker load -i IMAGE.tar`, or `docker build "
            f"-t IMAGE ...` on this machine), or leave them out of --engines / {ENGINE_IMAGE.flag}"
        )

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)  # a CI timeout: each run still removes its swarm
    suites, extra = args.suites or list(DEFAULT_SUITES), list(args.pytest_args)
    if not args.suites and not Path("suites").is_dir():  # no checkout here: the shipped suites
        from swarmcheck.shipped import shipped_suites

        suites = [str(shipped_suites() / Path(s).name) for s in DEFAULT_SUITES]
        extra = [f"--rootdir={Path.cwd()}", "-p", "no:cacheprovider", *extra]
    result = run_matrix(
        engines,
        Path(args.reports),
        suites=suites,
        extra=extra,
        html=not args.no_html,
        confirm=args.confirm,
    )
    print(f"swarmcheck: compatibility matrix in {result.markdown} and {result.page}")
    if result.html is not None:
        print(f"swarmcheck: HTML report (every engine, and the matrix) at {result.html}")
    print(f"swarmcheck: {len(result.differences)} differences between engines")
    return result.exit_code


def cmd_check_history(args: argparse.Namespace) -> int:
    """Check a recorded history for linearizability with Porcupine (exit 0 linearizable,
    1 not, 3 undecided)."""
    from pathlib import Path

    from swarmcheck.checkers.history import load_history
    from swarmcheck.checkers.linearizable import check_linearizable
    from swarmcheck.machine.history_checker import ensure_history_checker

    path = Path(args.file)
    history = load_history(path)  # bad input is refused before anything is built
    html = Path(args.html) if args.html else path.with_suffix(".html")
    verdict = check_linearizable(
        history, ensure_history_checker(), html=html, timeout_s=args.timeout
    )
    print(verdict.report())
    return {"ok": 0, "illegal": 1}.get(verdict.result, 3)


RUN_USAGE = """usage: swarmcheck run [SUITE ...] [pytest arguments]

Run swarmcheck's suites with pytest, from any folder: SUITE is conformance (the default),
chaos, release, or a file or test under them (conformance/test_raft.py::test_name); the
suites/ folder of the current folder when it has one, else the suites installed with
swarmcheck. Everything from the first argument that starts with '-' goes to pytest, e.g.
  swarmcheck run -k SC-MEM-002 --swarm-managers=1
  swarmcheck run chaos --swarm-chaos-duration=15m
Reports go to ./reports; an ini file here (pytest.ini, pyproject.toml, tox.ini, setup.cfg)
is read for the swarm_* keys. The exit status is pytest's.
"""
INI_FILES = ("pytest.ini", ".pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")


def run_command(argv: list[str]) -> list[str]:
    """The pytest command line `swarmcheck run ARGV` stands for (see RUN_USAGE)."""
    from pathlib import Path

    from swarmcheck.shipped import SUITE_FOLDERS, suites_dir

    root = suites_dir()
    split = next((i for i, arg in enumerate(argv) if arg.startswith("-")), len(argv))
    names, rest = argv[:split], argv[split:]
    targets = []
    for name in names or ["conformance"]:
        relative = name.removeprefix("suites/")
        if relative.split("/", 1)[0].split("::", 1)[0] not in SUITE_FOLDERS:
            raise ConfigError(
                f"swarmcheck run: {name!r} is not a suite: name {', '.join(SUITE_FOLDERS)} or "
                "a file or test under them (e.g. conformance/test_raft.py), then pytest's "
                "arguments (from the first one that starts with '-')"
            )
        targets.append(str(root / relative))
    cwd = Path.cwd()
    # pytest looks for its ini file from the arguments upwards; the suites may be installed
    # far from here, so name the one of this folder, and keep pytest's cache here too.
    ini = next((cwd / n for n in INI_FILES if (cwd / n).is_file()), None)
    config = ["-c", str(ini)] if ini else ["-o", "junit_family=xunit1"]
    return [
        sys.executable, "-m", "pytest", *targets, f"--rootdir={cwd}", *config,
        "-p", "no:cacheprovider", *rest,
    ]  # fmt: skip


def cmd_run(argv: list[str]) -> int:
    """Run the suites with pytest (this process becomes pytest: its signals, its status)."""
    import os

    if argv[:1] in (["-h"], ["--help"]):
        print(RUN_USAGE, end="")
        return 0
    cmd = run_command(argv)
    sys.stdout.flush()
    os.execv(cmd[0], cmd)


def _report_tool_option(parser: argparse.ArgumentParser) -> None:
    from swarmcheck.machine.allure import DEFAULT_TOOL, TOOLS

    parser.add_argument(
        "--tool",
        choices=TOOLS,
        default=DEFAULT_TOOL,
        help="the HTML report tool: allure3 (Node.js, the default) or allure2 (Java 8+; adds "
        "a categories trend and CI build names on the trend)",
    )


def _engine_arguments(setup: argparse.ArgumentParser) -> None:
    """The engine under test, named as pytest names it (the set-up's own older spellings,
    --debian-suite and --engine-image, still work)."""
    setup.add_argument(
        DEBIAN_SUITE.flag,
        "--debian-suite",
        dest="debian_suite",
        default=None,
        choices=DEBIAN_ORDER,
        help=f"{DEBIAN_SUITE.help} (default {DEBIAN_SUITE.default})",
    )
    setup.add_argument(
        ENGINE_IMAGE.flag,
        "--engine-image",
        dest="engine_image",
        default=None,
        metavar=ENGINE_IMAGE.metavar,
        help=ENGINE_IMAGE.help,
    )


def _setup_parser(sub: Subparsers) -> None:
    setup = sub.add_parser("setup", help=cmd_setup.__doc__)
    _engine_arguments(setup)
    setup.add_argument("--toxiproxy", action="store_true", help="also build the Toxiproxy image")
    setup.add_argument(
        "--history-checker",
        action="store_true",
        help="also build the history checker (Go, Porcupine) for the consistency checks",
    )
    setup.add_argument("--allure", action="store_true", help="also install the report tool")
    _report_tool_option(setup)
    setup.set_defaults(func=cmd_setup)


def _sweep_parser(sub: Subparsers) -> None:
    sweep = sub.add_parser("sweep", help=cmd_sweep.__doc__)
    which = sweep.add_mutually_exclusive_group()
    which.add_argument("--run", default=None, help="remove this run id even if it is alive or kept")
    which.add_argument(
        "--kept",
        action="store_true",
        help="remove every cluster kept after a failed check (--swarm-keep-on-failure), "
        f"whatever its age (a plain sweep leaves them {KEEP_HOURS} h)",
    )
    sweep.add_argument(
        "--images",
        action="store_true",
        help="also remove the images swarmcheck built (node, workload, Toxiproxy)",
    )
    sweep.set_defaults(func=cmd_sweep)


def _report_parser(sub: Subparsers) -> None:
    report = sub.add_parser("report", help=cmd_report.__doc__)
    report.add_argument("--results", default="reports/allure-results")
    report.add_argument("--output", default="reports/html")
    _report_tool_option(report)
    report.set_defaults(func=cmd_report)


def _catalog_parser(sub: Subparsers) -> None:
    catalog = sub.add_parser("catalog", help=cmd_catalog.__doc__)
    catalog.add_argument("--format", choices=("markdown", "json"), default="markdown")
    catalog.add_argument(
        "--suites",
        default=None,
        help="the suites folder (default: suites/ here if there is one, else the shipped suites)",
    )
    where = catalog.add_mutually_exclusive_group()
    where.add_argument(
        "--write",
        metavar="FILE",
        help="replace the generated part of FILE (e.g. suites/README.md) with the catalog",
    )
    where.add_argument(
        "--check",
        metavar="FILE",
        help="exit 1 when the generated part of FILE does not match the checks",
    )
    catalog.add_argument(
        "--measured",
        metavar="OUTCOMES",
        help="with --write docs/bounds.md: first record the figures of this run's outcomes "
        "file (reports/outcomes.json) as the bounds' last measured values",
    )
    catalog.set_defaults(func=cmd_catalog)


def _matrix_parser(sub: Subparsers) -> None:
    matrix = sub.add_parser(
        "matrix",
        help=cmd_matrix.__doc__,
        description="Run the suites once per engine, each in its own pytest process with its "
        "own reports under REPORTS/matrix/<engine>/, then write the compatibility matrix "
        "(REPORTS/matrix.md, matrix.html, and a page in the HTML report REPORTS/matrix/html). "
        "Arguments after -- go to every pytest run.",
    )
    matrix.add_argument(
        "--engines",
        default="bookworm,trixie,sid",
        help="comma-separated engines: Debian suites (bookworm = Docker 20.10, trixie = 26.1, "
        "sid = 28.5) or dind images already in the local engine (default: %(default)s)",
    )
    matrix.add_argument(
        ENGINE_IMAGE.flag,
        dest="engine_image",
        action="append",
        default=[],
        metavar=ENGINE_IMAGE.metavar,
        help="one more engine: a dind-capable image (repeatable)",
    )
    matrix.add_argument(
        "--suites",
        nargs="+",
        default=None,
        metavar="PATH",
        help="what to run (default: suites/conformance suites/release)",
    )
    matrix.add_argument("--reports", default="reports", help="where reports go (default: reports)")
    matrix.add_argument("--no-html", action="store_true", help="skip the Allure HTML report")
    matrix.add_argument(
        "--confirm",
        type=int,
        default=0,
        metavar="N",
        help="re-run the checks that differed between engines N more times on every engine and "
        "compare their most common status and median figures (a difference the re-runs do not "
        "confirm is listed apart, as noise); default 0",
    )
    matrix.add_argument("pytest_args", nargs="*", help=argparse.SUPPRESS)
    matrix.set_defaults(func=cmd_matrix)


def _check_history_parser(sub: Subparsers) -> None:
    check = sub.add_parser("check-history", help=cmd_check_history.__doc__)
    check.add_argument("file", help="a history recorded by swarmcheck (swarmcheck-history/1)")
    check.add_argument(
        "--html", help="where the visualization of a violation goes (default: FILE with .html)"
    )
    check.add_argument("--timeout", type=float, default=60.0, help="seconds (default: 60)")
    check.set_defaults(func=cmd_check_history)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="swarmcheck", description=__doc__)
    parser.add_argument("--version", action="version", version=f"swarmcheck {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run", help="run the suites with pytest from any folder (swarmcheck run --help)"
    )  # parsed by hand: everything after the suites goes to pytest untouched
    for add in (
        _setup_parser,
        _sweep_parser,
        _report_parser,
        _catalog_parser,
        _matrix_parser,
        _check_history_parser,
    ):
        add(sub)
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["run"]:
        try:
            return cmd_run(argv[1:])
        except SwarmcheckError as exc:
            print(f"swarmcheck: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="swarmcheck: %(message)s")
    try:
        return int(args.func(args))
    except SwarmcheckError as exc:
        print(f"swarmcheck: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
