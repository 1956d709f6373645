"""The project's own jar on Spark's class path: the batch job's CSV reader (`ecom.csv.OrderLinesSource`)
and Delta's multi-writer log store for S3 tables (`ecom.delta.DynamoDBLogStore`).

It ships in the wheel (Glue gets it through `--extra-jars`); `ecom_etl.local.jar` builds it from java/.
"""

from __future__ import annotations

from pathlib import Path

JAR = Path(__file__).resolve().parent.parent / "jars" / "ecom-etl.jar"


def conf() -> dict[str, str]:
    """The jar on Spark's class path (nothing when it is not built: no S3 log store, no CSV reader)."""
    return {"spark.jars": str(JAR)} if JAR.is_file() else {}
