"""`ecom-etl`: the local runner of the platform's jobs."""

import argparse
import json
import os
import sys
import time

from ecom_etl.aws import Names, use_endpoint
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
        help="a CSV file, a directory of them or a glob (local path or file://; s3:// where Spark "
        "has S3 access, as on Glue); "
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


def _aws_options(p: argparse.ArgumentParser, stream: bool = True) -> None:
    p.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                   help="AWS endpoint, e.g. the local emulator http://127.0.0.1:4566 (default: $AWS_ENDPOINT_URL, else AWS)")
    if stream:
        p.add_argument("--stream", default=Names.stream, help="Kinesis stream name (default: %(default)s)")
    p.add_argument("--customers-table", default=Names.customers_table, help="DynamoDB customers table (default: %(default)s)")
    p.add_argument("--invoices-table", default=Names.invoices_table, help="DynamoDB invoices table (default: %(default)s)")


def _names(args: argparse.Namespace) -> Names:
    use_endpoint(args.endpoint_url)
    return Names(getattr(args, "stream", Names.stream), args.customers_table, args.invoices_table)


def _add_streaming(sub: argparse._SubParsersAction) -> None:
    local = sub.add_parser("local", help="the local AWS emulator, and Glue jobs of the template run locally",
                           description="`up` starts moto's server on 127.0.0.1 and creates the stream, both "
                           "DynamoDB tables and the buckets; `down` stops it (state lives in .ecom-etl/). "
                           "`start-job-run` runs a Glue job of infra/cloudformation/platform.yaml with spark-submit.")
    actions = local.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser("up", help="start the emulator and create the streaming resources")
    up.add_argument("--port", type=int, default=4566, help="emulator port (default: %(default)s)")
    up.add_argument("--shards", type=int, default=2, help="shards of the stream (default: %(default)s)")
    _aws_options(up)
    up.set_defaults(endpoint_url=None)
    actions.add_parser("down", help="stop the emulator")
    job = actions.add_parser(
        "start-job-run", help="run a Glue job of the template locally (like `aws glue start-job-run`)",
        description="Run a Glue job defined in infra/cloudformation/platform.yaml with spark-submit, with the "
        "template's script and DefaultArguments. S3 locations map to local directories: the artifacts "
        "bucket to this checkout (jobs/), every other bucket to S3_ROOT/<its logical id>/, e.g. the "
        "lake to S3_ROOT/LakeBucket/lake.",
        epilog="example: ecom-etl local start-job-run --job-name batch "
        "--arguments='--input_path=data/generated'",
    )
    job.add_argument("--job-name", required=True, help="the job's logical id, name or name suffix, e.g. batch")
    job.add_argument("--arguments", help="run arguments over the DefaultArguments, as the AWS CLI takes them: "
                     "'--name=value,--name2=value2' or a JSON object")
    job.add_argument("--s3-root", default="local-s3", help="directory standing in for S3 (default: %(default)s)")

    stream = sub.add_parser("stream", help="run the streaming job locally: Kinesis -> silver, quarantine, DynamoDB",
                            description="Read the Kinesis stream shard by shard in micro-batches and write each "
                            "through the batch job's cleaning into the lake and the DynamoDB tables. Stops on "
                            "Ctrl-C; a restart resumes from the checkpoint, writing nothing twice.")
    _aws_options(stream)
    stream.add_argument("--warehouse", default="warehouse", help="lake root (default: %(default)s)")
    stream.add_argument("--trigger", default="5s", help="micro-batch interval, e.g. 5s, 500ms (default: %(default)s)")
    stream.add_argument("--checkpoint", help="offset and commit logs (default: WAREHOUSE/_checkpoints/STREAM)")
    stream.add_argument("--max-records", type=int, default=10_000, help="records per micro-batch at most (default: %(default)s)")
    stream.add_argument("--stop-when-idle", action="store_true", help="exit once a trigger finds no new records")

    produce = sub.add_parser("produce", help="replay order lines from CSV into Kinesis as JSON records",
                             description="Send the lines of a CSV file, directory or glob to the stream, one JSON "
                             "record each (partition key InvoiceNo), PutRecords ≤ 500 a call, failed entries re-sent.")
    produce.add_argument("--input", required=True, help="CSV file, directory or glob")
    produce.add_argument("--rate", type=float, help="records per second at most (default: as fast as possible)")
    produce.add_argument("--limit", type=int, help="send at most this many lines")
    _aws_options(produce)

    serve = sub.add_parser("serve", help="serve the order API on 127.0.0.1 (the Lambda handlers)",
                           description="POST /orders, GET /customers/{id}/invoices, GET /invoices/{invoice_no}: "
                           "the same Lambda handlers as on AWS, called with API Gateway proxy events.")
    serve.add_argument("--port", type=int, default=8080, help="port (default: %(default)s)")
    _aws_options(serve)


