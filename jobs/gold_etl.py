"""Glue gold job (scheduled): rebuild the gold tables that are behind silver's data version.

    aws glue start-job-run --job-name ecom-gold

Arguments: --warehouse_path (lake root), optional --database (catalog database, default "ecom").
The batch and stream jobs refresh gold themselves; this job makes sure gold follows silver within
its schedule whatever happened to them.
"""

import sys

from ecom_etl.lake.catalog import register_tables
from ecom_etl.lake.gold import refresh_gold
from ecom_etl.lake.layout import Lake
from ecom_etl.settings import Settings
from glue_runtime import exit_on_known_error, job_session, resolve_args

REQUIRED = ["JOB_NAME", "warehouse_path"]
OPTIONAL = {"database": "ecom"}


def main() -> int:
    args = resolve_args(sys.argv, REQUIRED, OPTIONAL)
    settings = Settings.from_environment()
    lake = Lake.at(args["warehouse_path"])
    with job_session(args, sys.argv, settings) as run:
        state = refresh_gold(run.spark, lake)
        if run.has_catalog:  # also the tables the stream job created since the last batch run
            register_tables(run.spark, settings, args["database"], lake)
    print(f"gold at silver version {state.silver_version}: rebuilt {state.rebuilt or 'nothing'}")
    return 0


if __name__ == "__main__":
    exit_on_known_error(main)
