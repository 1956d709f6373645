"""`ecom-etl batch`: raw files -> silver, quarantine and gold."""

from __future__ import annotations

import argparse
import json
import sys

from ecom_etl.cli import common
from ecom_etl.lake.batch import BatchSummary

HELP = "raw CSV -> silver, quarantine and gold Delta tables"


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help=HELP,
        description="Clean raw order-line files (CSV, gzipped CSV, or the stream's archive) into the lake's "
        "Delta tables: silver/order_lines, quarantine/order_lines and gold/*. Only files not loaded before are "
        "read (the lake keeps a log of them); a rerun of the same input writes nothing. The gold tables are "
        "rebuilt whenever they are behind silver. With an AWS endpoint the tables are registered in the Glue "
        "Data Catalog and the run's counts published as CloudWatch metrics. A run over the quality gate's thresholds "
        "keeps what it wrote (the quarantine holds the evidence) and exits 3 with one line naming the threshold. "
        "Exit code 0 when the counts reconcile, 1 when they do not, 2 for bad input, 3 over the gate.",
        epilog="example: ecom-etl batch --input s3://ecom-raw/orders/ --warehouse s3://ecom-lake/lake "
        "--endpoint-url http://127.0.0.1:4566",
    )
    p.add_argument(
        "--input",
        help="a file, a directory (every file under it) or a glob; a local path, file:// "
        f"or s3:// (default: the built-in generated data in {common.BUILTIN_DATA}/, made on first use)",
    )
    p.add_argument(
        "--warehouse", default="warehouse", help="lake root, a directory or s3:// URI (default: %(default)s)"
    )
    p.add_argument("--database", default="ecom", help="catalog database of the tables (default: %(default)s)")
    p.add_argument("--summary-json", metavar="PATH", help="also write the run summary as JSON to PATH (local or s3://)")
    p.add_argument("--full-refresh", action="store_true", help="read every input file, also those loaded before")
    common.add_aws_options(p, names=False)
    common.add_gate_options(p, "batch")
    p.set_defaults(run=run)


def format_summary(summary: BatchSummary) -> str:
    lines = [
        f"input            {summary.input_path}: {summary.files_new:,} new file(s), "
        f"{summary.files_skipped:,} loaded before (skipped)",
        f"rows read        {summary.raw_rows:>12,}",
        f"kept (silver)    {summary.silver_rows:>12,}   new in the table: {summary.new_silver_rows:,}",
        f"duplicates       {summary.duplicates_dropped:>12,}",
        f"quarantined      {summary.quarantined_rows:>12,}   new in the table: {summary.new_quarantined_rows:,}",
    ]
    lines += [f"  {reason:<30} {n:>10,}" for reason, n in summary.quarantine_reasons.items()]
    lines.append("read = kept + duplicates + quarantined: " + ("ok" if summary.reconciles else "MISMATCH"))
    lines += [f"  {problem}" for problem in summary.problems]
    gate = "ok" if not summary.gate_breaches else "FAILED"
    lines.append(f"quality gate: {gate} ({', '.join(f'{k} {v}' for k, v in summary.gate.items() if v)})")
    lines.append(f"unknown customer {summary.unknown_customer_rows:>12,} of the kept rows")
    rebuilt = f"rebuilt now: {', '.join(summary.gold_rebuilt)}" if summary.gold_rebuilt else "already up to date"
    lines.append(f"gold tables, at silver version {summary.silver_version} ({rebuilt}):")
    lines += [f"  {name:<30} {n:>10,} rows" for name, n in summary.gold_rows.items()]
    lines.append("seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.stage_seconds.items()))
    where = f"registered in database '{summary.database}'" if summary.registered else "not registered (no catalog)"
    lines.append(f"tables under {summary.warehouse}, {where}:")
    lines += [f"  {name:<24} {path}" for name, path in summary.tables.items()]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from ecom_etl.lake.batch import run_batch
    from ecom_etl.lake.quality import gate_message
    from ecom_etl.lake.sources import find_input
    from ecom_etl.lake.storage import Storage

    settings = common.settings(args)
    gate = common.gate(args, "batch")
    if args.input is not None:
        find_input(Storage(settings), args.input)  # before Spark starts: a wrong path fails at once
    spark = common.session(settings, "ecom-etl batch")
    input_path = args.input or common.builtin_data(spark)
    summary = run_batch(
        spark,
        settings,
        input_path,
        args.warehouse,
        args.database,
        full_refresh=args.full_refresh,
        register=bool(settings.endpoint_url),
        gate=gate,
        metrics_job=args.job_name if settings.endpoint_url else None,
    )
    print(format_summary(summary))
    if args.summary_json:
        Storage(settings).write_text(args.summary_json, json.dumps(summary.to_dict(), indent=2, default=str))
    if summary.reconciles and summary.gate_breaches:
        print(f"ecom-etl: {gate_message(summary.gate_breaches)}", file=sys.stderr)
    return summary.exit_code
