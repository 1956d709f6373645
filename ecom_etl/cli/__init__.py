"""`ecom-etl`: the local runner of the platform's jobs, one module per command.

May import: core, runtime, lake, stream, api, report, local and the shared modules (everything).
"""

from __future__ import annotations

import argparse
import sys

from ecom_etl.cli import (
    batch,
    demo,
    deploy,
    generate,
    gold,
    local,
    maintain,
    produce,
    report,
    serve,
    setup_spark,
    sql,
    stream,
)
from ecom_etl.errors import EtlError, EtlInputError, explain, first_line
from ecom_etl.settings import debug_enabled

COMMANDS = (batch, generate, stream, produce, serve, gold, maintain, sql, report, demo, local, deploy, setup_spark)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecom-etl",
        description="Run the e-commerce ETL locally: the same code as the AWS Glue jobs, against local folders "
        "or s3:// on the local AWS emulator (`ecom-etl local up`).",
        epilog="Environment: AWS_ENDPOINT_URL (an emulator), ECOM_ETL_MASTER (default local[2]), "
        "ECOM_ETL_DRIVER_MEMORY (4g), ECOM_ETL_SHUFFLE_PARTITIONS (8), ECOM_ETL_SPARK_UI=1 to serve the Spark UI, "
        "ECOM_ETL_VERBOSE=1 to see Spark's and Ivy's own output, ECOM_ETL_DEBUG=1 for full traces.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add(sub)
    return parser


def _quiet_pyspark_error_logs() -> None:
    """PySpark 4 logs every SQL error as a JSON line on stderr; the CLI reports it in one line itself."""
    try:
        from pyspark.logger import PySparkLogger
    except ImportError:  # PySpark 3.5 has no such logging
        return
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_pyspark_error_logs()
    try:
        return args.run(args)
    except EtlError as exc:
        print(f"ecom-etl: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, EtlInputError) else 1
    except KeyboardInterrupt:
        print("ecom-etl: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # Spark/Java failures: one line, not a stack trace
        known = explain(exc)
        if known is not None:
            print(f"ecom-etl: error: {known}", file=sys.stderr)
            return 2 if isinstance(known, EtlInputError) else 1
        print(
            f"ecom-etl: error: {type(exc).__name__}: {first_line(str(exc))} (set ECOM_ETL_DEBUG=1 for the full trace)",
            file=sys.stderr,
        )
        if debug_enabled():
            raise
        return 1
