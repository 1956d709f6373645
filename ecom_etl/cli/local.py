"""`ecom-etl local up|down|start-job-run`: the local AWS emulator, and the template's Glue jobs."""

from __future__ import annotations

import argparse

from ecom_etl.cli import common


def add(sub: argparse._SubParsersAction) -> None:
    local = sub.add_parser(
        "local",
        help="the local AWS emulator, and Glue jobs of the template run locally",
        description="`up` starts the AWS emulator (moto's server) on 127.0.0.1 with the platform's stream, "
        "tables and buckets; `down` stops it (its state lives in .ecom-etl/). `start-job-run` runs a Glue job of "
        "infra/cloudformation/platform.yaml with spark-submit.",
    )
    actions = local.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser(
        "up",
        help="start the emulator with the platform's resources",
        description="Start moto's server on 127.0.0.1:PORT (if none runs there) and create the "
        "order stream, the DynamoDB tables, the Delta log store's table and the buckets.",
    )
    up.add_argument("--port", type=int, default=4566, help="emulator port (default: %(default)s)")
    up.add_argument("--shards", type=int, default=2, help="shards of the stream (default: %(default)s)")
    up.set_defaults(run=run_up)
    down = actions.add_parser("down", help="stop the emulator", description="Stop the emulator `up` started.")
    down.set_defaults(run=run_down)
    job = actions.add_parser(
        "start-job-run",
        help="run a Glue job of the template locally (like `aws glue start-job-run`)",
        description="Run a Glue job defined in infra/cloudformation/platform.yaml with spark-submit, with the "
        "template's script and DefaultArguments. S3 locations map to local directories: the artifacts "
        "bucket to this checkout (jobs/), every other bucket to S3_ROOT/<its logical id>/, e.g. the "
        "lake to S3_ROOT/LakeBucket/lake.",
        epilog="example: ecom-etl local start-job-run --job-name batch --arguments='--input_path=data/generated'",
    )
    job.add_argument("--job-name", required=True, help="the job's logical id, name or name suffix, e.g. batch")
    job.add_argument(
        "--arguments",
        help="run arguments over the DefaultArguments, as the AWS CLI takes them: "
        "'--name=value,--name2=value2' or a JSON object",
    )
    job.add_argument("--s3-root", default="local-s3", help="directory standing in for S3 (default: %(default)s)")
    job.set_defaults(run=run_job)


def run_up(args: argparse.Namespace) -> int:
    from ecom_etl.settings import Settings
    from ecom_etl.stream import emulator

    url = emulator.start(args.port)
    settings = Settings.from_environment().at(url)
    emulator.create_resources(settings, shards=args.shards)
    print(
        f"AWS emulator on {url}: stream {settings.stream} ({args.shards} shards), tables {settings.customers_table}, "
        f"{settings.invoices_table}, {settings.delta_log_table}; buckets {', '.join(emulator.BUCKETS)}"
    )
    print(f"use it with: export AWS_ENDPOINT_URL={url}   (or --endpoint-url {url})")
    return 0


def run_down(args: argparse.Namespace) -> int:
    from ecom_etl.stream import emulator

    common.progress("emulator stopped" if emulator.stop() else "no emulator was running")
    return 0


def run_job(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ecom_etl.glue_local import parse_arguments, start_job_run

    return start_job_run(args.job_name, parse_arguments(args.arguments), Path(args.s3_root), common.progress)
