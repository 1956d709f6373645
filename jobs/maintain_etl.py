"""Glue maintenance job (weekly): OPTIMIZE and VACUUM the lake's tables.

    aws glue start-job-run --job-name ecom-maintain

Arguments: --warehouse_path (lake root), optional --retention_hours (default 168: a week of time
travel, longer than the stream job may lag).
"""

import sys

from ecom_etl.lake.layout import Lake
from ecom_etl.lake.maintain import RETENTION_HOURS, maintain
from ecom_etl.settings import Settings
from glue_runtime import exit_on_known_error, job_session, resolve_args

REQUIRED = ["JOB_NAME", "warehouse_path"]
OPTIONAL = {"retention_hours": str(RETENTION_HOURS)}


def main() -> int:
    args = resolve_args(sys.argv, REQUIRED, OPTIONAL)
    settings = Settings.from_environment()
    with job_session(args, sys.argv, settings) as run:
        done = maintain(run.spark, Lake.at(args["warehouse_path"]), int(args["retention_hours"]), print)
    print(f"maintained {len(done)} tables")
    return 0


if __name__ == "__main__":
    exit_on_known_error(main)
