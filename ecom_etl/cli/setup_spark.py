"""`ecom-etl setup-spark`: the local Spark install configured as Glue configures a job."""

from __future__ import annotations

import argparse

from ecom_etl.cli import common


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "setup-spark",
        help="configure the local Spark install for spark-submit (Delta, S3, UTC)",
        description="Resolve the Delta and S3 jars, build the project's Java classes (java/, needs a JDK: the "
        "batch job's CSV reader and the Delta log store for S3 tables written by several jobs) and write "
        "$SPARK_HOME/conf/spark-defaults.conf so that `spark-submit jobs/*.py` runs with Delta, S3A for s3:// "
        "paths and the UTC session time zone, as the jobs do on Glue. `make install` runs it.",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ecom_etl.local.jar import build_jar
    from ecom_etl.runtime import packages
    from ecom_etl.runtime.session import install_spark_defaults

    common.progress(
        f"resolving the Delta and S3 jars (the first time, from Maven Central into {packages.ivy_cache()}) ..."
    )
    common.progress(build_jar())
    common.progress(f"wrote {install_spark_defaults()}")
    return 0
