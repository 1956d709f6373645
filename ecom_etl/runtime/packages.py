"""The jars a local Spark needs beyond pyspark's own, and how S3 is reached.

Delta (as the installed delta-spark names it) and S3A matching pyspark's Hadoop, with only the
AWS SDK modules S3A loads instead of the whole SDK bundle (≈ 270 MB for Hadoop 3.3, ≈ 610 MB for
3.4). `s3://` is mapped to S3A, as Glue 5.1 and 6.0 do; an endpoint (the emulator) gets path-style
access, plain HTTP and the emulator's credentials. All are resolved from Maven Central by Ivy at
the first start and cached in Ivy's directory (`ivy_cache()`).
"""

from __future__ import annotations

import glob
import os
import re

from ecom_etl.runtime import delta_log_store, jvm
from ecom_etl.settings import Settings

# The Delta log store's DynamoDB client (java/ecom/delta/DynamoDBLogStore.java), on both lines: the
# SDK's HTTP client built on Apache HttpClient, which Spark ships; not its Netty one.
LOG_STORE_SDK = ["software.amazon.awssdk:dynamodb:2.29.52", "software.amazon.awssdk:apache-client:2.29.52"]
NETTY = [
    "org.slf4j:slf4j-api",
    "software.amazon.awssdk:netty-nio-client",
    "io.netty:netty-common",
    "io.netty:netty-buffer",
    "io.netty:netty-transport",
    "io.netty:netty-handler",
    "io.netty:netty-codec",
    "io.netty:netty-codec-http",
    "io.netty:netty-codec-http2",
    "io.netty:netty-resolver",
    "io.netty:netty-transport-classes-epoll",
    "io.netty:netty-transport-native-unix-common",
]
# What Spark 4.1 ships already (newer): older copies from Delta's and Hadoop's poms would shadow them.
SHIPPED_BY_SPARK_4 = [
    "org.apache.hadoop:hadoop-client-api",
    "org.apache.hadoop:hadoop-client-runtime",
    "com.fasterxml.jackson.core:jackson-annotations",
    "com.fasterxml.jackson.core:jackson-core",
    "com.fasterxml.jackson.core:jackson-databind",
    "com.github.luben:zstd-jni",
    "com.google.code.findbugs:jsr305",
    "commons-codec:commons-codec",
    "commons-pool:commons-pool",
    "io.airlift:aircompressor",
    "org.apache.httpcomponents:httpclient",
    "org.apache.httpcomponents:httpcore",
    "org.apache.logging.log4j:log4j-api",
    "org.apache.logging.log4j:log4j-core",
    "org.apache.logging.log4j:log4j-slf4j2-impl",
    "org.apache.parquet:parquet-column",
    "org.apache.parquet:parquet-common",
    "org.apache.parquet:parquet-encoding",
    "org.apache.parquet:parquet-format-structures",
    "org.apache.parquet:parquet-hadoop",
    "org.apache.parquet:parquet-jackson",
    "org.locationtech.jts:jts-core",
    "org.roaringbitmap:RoaringBitmap",
    "org.xerial.snappy:snappy-java",
]
# Hadoop line -> (the SDK modules its hadoop-aws needs, what to leave out of their dependencies).
S3A: dict[str, tuple[list[str], list[str]]] = {
    "3.3": (
        # 3.3's S3A loads S3Guard's DynamoDB classes at start, so the DynamoDB module is needed.
        ["com.amazonaws:aws-java-sdk-s3:1.12.262", "com.amazonaws:aws-java-sdk-dynamodb:1.12.262"],
        [
            "com.amazonaws:aws-java-sdk-bundle",
            "com.amazonaws:aws-java-sdk-kms",
            "com.fasterxml.jackson.core:jackson-databind",
            "com.fasterxml.jackson.core:jackson-core",
            "com.fasterxml.jackson.core:jackson-annotations",
            "org.apache.httpcomponents:httpclient",
            "org.apache.httpcomponents:httpcore",
            "commons-codec:commons-codec",
            "commons-logging:commons-logging",
            "joda-time:joda-time",
        ],
    ),
    "3.4": (
        # 2.29.x: later SDKs send checksums that S3-compatible servers reject.
        ["software.amazon.awssdk:s3:2.29.52", "software.amazon.awssdk:s3-transfer-manager:2.29.52"],
        [
            "software.amazon.awssdk:bundle",
            "software.amazon.s3.analyticsaccelerator:analyticsaccelerator-s3",
            "org.wildfly.openssl:wildfly-openssl",
            *SHIPPED_BY_SPARK_4,
        ],
    ),
}


def hadoop_version() -> str:
    """The Hadoop version pyspark ships (from its hadoop-client-api jar; under spark-submit too)."""
    from pyspark.find_spark_home import _find_spark_home

    jars = glob.glob(os.path.join(_find_spark_home(), "jars", "hadoop-client-api-*.jar"))
    found = re.search(r"hadoop-client-api-([0-9.]+)\.jar$", jars[0]) if jars else None
    if not found:
        raise RuntimeError("cannot tell pyspark's Hadoop version (no hadoop-client-api jar)")
    return found.group(1)


def ivy_cache() -> str:
    """Where Ivy keeps the jars: Spark 4 moved its default directory."""
    import pyspark

    return "~/.ivy2.5.2" if int(pyspark.__version__.split(".")[0]) >= 4 else "~/.ivy2"


def delta_packages() -> list[str]:
    """The Maven coordinates of the Delta jars matching the installed delta-spark (pip) package."""
    from delta import configure_spark_with_delta_pip
    from pyspark.sql import SparkSession

    builder = configure_spark_with_delta_pip(SparkSession.Builder())
    return builder._options["spark.jars.packages"].split(",")  # the one place delta-spark names them


def packages() -> tuple[list[str], list[str]]:
    """(packages, excludes) for spark.jars.packages and spark.jars.excludes."""
    hadoop = hadoop_version()
    sdk, excludes = S3A[".".join(hadoop.split(".")[:2])]
    return [*delta_packages(), f"org.apache.hadoop:hadoop-aws:{hadoop}", *sdk, *LOG_STORE_SDK], excludes + NETTY


def conf(settings: Settings) -> dict[str, str]:
    """The jars, and S3A for `s3://` and `s3a://` (against `settings.endpoint_url` when set)."""
    jars, excludes = packages()
    out = {
        "spark.jars.packages": ",".join(jars),
        "spark.jars.excludes": ",".join(excludes),
        "spark.hadoop.fs.s3.impl": "org.apache.hadoop.fs.s3a.S3AFileSystem",
        "spark.hadoop.fs.s3a.endpoint.region": settings.region,
    }
    if settings.endpoint_url:
        out.update(
            {
                "spark.hadoop.fs.s3a.endpoint": settings.endpoint_url,
                "spark.hadoop.fs.s3a.path.style.access": "true",
                "spark.hadoop.fs.s3a.connection.ssl.enabled": str(settings.endpoint_url.startswith("https")).lower(),
            }
        )
    if settings.credentials:
        out.update(
            {
                "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
                "spark.hadoop.fs.s3a.access.key": settings.credentials[0],
                "spark.hadoop.fs.s3a.secret.key": settings.credentials[1],
            }
        )
    if jvm.JAR.is_file():  # the project's classes: the CSV reader and the S3 log store
        out.update({**jvm.conf(), **delta_log_store.conf(settings)})
    return out


def hadoop_jars() -> list[str]:
    """Spark's own jars (Hadoop's client API among them), to compile against."""
    from pyspark.find_spark_home import _find_spark_home

    return sorted(glob.glob(os.path.join(_find_spark_home(), "jars", "*.jar")))
