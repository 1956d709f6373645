"""`ecom-etl local up|down|upload|start-job-run`: the local AWS emulator, and the template's Glue jobs."""

from __future__ import annotations

import argparse
import os

from ecom_etl.cli import common
from ecom_etl.errors import EtlInputError
from ecom_etl.settings import Settings

LOCAL_STACK = "ecom"


def add(sub: argparse._SubParsersAction) -> None:
    local = sub.add_parser(
        "local",
        help="the local AWS emulator, and Glue jobs of the template run locally",
        description="`up` starts the AWS emulator (moto's server) on 127.0.0.1 and deploys the platform's stack "
        "to it; `down` stops it, and what it held (buckets, streams, tables) goes with it: it keeps its state in "
        "memory. `upload` puts local files in its raw bucket; `start-job-run` runs a Glue job of "
        "infra/cloudformation/platform.yaml with spark-submit against it.",
    )
    actions = local.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser(
        "up",
        help="start the emulator and deploy the platform's stack to it",
        description="Start moto's server on 127.0.0.1:PORT (if none runs there) and deploy the platform's "
        "CloudFormation stack to it, as `ecom-etl deploy` does on AWS: the order stream, the DynamoDB tables, the "
        "Delta log store's table, the buckets (named ecom-raw and ecom-lake here) and the API's functions (the "
        "emulator has no Glue jobs: `start-job-run` reads them from the template). Local commands then use the "
        "same names and s3:// paths as on AWS.",
    )
    up.add_argument("--port", type=int, default=4566, help="emulator port (default: %(default)s)")
    up.add_argument("--stack", default=LOCAL_STACK, help="stack name (default: %(default)s)")
    up.add_argument("--shards", type=int, default=2, help="shards of the stream (default: %(default)s)")
    up.set_defaults(run=run_up)
    down = actions.add_parser("down", help="stop the emulator", description="Stop the emulator `up` started.")
    down.set_defaults(run=run_down)
    upload = actions.add_parser(
        "upload",
        help="put a folder's CSV files in the emulator's raw bucket",
        description="Upload each file of a local folder to the emulator's S3 under --to, one "
        "ingest_date=<file name>/ folder per file, as deliveries land in the raw bucket on AWS.",
        epilog="example: ecom-etl local upload data/generated",
    )
    upload.add_argument("folder", help="a local folder of raw files, e.g. data/generated (made by `make run`)")
    upload.add_argument("--to", default="s3://ecom-raw/orders/", help="s3:// prefix (default: %(default)s)")
    common.add_aws_options(upload, names=False)
    upload.set_defaults(run=run_upload)
    job = actions.add_parser(
        "start-job-run",
        help="run a Glue job of the template locally (like `aws glue start-job-run`)",
        description="Run a Glue job of infra/cloudformation/platform.yaml with spark-submit: the template's "
        "script, Spark settings and DefaultArguments, resolved with the stack `local up` deployed (the same "
        "s3:// paths, on the emulator's S3, as on AWS). The code is this checkout's.",
        epilog="example: ecom-etl local start-job-run --job-name batch --arguments='--input_path=s3://ecom-raw/orders/'",
    )
    job.add_argument("--job-name", required=True, help="the job's logical id, name or name suffix, e.g. batch")
    job.add_argument(
        "--arguments",
        help="run arguments over the DefaultArguments, as the AWS CLI takes them: "
        "'--name=value,--name2=value2' or a JSON object",
    )
    job.add_argument("--stack", default=LOCAL_STACK, help="the deployed stack (default: %(default)s)")
    common.add_aws_options(job, names=False)
    job.set_defaults(run=run_job)


def run_up(args: argparse.Namespace) -> int:
    from ecom_etl.local import emulator

    url = emulator.start(args.port, common.STATE_DIR)
    settings = Settings.from_environment().at(url)
    out = emulator.deploy_platform(settings, args.stack, args.shards, common.progress)
    print(
        f"AWS emulator on {url} with stack {args.stack}: stream {out['OrdersStream']}, tables "
        f"{out['CustomersTable']}, {out['InvoicesTable']}, {out['DeltaLogTable']}; "
        f"buckets {out['RawBucket']}, {out['LakeBucket']}"
    )
    print(f"use it with: export AWS_ENDPOINT_URL={url}   (or --endpoint-url {url})")
    return 0


def run_down(args: argparse.Namespace) -> int:
    from ecom_etl.local import emulator

    common.progress("emulator stopped" if emulator.stop(common.STATE_DIR) else "no emulator was running")
    return 0


def run_upload(args: argparse.Namespace) -> int:
    from ecom_etl.lake.storage import Storage

    if not os.path.isdir(args.folder):
        raise EtlInputError(f"not a folder: {args.folder}")
    keys = Storage(_emulator_settings(args)).upload_deliveries(args.folder, args.to)
    common.progress(f"uploaded {len(keys)} file(s) to {args.to}")
    return 0


def run_job(args: argparse.Namespace) -> int:
    from ecom_etl.local.glue_local import parse_arguments, start_job_run

    settings = _emulator_settings(args)
    return start_job_run(settings, args.stack, args.job_name, parse_arguments(args.arguments), common.progress)


def _emulator_settings(args: argparse.Namespace) -> Settings:
    """The command's settings, pointed at the running emulator unless an endpoint was given."""
    from ecom_etl.local import emulator

    settings = common.settings(args)
    if settings.endpoint_url:
        return settings
    url = emulator.running_url(common.STATE_DIR)
    if url is None:
        raise EtlInputError("no emulator: start it with `ecom-etl local up` (or give --endpoint-url)")
    return settings.at(url)
