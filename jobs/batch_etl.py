"""Glue batch job: the raw files not loaded yet -> silver, quarantine and gold Delta tables.

    aws glue start-job-run --job-name ecom-batch --arguments '--input_path=s3://raw/...'
    spark-submit jobs/batch_etl.py --JOB_NAME local --input_path DIR --warehouse_path DIR

Arguments: --input_path (file, directory or glob), --warehouse_path (lake root), optional
--database (catalog database, default "ecom"), --summary_path (where to write the JSON run
summary: a local path or s3:// URI), --full_refresh (true: read every file again) and the quality
gate's --max_quarantined_share, --max_reason_shares and --min_lines_per_file (docs/data-quality.md;
the template's DefaultArguments set them, absent they are not checked). The run's counts go to
CloudWatch as metrics of the job. Exit 1 when the counts do not reconcile, 3 over the gate.
"""

import json
import sys

from ecom_etl.lake.batch import run_batch
from ecom_etl.lake.quality import GATE_ARGUMENTS, Gate, gate_message
from ecom_etl.lake.sources import find_input
from ecom_etl.lake.storage import Storage
from ecom_etl.settings import Settings
from glue_runtime import argv0, exit_on_known_error, job_session, resolve_args

REQUIRED = ["JOB_NAME", "input_path", "warehouse_path"]
OPTIONAL = {"database": "ecom", "summary_path": "", "full_refresh": "false", **dict.fromkeys(GATE_ARGUMENTS, "")}


def main() -> int:
    args = resolve_args(sys.argv, REQUIRED, OPTIONAL)
    settings = Settings.from_environment()
    gate = Gate.from_arguments(args)
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
            gate=gate,
            metrics_job=args["JOB_NAME"] if run.has_catalog else None,  # CloudWatch: on Glue or the emulator
        )
    text = json.dumps(summary.to_dict(), indent=2, default=str)
    print(text)  # the driver log on Glue
    if args["summary_path"]:
        Storage(settings).write_text(args["summary_path"], text)
    if summary.reconciles and summary.gate_breaches:
        print(f"{argv0()}: {gate_message(summary.gate_breaches)}", file=sys.stderr)
    return summary.exit_code


if __name__ == "__main__":
    exit_on_known_error(main)
