"""`ecom-etl produce`: replay CSV files onto the stream."""

from __future__ import annotations

import argparse
import time

from ecom_etl.cli import common


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "produce",
        help="replay order lines from CSV files onto the stream",
        description="Send each record of a CSV file, directory or glob (local or s3://, plain or gzipped) to the "
        "stream exactly as written, one Kinesis record each (partition key InvoiceNo), PutRecords ≤ 500 a call, "
        "refused entries sent again. The files are read as the batch job reads them: a bad header sends nothing.",
    )
    p.add_argument("--input", required=True, help="CSV file, directory or glob")
    p.add_argument("--rate", type=float, help="records per second at most (default: as fast as possible)")
    p.add_argument("--limit", type=int, help="send at most this many records")
    common.add_aws_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ecom_etl.lake.storage import Storage
    from ecom_etl.stream.producer import kinesis_entries, produce

    settings = common.settings(args)
    started = time.perf_counter()
    sent = produce(settings, kinesis_entries(Storage(settings), args.input), args.rate, args.limit, common.progress)
    common.progress(f"sent {sent:,} records to {settings.stream} in {time.perf_counter() - started:.1f}s")
    return 0
