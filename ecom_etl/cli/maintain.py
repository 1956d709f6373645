"""`ecom-etl maintain`: OPTIMIZE and VACUUM the lake's tables (the weekly maintenance job)."""

from __future__ import annotations

import argparse

from ecom_etl.cli import common


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "maintain",
        help="compact small files and remove old ones (OPTIMIZE, VACUUM)",
        description="OPTIMIZE silver, quarantine and the ingested-files log (the stream's micro-batches leave many "
        "small files), then VACUUM every table: files no version within the retention needs are removed. The "
        "retention keeps time travel and must exceed how far any stream lags behind.",
    )
    p.add_argument(
        "--warehouse", default="warehouse", help="lake root, a directory or s3:// URI (default: %(default)s)"
    )
    p.add_argument("--retention-hours", type=int, default=168, help="versions kept, in hours (default: %(default)s)")
    common.add_aws_options(p, names=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ecom_etl.lake.layout import Lake
    from ecom_etl.lake.maintain import maintain

    settings = common.settings(args)
    done = maintain(
        common.session(settings, "ecom-etl maintain"), Lake.at(args.warehouse), args.retention_hours, common.progress
    )
    print(
        f"maintained {len(done)} tables: {sum(d['files_compacted'] for d in done.values())} small files compacted, "
        f"{sum(d['files_vacuumed'] for d in done.values())} old files removed"
    )
    return 0
