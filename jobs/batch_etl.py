"""Glue batch job: the raw files not loaded yet -> silver, quarantine and gold Delta tables.

    aws glue start-job-run --job-name ecom-batch --arguments '--input_path=s3://raw/...'
    spark-submit jobs/batch_etl.py --JOB_NAME local --input_path DIR --warehouse_path DIR

Arguments: --input_path (file, directory or glob), --warehouse_path (lake root), optional
--database (catalog database, default "ecom"), --summary_path (where to write the JSON run
summary: a local path or s3:// URI) and --full_refresh (true: read every file again).
"""

import json
import sys

from ecom_etl.batch import run_batch
from ecom_etl.settings import Settings
from ecom_etl.sources import find_input
from ecom_etl.storage import Storage
from glue_runtime import exit_on_input_error, job_session, resolve_args

REQUIRED = ["JOB_NAME", "input_path", "warehouse_path"]
OPTIONAL = {"database": "ecom", "summary_path": "", "full_refresh": "false"}


def main() -> int:
    args = resolve_args(sys.argv, REQUIRED, OPTIONAL)
    settings = Settings.from_environment()
    find_input(Storage(settings), args["input_path"])  # before Spark starts: a wrong path fails at once
    with job_session(args, sys.argv, settings) as run:
        summary = run_batch(
            run.spark,
            settings,
            args["input_path"],
            args["warehouse_path"],
            args["database"],
            full_refresh=args["full_refresh"].lower() == "true",
            register=run.has_catalog,
        )
    text = json.dumps(summary.to_dict(), indent=2, default=str)
    print(text)  # the driver log on Glue
    if args["summary_path"]:
        Storage(settings).write_text(args["summary_path"], text)
    return 0 if summary.reconciles else 1


if __name__ == "__main__":
    exit_on_input_error(main)