def _add_deploy(sub: argparse._SubParsersAction) -> None:
    deploy = sub.add_parser(
        "deploy", help="deploy the platform's CloudFormation stacks (or --destroy them)",
        description="Build the ecom_etl wheel, create or update stack NAME-artifacts (the code bucket), upload "
        "the wheel and jobs/*.py into it, then create or update stack NAME from "
        "infra/cloudformation/platform.yaml through a change set and print its outputs. --destroy deletes "
        "both stacks; the raw and lake buckets are kept (DeletionPolicy Retain).",
        epilog="example: ecom-etl deploy --stack ecom --parameters GlueVersion=6.0 AlarmEmail=ops@example.com",
    )
    deploy.add_argument("--stack", required=True, help="stack name (resources are named after it)")
    deploy.add_argument("--region", help="AWS region (default: $AWS_REGION / $AWS_DEFAULT_REGION, else us-east-1)")
    deploy.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"),
                        help="AWS endpoint, e.g. the local emulator (default: $AWS_ENDPOINT_URL, else AWS)")
    deploy.add_argument("--parameters", nargs="*", metavar="KEY=VALUE", help="template parameters to set")
    deploy.add_argument("--destroy", action="store_true", help="delete the stacks instead")


def _add_sql(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sql", help="ad-hoc SQL over the lake tables (like Athena)",
                       description="Run one Spark SQL query over the lake. The tables are named as in the "
                       "catalog: order_lines, quarantine_order_lines, revenue_daily, revenue_weekly, "
                       "revenue_monthly, revenue_quarterly, top_products_by_season.")
    p.add_argument("query", help='the query, e.g. "SELECT * FROM revenue_monthly ORDER BY year, month"')
    p.add_argument("--warehouse", default="warehouse", help="lake root (default: %(default)s)")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output (default: %(default)s)")
    p.add_argument("--limit", type=int, default=1000, help="rows shown at most (default: %(default)s)")


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write the HTML dashboard of the lake (opens offline)",
                       description="Write one self-contained HTML file (no CDN, opens offline): monthly and "
                       "quarterly revenue, the weekly trend, the top 10 products per season, revenue by "
                       "country, the share of orders from unknown customers and a data-quality panel.")
    p.add_argument("--warehouse", default="warehouse", help="lake root (default: %(default)s)")
    p.add_argument("--out", default="report.html", help="output file (default: %(default)s)")


def cmd_report(args: argparse.Namespace) -> int:
    from ecom_etl.io import Lake
    from ecom_etl.report import write_report

    out = write_report(_session("ecom-etl report"), Lake.at(args.warehouse), args.out)
    print(f"wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB); open it in a browser")
    return 0


def _add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the whole platform locally: emulator, batch, stream, dashboard, API",
                       description="Start the local AWS emulator, run the batch job on the built-in data, POST "
                       "a slice of new order lines to the API and stream them through Kinesis and the streaming "
                       "job, write the dashboard, then keep the API running until Ctrl-C (`make demo`).")
    p.add_argument("--warehouse", default="warehouse", help="lake root (default: %(default)s)")
    p.add_argument("--out", default="report.html", help="dashboard file (default: %(default)s)")
    p.add_argument("--port", type=int, default=8080, help="API port (default: %(default)s)")
    p.add_argument("--emulator-port", type=int, default=4566, help="emulator port (default: %(default)s)")


def cmd_demo(args: argparse.Namespace) -> int:
    from ecom_etl.demo import run_demo

    run_demo(_session("ecom-etl demo"), args.warehouse, BUILTIN_DATA, BUILTIN_ROWS, _generate, args.out,
             args.emulator_port, args.port, _progress)
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from ecom_etl.io import Lake
    from ecom_etl.query import render, run_sql

    spark = _session("ecom-etl sql")
    print(render(run_sql(spark, Lake.at(args.warehouse), args.query), args.format, args.limit))
    return 0


