"""`ecom-etl`: the local runner of the platform's jobs."""

import argparse
import json
import os
import sys
import time

from ecom_etl.errors import EtlInputError

BUILTIN_DATA = os.path.join("data", "generated")
BUILTIN_ROWS = 100_000


def _add_batch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "batch",
        help="raw CSV -> silver, quarantine and gold Delta tables",
        description=(
            "Clean raw order-line CSV files into the lake's Delta tables (silver/order_lines, "
            "quarantine/order_lines, gold/*) and register them in the catalog. Rerunning the same "
            "input changes nothing; a new file adds its lines and refreshes the gold tables."
        ),
    )
    p.add_argument(
        "--input",
        help="a CSV file, a directory of them or a glob (local path, file:// or s3://); "
        f"default: the built-in generated data in {BUILTIN_DATA}/ (made on first use)",
    )
    p.add_argument("--warehouse", default="warehouse", help="lake root directory or URI (default: %(default)s)")
    p.add_argument("--database", default="ecom", help="catalog database to register the tables in (default: %(default)s)")
    p.add_argument("--summary-json", metavar="FILE", help="also write the run summary as JSON to FILE")


def _add_generate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "generate",
        help="write synthetic order lines, one CSV per day",
        description=(
            "Write realistic synthetic order lines (missing customers, cancellations, zero prices, "
            "exact duplicates, both date formats, a few broken rows, seasonality) as OUT/<day>.csv. "
            "The same seed always gives the same files."
        ),
    )
    p.add_argument("--rows", type=int, required=True, help="number of order lines (duplicates come on top, ≈1 %%)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=42, help="random seed (default: %(default)s)")


def _add_setup_spark(sub: argparse._SubParsersAction) -> None:
    sub.add_parser(
        "setup-spark",
        help="configure the local Spark install for spark-submit (Delta, UTC)",
        description="Write $SPARK_HOME/conf/spark-defaults.conf so that `spark-submit jobs/*.py` runs "
        "with Delta and the UTC session time zone, as the jobs do on Glue. `make install` runs it.",
    )


def cmd_setup_spark(args: argparse.Namespace) -> int:
    from ecom_etl.runtime import install_spark_defaults

    print(f"wrote {install_spark_defaults()}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecom-etl",
        description="Run the e-commerce ETL locally: the same code as the AWS Glue jobs.",
        epilog="Environment: ECOM_ETL_MASTER (default local[2]), ECOM_ETL_DRIVER_MEMORY (4g), "
        "ECOM_ETL_SHUFFLE_PARTITIONS (8), ECOM_ETL_SPARK_UI=1 to serve the Spark UI.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_batch(sub)
    _add_generate(sub)
    _add_setup_spark(sub)
    return parser


def _session(app: str):
    from ecom_etl.runtime import local_session

    print("starting Spark (the first run downloads the Delta jars into ~/.ivy2) ...", file=sys.stderr, flush=True)
    return local_session(app)


def _generate(spark, rows: int, out: str, seed: int) -> list[str]:
    from ecom_etl.generate import write_csv_by_day

    os.makedirs(out, exist_ok=True)
    start = time.perf_counter()
    files = write_csv_by_day(spark, rows, out, seed)
    print(f"wrote {rows:,} order lines (plus ≈1 % duplicates) in {len(files)} files to {out} "
          f"in {time.perf_counter() - start:.1f}s", file=sys.stderr)
    return files


def cmd_generate(args: argparse.Namespace) -> int:
    if args.rows <= 0:
        raise EtlInputError("--rows must be positive")
    _generate(_session("ecom-etl generate"), args.rows, args.out, args.seed)
    return 0


def format_summary(summary) -> str:
    lines = [
        f"input            {summary.input_path}",
        f"rows read        {summary.raw_rows:>12,}",
        f"kept (silver)    {summary.silver_rows:>12,}   new in the table: {summary.new_silver_rows:,}",
        f"duplicates       {summary.duplicates_dropped:>12,}",
        f"quarantined      {summary.quarantined_rows:>12,}   new in the table: {summary.new_quarantined_rows:,}",
    ]
    lines += [f"  {reason:<30} {n:>10,}" for reason, n in summary.quarantine_reasons.items()]
    check = "ok" if summary.reconciles else "MISMATCH"
    lines.append(f"read = kept + duplicates + quarantined: {check}")
    lines.append(f"unknown customer {summary.unknown_customer_rows:>12,} of the kept rows")
    rebuilt = "rebuilt" if summary.gold_rebuilt else "unchanged (no new lines)"
    lines.append(f"gold tables ({rebuilt}):")
    lines += [f"  {name:<30} {n:>10,} rows" for name, n in summary.gold_rows.items()]
    lines.append("seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in summary.stage_seconds.items()))
    lines.append(f"tables under {summary.warehouse}, registered in database '{summary.database}':")
    lines += [f"  {name:<24} {path}" for name, path in summary.tables.items()]
    return "\n".join(lines)


def cmd_batch(args: argparse.Namespace) -> int:
    from ecom_etl.io import write_text
    from ecom_etl.pipeline import run_batch

    spark = _session("ecom-etl batch")
    input_path = args.input
    if input_path is None:
        input_path = BUILTIN_DATA
        if not (os.path.isdir(BUILTIN_DATA) and os.listdir(BUILTIN_DATA)):
            print(f"no --input: generating the built-in data ({BUILTIN_ROWS:,} rows) ...", file=sys.stderr)
            _generate(spark, BUILTIN_ROWS, BUILTIN_DATA, 42)
    summary = run_batch(spark, input_path, args.warehouse, args.database)
    print(format_summary(summary))
    if args.summary_json:
        write_text(args.summary_json, json.dumps(summary.to_dict(), indent=2, default=str))
    return 0 if summary.reconciles else 1


COMMANDS = {"batch": cmd_batch, "generate": cmd_generate, "setup-spark": cmd_setup_spark}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except EtlInputError as exc:
        print(f"ecom-etl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ecom-etl: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # Spark/Java failures: one line, not a stack trace
        from ecom_etl.io import first_line

        print(f"ecom-etl: error: {type(exc).__name__}: {first_line(str(exc))} "
              "(set ECOM_ETL_DEBUG=1 for the full trace)", file=sys.stderr)
        if os.environ.get("ECOM_ETL_DEBUG") == "1":
            raise
        return 1


if __name__ == "__main__":
    sys.exit(main())
