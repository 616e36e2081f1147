"""The `swarmcheck` command: set-up, sweeping leftovers, the HTML report and the catalog."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from swarmcheck.client.engine import host_client
from swarmcheck.cluster import hostengine, images, reaper
from swarmcheck.cluster.cluster import prepare_images
from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.errors import ConfigError, SwarmcheckError

if TYPE_CHECKING:
    from swarmcheck.catalog import Coverage

log = logging.getLogger("swarmcheck")


def cmd_setup(args: argparse.Namespace) -> int:
    """Start the engine and build every image the suites need (each step idempotent)."""
    clock = time.monotonic()
    print(f"swarmcheck: Docker engine {hostengine.ensure_engine()} answers")
    host = host_client()
    removed = reaper.sweep_stale(host)
    if removed:
        print(f"swarmcheck: removed leftovers of earlier runs: {removed}")
    spec = ClusterSpec(debian_suite=args.debian_suite, engine_image=args.engine_image)
    prepared = prepare_images(host, spec)
    print(f"swarmcheck: node image {prepared.node}; workload {', '.join(prepared.workload)}")
    if args.toxiproxy:
        from swarmcheck.cluster.toxiproxy_image import ensure_toxiproxy_image

        print(f"swarmcheck: Toxiproxy image {ensure_toxiproxy_image(host)}")
    if args.allure:
        from swarmcheck.reporting.html import ensure_allure_cli

        print(f"swarmcheck: Allure command line {ensure_allure_cli()}")
    print(f"swarmcheck: set-up done in {time.monotonic() - clock:.1f} s")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Remove what killed runs left (containers, networks, volumes whose owner is gone)."""
    host = host_client()
    removed = reaper.remove_run(host, args.run) if args.run else reaper.sweep_stale(host)
    print(f"swarmcheck: removed {removed}")
    if args.images:
        gone, kept = reaper.remove_images(host)
        print(f"swarmcheck: removed {len(gone)} built images: {', '.join(gone) or 'none'}")
        if kept:
            print(f"swarmcheck: kept {len(kept)} images a live run uses: {', '.join(kept)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Generate the HTML report from the Allure results of the last run."""
    from pathlib import Path

    from swarmcheck.reporting.html import generate_html

    index = generate_html(Path(args.results), Path(args.output))
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

    from swarmcheck.cluster.engines import looks_like_engine, missing_images, parse_engines
    from swarmcheck.reporting.matrix_runner import DEFAULT_SUITES, run_matrix

    engines = [*parse_engines(args.engines, "--engines"), *args.engine_image]
    unknown = [e for e in engines if not looks_like_engine(e)]
    if unknown:
        raise ConfigError(
            f"--engines: {', '.join(unknown)} is neither a Debian suite "
            f"({', '.join(sorted(images.DEBIAN_ENGINES))}) nor an image reference (repo:tag)"
        )
    if len(set(engines)) != len(engines):
        raise ConfigError(f"--engines names an engine twice: {', '.join(engines)}")
    missing = missing_images(host_client(), engines)
    if missing:  # before any run: every test of that engine would error at set-up
        raise ConfigError(
            f"engine image(s) {', '.join(missing)} not in the local engine, and no registry "
            "is reached here: load them first (`docker load -i IMAGE.tar`, or `docker build "
            "-t IMAGE ...` on this machine), or leave them out of --engines / "
            "--swarm-engine-image"
        )

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)  # a CI timeout: each run still removes its swarm
    result = run_matrix(
        engines,
        Path(args.reports),
        suites=args.suites or DEFAULT_SUITES,
        extra=args.pytest_args,
        html=not args.no_html,
        confirm=args.confirm,
    )
    print(f"swarmcheck: compatibility matrix in {result.markdown} and {result.page}")
    if result.html is not None:
        print(f"swarmcheck: HTML report (every engine, and the matrix) at {result.html}")
    print(f"swarmcheck: {len(result.differences)} differences between engines")
    return result.exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="swarmcheck", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup", help=cmd_setup.__doc__)
    setup.add_argument("--debian-suite", default="bookworm", choices=sorted(images.DEBIAN_ENGINES))
    setup.add_argument("--engine-image", default=None)
    setup.add_argument("--toxiproxy", action="store_true", help="also build the Toxiproxy image")
    setup.add_argument("--allure", action="store_true", help="also install the Allure CLI")
    setup.set_defaults(func=cmd_setup)
    sweep = sub.add_parser("sweep", help=cmd_sweep.__doc__)
    sweep.add_argument("--run", default=None, help="remove this run id even if it is alive")
    sweep.add_argument(
        "--images",
        action="store_true",
        help="also remove the images swarmcheck built (node, workload, Toxiproxy)",
    )
    sweep.set_defaults(func=cmd_sweep)
    report = sub.add_parser("report", help=cmd_report.__doc__)
    report.add_argument("--results", default="reports/allure-results")
    report.add_argument("--output", default="reports/html")
    report.set_defaults(func=cmd_report)
    catalog = sub.add_parser("catalog", help=cmd_catalog.__doc__)
    catalog.add_argument("--format", choices=("markdown", "json"), default="markdown")
    catalog.add_argument("--suites", default="suites", help="the suites folder (default: suites)")
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
        "--swarm-engine-image",
        dest="engine_image",
        action="append",
        default=[],
        metavar="IMAGE",
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="swarmcheck: %(message)s")
    try:
        return int(args.func(args))
    except SwarmcheckError as exc:
        print(f"swarmcheck: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
