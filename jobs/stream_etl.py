"""Glue streaming job (gluestreaming): Kinesis -> silver, quarantine and the DynamoDB tables.

    aws glue start-job-run --job-name ecom-etl-stream

Arguments: --stream_arn, --warehouse_path, --checkpoint_path, optional --window_size (default
"10 seconds"), --stream_name, --customers_table, --invoices_table, --starting_position
(default TRIM_HORIZON). Locally, `ecom-etl stream` runs the same process_batch on Spark 3.5 through
the library's Kinesis source adapter (no open-source Kinesis source reaches an emulator).
"""

import sys

from glue_runtime import exit_on_input_error, job_session, resolve_args
from pyspark.sql import functions as F

from ecom_etl.aws import Names
from ecom_etl.errors import EtlInputError
from ecom_etl.io import Lake
from ecom_etl.runtime import on_glue
from ecom_etl.stream.process import process_batch
from ecom_etl.stream.records import RECORD_DDL
from ecom_etl.stream.runner import app_id

REQUIRED = ["JOB_NAME", "stream_arn", "warehouse_path", "checkpoint_path"]
OPTIONAL = {
    "window_size": "10 seconds",
    "stream_name": Names.stream,
    "customers_table": Names.customers_table,
    "invoices_table": Names.invoices_table,
    "starting_position": "TRIM_HORIZON",
}


def main() -> int:
    if not on_glue(sys.argv):
        raise EtlInputError("stream_etl.py runs on Glue; locally use `ecom-etl stream` (same process_batch)")
    args = resolve_args(sys.argv, REQUIRED, OPTIONAL)
    names = Names(args["stream_name"], args["customers_table"], args["invoices_table"])
    lake = Lake.at(args["warehouse_path"])
    with job_session(args, sys.argv) as run:
        spark, glue_context = run.spark, run.glue_context
        # An explicit DDL schema: every field a string, parsed by the data contract, not by Glue.
        frame = glue_context.create_data_frame.from_options(
            connection_type="kinesis",
            connection_options={
                "streamARN": args["stream_arn"],
                "startingPosition": args["starting_position"],
                "classification": "json",
                "inferSchema": "false",
                "schema": RECORD_DDL,
            },
        )

        def batch(records, batch_id: int) -> None:
            payloads = records.select(
                F.to_json(F.struct(*[F.col(c) for c in records.columns])).alias("payload"),
                F.lit(f"kinesis:{names.stream}/batch-{batch_id}").alias("source"),
            )
            process_batch(spark, payloads, batch_id, lake, names, app_id(names.stream))

        glue_context.forEachBatch(
            frame=frame,
            batch_function=batch,
            options={"windowSize": args["window_size"], "checkpointLocation": args["checkpoint_path"]},
        )
    return 0


if __name__ == "__main__":
    exit_on_input_error(main)
