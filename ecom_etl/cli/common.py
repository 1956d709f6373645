"""What the commands share: AWS options and the Settings they make, the local SparkSession, the
built-in data, progress output."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from ecom_etl.errors import EtlInputError
from ecom_etl.progress import to_stderr as progress
from ecom_etl.settings import Settings

if TYPE_CHECKING:  # pyspark is imported when a command needs Spark, not to print --help
    from pyspark.sql import SparkSession

    from ecom_etl.lake.quality import Gate

# Where the local commands keep their files, under the directory they are run in.
BUILTIN_DATA = os.path.join("data", "generated")
DEMO_STREAM_DATA = os.path.join("data", "demo-stream")
STATE_DIR = ".ecom-etl"  # the emulator's and the demo's pid files


def add_aws_options(parser: argparse.ArgumentParser, names: bool = True) -> None:
    parser.add_argument(
        "--endpoint-url",
        help="AWS endpoint, e.g. the local emulator http://127.0.0.1:4566 (default: $AWS_ENDPOINT_URL, else AWS)",
    )
    parser.add_argument("--region", help="AWS region (default: $AWS_REGION / $AWS_DEFAULT_REGION, else us-east-1)")
    if names:
        default = Settings()
        parser.add_argument("--stream", help=f"Kinesis stream name (default: $STREAM_NAME, else {default.stream})")
        parser.add_argument("--customers-table", help=f"DynamoDB customers table (default: {default.customers_table})")
        parser.add_argument("--invoices-table", help=f"DynamoDB invoices table (default: {default.invoices_table})")


def settings(args: argparse.Namespace) -> Settings:
    """The run's Settings: the options given, else the environment, else the template's names."""
    return Settings.from_environment(
        endpoint_url=getattr(args, "endpoint_url", None),
        region=getattr(args, "region", None),
        stream=getattr(args, "stream", None),
        customers_table=getattr(args, "customers_table", None),
        invoices_table=getattr(args, "invoices_table", None),
    )


def session(settings: Settings, app: str) -> SparkSession:
    from pyspark.sql import SparkSession

    from ecom_etl.runtime.session import local_session

    if SparkSession.getActiveSession() is None:
        from ecom_etl.runtime.packages import ivy_cache

        progress(f"starting Spark (the first start downloads the Delta and S3 jars into {ivy_cache()}) ...")
    return local_session(settings, app)


def seconds(text: str) -> float:
    """A duration: 5s, 500ms, 5m, or a number of seconds."""
    text = text.strip().lower()
    units = (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0))
    try:
        for suffix, factor in units:
            if text.endswith(suffix):
                return float(text[: -len(suffix)]) * factor
        return float(text)
    except ValueError:
        raise EtlInputError(f"not a duration: {text!r} (use e.g. 5s, 500ms or 5m)") from None


def builtin_data(spark: SparkSession) -> str:
    """The built-in generated data (made on first use)."""
    from ecom_etl.local.generate import BUILTIN_ROWS, BUILTIN_SEED, generated_once

    return generated_once(spark, BUILTIN_DATA, BUILTIN_ROWS, BUILTIN_SEED, progress)


def add_gate_options(parser: argparse.ArgumentParser, job: str, batch: bool = True) -> None:
    """The quality gate's thresholds (docs/data-quality.md); unset, the template's `job` has them."""
    parser.add_argument(
        "--job-name",
        default=f"ecom-{job}",
        help="the job the run's CloudWatch metrics are of (default: %(default)s, the template's); metrics are "
        "published when there is an AWS endpoint",
    )
    where = f"(default: the {job} job's in infra/cloudformation/platform.yaml)"
    parser.add_argument(
        "--max-quarantined-share", metavar="SHARE", help=f"largest share of the lines read to quarantine {where}"
    )
    parser.add_argument(
        "--max-reason-shares",
        metavar="REASON=SHARE,...",
        help=f"largest share of the lines read to quarantine for a reason {where}; '' checks none",
    )
    if batch:
        parser.add_argument(
            "--min-lines-per-file",
            metavar="N",
            help=f"fewest lines per new file that is not empty, on average over the run {where}",
        )


def gate(args: argparse.Namespace, job: str) -> Gate:
    """The gate of the options given, else of the template's job arguments (Local = AWS)."""
    from ecom_etl.lake.quality import GATE_ARGUMENTS, Gate
    from ecom_etl.local import template

    values = template.default_arguments(job, GATE_ARGUMENTS)
    values.update({name: getattr(args, name) for name in GATE_ARGUMENTS if getattr(args, name, None) is not None})
    return Gate.from_arguments(values)