def _seconds(text: str) -> float:
    text = text.strip().lower()
    try:
        if text.endswith("ms"):
            return float(text[:-2]) / 1000
        return float(text[:-1]) if text.endswith("s") else float(text)
    except ValueError:
        raise EtlInputError(f"not a duration: {text!r} (use e.g. 5s or 500ms)") from None


def cmd_local(args: argparse.Namespace) -> int:
    from ecom_etl.stream import emulator

    if args.action == "start-job-run":
        from pathlib import Path

        from ecom_etl.glue_local import parse_arguments, start_job_run

        return start_job_run(args.job_name, parse_arguments(args.arguments), Path(args.s3_root), _progress)
    if args.action == "down":
        print("emulator stopped" if emulator.stop() else "no emulator was running", file=sys.stderr)
        return 0
    url = emulator.start(args.port)
    names = Names(args.stream, args.customers_table, args.invoices_table)
    use_endpoint(url)
    emulator.create_resources(names, shards=args.shards)
    print(f"AWS emulator on {url}: stream {names.stream} ({args.shards} shards), tables {names.customers_table}, "
          f"{names.invoices_table}, buckets {', '.join(emulator.BUCKETS)}")
    print(f"use it with: export AWS_ENDPOINT_URL={url}   (or --endpoint-url {url})")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from ecom_etl.deploy import deploy, destroy, parse_parameters

    if args.region:
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = args.region
    use_endpoint(args.endpoint_url)
    poll = 0.5 if args.endpoint_url else 5.0
    if args.destroy:
        kept = destroy(args.stack, _progress, poll)
        print(f"deleted stacks {args.stack} and {args.stack}-artifacts")
        for resource in kept:
            print(f"kept (DeletionPolicy Retain): {resource}")
        return 0
    result = deploy(args.stack, parse_parameters(args.parameters), _progress, poll)
    print(f"stack {result.name}: {result.status}")
    for key, value in sorted(result.outputs.items()):
        print(f"  {key:<22} {value}")
    return 0


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_stream(args: argparse.Namespace) -> int:
    from ecom_etl.io import Lake
    from ecom_etl.stream.runner import run_stream

    names = _names(args)
    trigger = _seconds(args.trigger)
    checkpoint = args.checkpoint or os.path.join(Lake.at(args.warehouse).root, "_checkpoints", names.stream)
    spark = _session("ecom-etl stream")
    print(f"streaming {names.stream} into {args.warehouse} every {trigger:g}s (checkpoint {checkpoint}); Ctrl-C stops",
          file=sys.stderr)
    run_stream(spark, names, args.warehouse, checkpoint, trigger, args.max_records, args.stop_when_idle, _progress)
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    from ecom_etl.stream.producer import csv_lines, produce

    names = _names(args)
    started = time.perf_counter()
    sent = produce(names.stream, csv_lines(args.input), args.rate, args.limit, _progress)
    print(f"sent {sent:,} records to {names.stream} in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from ecom_etl.stream import api
    from ecom_etl.stream.server import make_server

    names = _names(args)
    api.use_names(names)
    server = make_server(args.port)
    print(f"serving the order API on http://127.0.0.1:{server.server_port} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
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
    _add_streaming(sub)
    _add_deploy(sub)
    _add_sql(sub)
    _add_report(sub)
    _add_demo(sub)
    return parser


def _session(app: str):
    from pyspark.sql import SparkSession

    from ecom_etl.runtime import local_session

    if SparkSession.getActiveSession() is None:
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
    from ecom_etl.io import check_input, write_text
    from ecom_etl.pipeline import run_batch

    if args.input is not None:
        check_input(args.input)  # before Spark starts: a wrong path fails at once
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


COMMANDS = {
    "batch": cmd_batch,
    "generate": cmd_generate,
    "setup-spark": cmd_setup_spark,
    "local": cmd_local,
    "stream": cmd_stream,
    "produce": cmd_produce,
    "serve": cmd_serve,
    "sql": cmd_sql,
    "deploy": cmd_deploy,
    "report": cmd_report,
    "demo": cmd_demo,
}


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
