"""Delta's multi-writer log store for S3 tables: the jar, its DynamoDB table, its Spark settings.

S3 has no "put if absent", so two drivers committing version N of one Delta table at the same
moment (the batch job and the stream job, both writing silver) could both write `N.json`, and one
commit would be lost. `java/ecom/delta/DynamoDBLogStore.java` claims `N.json` with a conditional
DynamoDB PutItem first: exactly one claim succeeds, the other writer gets FileAlreadyExistsException
and Delta retries on top of the new version. (Delta's own S3DynamoDBLogStore does the same, but its
artifact is not served by the Maven mirror this project builds from, so the project carries its
own, on the AWS SDK v2 that Glue 5.1 and 6.0 ship, in the project's jar: see `jvm.py`.)
"""

from __future__ import annotations

from ecom_etl.settings import Settings

KEYS = ("tablePath", "fileName")  # (partition, sort): the table's log path and the commit file
TTL_ATTRIBUTE = "expireTime"  # completed claims expire after a day; S3 keeps the commit itself
CLASS = "ecom.delta.DynamoDBLogStore"


def conf(settings: Settings) -> dict[str, str]:
    """Spark settings that route every s3:// and s3a:// Delta commit through the log store."""
    out = {
        "spark.delta.logStore.s3.impl": CLASS,
        "spark.delta.logStore.s3a.impl": CLASS,
        "spark.hadoop.ecom.delta.log.table": settings.delta_log_table,
        "spark.hadoop.ecom.delta.log.region": settings.region,
    }
    if settings.endpoint_url:
        out["spark.hadoop.ecom.delta.log.endpoint"] = settings.endpoint_url
    if settings.credentials:
        out["spark.hadoop.ecom.delta.log.accessKey"], out["spark.hadoop.ecom.delta.log.secretKey"] = (
            settings.credentials
        )
    return out
