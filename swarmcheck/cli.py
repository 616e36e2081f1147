"""The `swarmcheck` command: set-up, sweeping leftovers, the HTML report and the catalog."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from swarmcheck.client.engine import host_client
from swarmcheck.cluster import hostengine, images, reaper
from swarmcheck.cluster.cluster import prepare_images
from swarmcheck.cluster.spec import ClusterSpec
from swarmcheck.errors import ConfigError, SwarmcheckError

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
    catalog.set_defaults(func=cmd_catalog)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="swarmcheck: %(message)s")
    try:
        return int(args.func(args))
    except SwarmcheckError as exc:
        print(f"swarmcheck: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
