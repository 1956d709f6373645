"""`ecom-etl gold`: bring the gold tables up to silver's version."""

from __future__ import annotations

import argparse

from ecom_etl.cli import common


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gold",
        help="rebuild the gold tables that are behind silver (the scheduled gold job)",
        description="Rebuild every gold table whose recorded silver version is not silver's current one (or that "
        "is missing), from that one version of silver. Nothing to do when all are up to date.",
    )
    p.add_argument(
        "--warehouse", default="warehouse", help="lake root, a directory or s3:// URI (default: %(default)s)"
    )
    common.add_aws_options(p, names=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ecom_etl.lake.gold import refresh_gold
    from ecom_etl.lake.layout import Lake

    settings = common.settings(args)
    state = refresh_gold(common.session(settings, "ecom-etl gold"), Lake.at(args.warehouse))
    if state.silver_version is None:
        common.progress(f"no silver table under {args.warehouse}: nothing to build")
        return 0
    done = f"rebuilt {', '.join(state.rebuilt)}" if state.rebuilt else "all tables were up to date"
    print(f"gold at silver version {state.silver_version}: {done}")
    return 0
