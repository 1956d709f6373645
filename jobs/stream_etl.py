"""Glue streaming job (gluestreaming): Kinesis -> silver, quarantine, the DynamoDB tables and gold.

    aws glue start-job-run --job-name ecom-stream

Arguments: --stream_arn, --warehouse_path, --checkpoint_path, optional --window_size (default
"10 seconds"), --stream_name, --customers_table, --invoices_table, --starting_position (default
TRIM_HORIZON), --gold_every_seconds (default 300) and the quality gate's --max_quarantined_share and
--max_reason_shares (docs/data-quality.md: a micro-batch over them is reported in its CloudWatch
metrics, and the job goes on). Locally, `ecom-etl stream` runs the same
MicroBatchHandler with the driver of the local Spark.
"""

import sys

from ecom_etl.errors import EtlInputError
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.quality import Gate
from ecom_etl.runtime.session import on_glue
from ecom_etl.settings import Settings
from ecom_etl.stream.drivers import GlueDriver
from ecom_etl.stream.runner import DEFAULT_GOLD_SECONDS, run_stream
from glue_runtime import exit_on_known_error, job_session, resolve_args

REQUIRED = ["JOB_NAME", "stream_arn", "warehouse_path", "checkpoint_path"]
OPTIONAL = {
    "window_size": "10 seconds",
    "stream_name": Settings.stream,
    "customers_table": Settings.customers_table,
    "invoices_table": Settings.invoices_table,
    "starting_position": "TRIM_HORIZON",
    "gold_every_seconds": str(int(DEFAULT_GOLD_SECONDS)),
    "max_quarantined_share": "",
    "max_reason_shares": "",
}


def main() -> int:
    if not on_glue(sys.argv):
        raise EtlInputError("stream_etl.py runs on Glue; locally use `ecom-etl stream` (same batch handler)")
    args = resolve_args(sys.argv, REQUIRED, OPTIONAL)
    settings = Settings.from_environment(
        stream=args["stream_name"], customers_table=args["customers_table"], invoices_table=args["invoices_table"]
    )
    gate = Gate.from_arguments(args)
    with job_session(args, sys.argv, settings) as run:
        driver = GlueDriver(
            run.glue_context,
            settings,
            args["stream_arn"],
            args["checkpoint_path"],
            args["window_size"],
            args["starting_position"],
        )
        run_stream(
            run.spark,
            settings,
            Lake.at(args["warehouse_path"]),
            args["checkpoint_path"],
            progress=print,
            gold_seconds=float(args["gold_every_seconds"]),
            driver=driver,
            gate=gate,
            metrics_job=args["JOB_NAME"],
        )
    return 0


if __name__ == "__main__":
    exit_on_known_error(main)
