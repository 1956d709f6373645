"""`ecom-etl report`: the HTML dashboard of the lake."""

from __future__ import annotations

import argparse
import os

from ecom_etl.cli import common


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write the HTML dashboard of the lake (opens offline)",
        description="Write one self-contained HTML file (no CDN, opens offline): monthly and quarterly revenue, "
        "the weekly trend, the top 10 products per season, revenue by country, the share of orders from "
        "unknown customers and a data-quality panel.",
    )
    p.add_argument(
        "--warehouse", default="warehouse", help="lake root, a directory or s3:// URI (default: %(default)s)"
    )
    p.add_argument("--out", default="report.html", help="output file (default: %(default)s)")
    common.add_aws_options(p, names=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ecom_etl.lake.layout import Lake
    from ecom_etl.lake.storage import Storage
    from ecom_etl.report.collect import write_report

    settings = common.settings(args)
    out = write_report(
        common.session(settings, "ecom-etl report"), Lake.at(args.warehouse), Storage(settings), args.out
    )
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB); open it in a browser")
    return 0
