"""Delta's multi-writer log store for S3 tables: the jar, its DynamoDB table, its Spark settings.

S3 has no "put if absent", so two drivers committing version N of one Delta table at the same
moment (the batch job and the stream job, both writing silver) could both write `N.json`, and one
commit would be lost. `java/ecom/delta/DynamoDBLogStore.java` claims `N.json` with a conditional
DynamoDB PutItem first: exactly one claim succeeds, the other writer gets FileAlreadyExistsException
and Delta retries on top of the new version. (Delta's own S3DynamoDBLogStore does the same, but its
artifact is not served by the Maven mirror this project builds from, so the project carries its
own, on the AWS SDK v2 that Glue 5.1 and 6.0 ship.) `ecom-etl setup-spark` compiles it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from ecom_etl.settings import Settings

KEYS = ("tablePath", "fileName")  # (partition, sort): the table's log path and the commit file
TTL_ATTRIBUTE = "expireTime"  # completed claims expire after a day; S3 keeps the commit itself
CLASS = "ecom.delta.DynamoDBLogStore"
SOURCE = Path(__file__).resolve().parent.parent / "java" / "ecom" / "delta" / "DynamoDBLogStore.java"
JAR = Path(__file__).resolve().parent / "jars" / "ecom-delta-log-store.jar"


def conf(settings: Settings) -> dict[str, str]:
    """Spark settings that route every s3:// and s3a:// Delta commit through the log store."""
    if not JAR.is_file():
        return {}
    out = {
        "spark.jars": str(JAR),
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


def source_digest() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]


def is_built() -> bool:
    """The jar exists and was compiled from the current source."""
    if not JAR.is_file():
        return False
    with zipfile.ZipFile(JAR) as jar:
        return source_digest() in jar.read("META-INF/MANIFEST.MF").decode()


def build(classpath: list[str]) -> Path:
    """Compile the log store against `classpath` (Hadoop, delta-storage, the SDK) into JAR."""
    if shutil.which("javac") is None:
        raise RuntimeError("javac not found: the Delta log store for S3 needs a JDK 17 to build")
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            ["javac", "--release", "17", "-d", out, "-cp", os.pathsep.join(classpath), str(SOURCE)],
            check=True,
            capture_output=True,
            text=True,
        )
        JAR.parent.mkdir(exist_ok=True)
        with zipfile.ZipFile(JAR, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nEcom-Source-SHA256: {source_digest()}\n")
            for root, _, files in os.walk(out):
                for name in files:
                    path = os.path.join(root, name)
                    jar.write(path, os.path.relpath(path, out))
    return JAR
