"""Glue batch job: raw order-line CSV -> silver, quarantine and gold Delta tables.

    aws glue start-job-run --job-name ecom-etl-batch --arguments '--input_path=s3://raw/...'
    spark-submit jobs/batch_etl.py --JOB_NAME local --input_path DIR --warehouse_path DIR

Arguments: --input_path (file, directory or glob), --warehouse_path (lake root),
optional --database (catalog database, default "ecom") and --summary_path (where to write the
JSON run summary: a local path or s3:// URI).
"""

import json
import sys

from glue_runtime import exit_on_input_error, job_session, resolve_args

from ecom_etl.io import check_input, write_text
from ecom_etl.pipeline import run_batch

REQUIRED = ["JOB_NAME", "input_path", "warehouse_path"]
OPTIONAL = {"database": "ecom", "summary_path": ""}


def main() -> int:
    args = resolve_args(sys.argv, REQUIRED, OPTIONAL)
    check_input(args["input_path"])  # before Spark starts: a wrong path fails at once
    with job_session(args, sys.argv) as run:
        summary = run_batch(run.spark, args["input_path"], args["warehouse_path"], args["database"])
    text = json.dumps(summary.to_dict(), indent=2, default=str)
    print(text)  # the driver log on Glue
    if args["summary_path"]:
        write_text(args["summary_path"], text)
    return 0 if summary.reconciles else 1


if __name__ == "__main__":
    exit_on_input_error(main)
