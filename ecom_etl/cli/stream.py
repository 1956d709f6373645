"""`ecom-etl stream`: the streaming job, locally."""

from __future__ import annotations

import argparse

from ecom_etl.cli import common


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stream",
        help="run the streaming job locally: Kinesis -> silver, quarantine, DynamoDB, gold",
        description="Read the Kinesis stream shard by shard in micro-batches and write each through the batch "
        "job's cleaning into the lake and the DynamoDB tables; rebuild gold when silver has changed, at most every "
        "--gold-every. Stops on Ctrl-C; a restart resumes from the checkpoint, writing nothing twice. A checkpoint "
        "belongs to one stream: against a recreated stream the job stops and says how to start over. With an AWS "
        "endpoint each micro-batch publishes its counts as CloudWatch metrics; a micro-batch over the quality gate "
        "says so in its line and its metrics, and the job goes on.",
    )
    common.add_aws_options(p)
    p.add_argument(
        "--warehouse", default="warehouse", help="lake root, a directory or s3:// URI (default: %(default)s)"
    )
    p.add_argument("--checkpoint", help="offset and commit logs (default: WAREHOUSE/_checkpoints/STREAM)")
    p.add_argument(
        "--reset-checkpoint",
        action="store_true",
        help="delete the checkpoint first and read the stream from its oldest record",
    )
    p.add_argument("--trigger", default="5s", help="micro-batch interval, e.g. 5s, 500ms (default: %(default)s)")
    p.add_argument(
        "--max-records", type=int, default=10_000, help="records per micro-batch at most (default: %(default)s)"
    )
    p.add_argument("--gold-every", default="5m", help="rebuild gold at most this often (default: %(default)s)")
    p.add_argument("--stop-when-idle", action="store_true", help="exit once a trigger finds no new records")
    common.add_gate_options(p, "stream", batch=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ecom_etl.lake.layout import Lake
    from ecom_etl.stream.runner import run_stream

    settings = common.settings(args)
    gate = common.gate(args, "stream")
    trigger, gold_every = common.seconds(args.trigger), common.seconds(args.gold_every)
    lake = Lake.at(args.warehouse)
    checkpoint = args.checkpoint or lake.checkpoint(settings.stream)
    spark = common.session(settings, "ecom-etl stream")
    common.progress(
        f"streaming {settings.stream} into {lake.root} every {trigger:g}s (checkpoint {checkpoint}); Ctrl-C stops"
    )
    run_stream(
        spark,
        settings,
        lake,
        checkpoint,
        trigger,
        args.max_records,
        args.stop_when_idle,
        common.progress,
        gold_every,
        args.reset_checkpoint,
        gate=gate,
        metrics_job=args.job_name if settings.endpoint_url else None,
    )
    return 0
