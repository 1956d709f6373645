"""`ecom-etl local up|down|start-job-run`: the local AWS emulator, and the template's Glue jobs."""

from __future__ import annotations

import argparse

from ecom_etl.cli import common
from ecom_etl.errors import EtlInputError

LOCAL_STACK = "ecom"


def add(sub: argparse._SubParsersAction) -> None:
    local = sub.add_parser(
        "local",
        help="the local AWS emulator, and Glue jobs of the template run locally",
        description="`up` starts the AWS emulator (moto's server) on 127.0.0.1 and deploys the platform's stack "
        "to it; `down` stops it (its state lives in .ecom-etl/). `start-job-run` runs a Glue job of "
        "infra/cloudformation/platform.yaml with spark-submit against it.",
    )
    actions = local.add_subparsers(dest="action", required=True, metavar="ACTION")
    up = actions.add_parser(
        "up",
        help="start the emulator and deploy the platform's stack to it",
        description="Start moto's server on 127.0.0.1:PORT (if none runs there) and deploy the platform's "
        "CloudFormation stack to it, as `ecom-etl deploy` does on AWS: the order stream, the DynamoDB tables, the "
        "Delta log store's table, the buckets (named ecom-raw and ecom-lake here), the API's functions and the Glue "
        "jobs' definitions. Local commands then use the same names and s3:// paths as on AWS.",
    )
    up.add_argument("--port", type=int, default=4566, help="emulator port (default: %(default)s)")
    up.add_argument("--stack", default=LOCAL_STACK, help="stack name (default: %(default)s)")
    up.add_argument("--shards", type=int, default=2, help="shards of the stream (default: %(default)s)")
    up.set_defaults(run=run_up)
    down = actions.add_parser("down", help="stop the emulator", description="Stop the emulator `up` started.")
    down.set_defaults(run=run_down)
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
    from ecom_etl.settings import Settings
    from ecom_etl.stream import emulator

    url = emulator.start(args.port)
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
    from ecom_etl.stream import emulator

    common.progress("emulator stopped" if emulator.stop() else "no emulator was running")
    return 0


def run_job(args: argparse.Namespace) -> int:
    from ecom_etl.glue_local import parse_arguments, start_job_run
    from ecom_etl.stream import emulator

    settings = common.settings(args)
    if not settings.endpoint_url:
        url = emulator.running_url()
        if url is None:
            raise EtlInputError("no emulator: start it with `ecom-etl local up` (or give --endpoint-url)")
        settings = settings.at(url)
    return start_job_run(settings, args.stack, args.job_name, parse_arguments(args.arguments), common.progress)
