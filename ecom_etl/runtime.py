"""The runtime seam: a local SparkSession with Delta, or the session Glue already started.

Nothing here imports `awsglue`; the Glue lifecycle (GlueContext, Job.init/commit) lives in
jobs/glue_runtime.py, which hands the session it gets from Glue to `configure`.
"""

import os
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator
from importlib import resources

from pyspark.sql import SparkSession

# Applied on every runtime: timestamps are wall-clock values, never shifted by a machine's zone.
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
}

# Local only: Glue configures Delta itself from `--datalake-formats delta` and `--conf`.
DELTA_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def on_glue(argv: list[str]) -> bool:
    """True inside a Glue job run: Glue passes --JOB_RUN_ID to every script it starts.

    ECOM_ETL_RUNTIME=glue|local overrides the guess. Whether `awsglue` imports says nothing:
    the local extra installs it, and a GlueContext cannot start without Glue's jars.
    """
    forced = os.environ.get("ECOM_ETL_RUNTIME", "").lower()
    if forced in ("glue", "local"):
        return forced == "glue"
    return any(a == "--JOB_RUN_ID" or a.startswith("--JOB_RUN_ID=") for a in argv)


def configure(spark: SparkSession) -> SparkSession:
    """Set the session options the data contract relies on (time zone, date parsing)."""
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    return spark


def local_conf(shuffle_partitions: int | None = None, ui: bool | None = None) -> dict[str, str]:
    """Spark settings for a 2-core laptop; each can be overridden from the environment."""
    log4j = os.environ.get("ECOM_ETL_LOG4J") or resources.files("ecom_etl").joinpath("log4j2.properties")
    partitions = shuffle_partitions or int(os.environ.get("ECOM_ETL_SHUFFLE_PARTITIONS", "8"))
    ui_on = ui if ui is not None else os.environ.get("ECOM_ETL_SPARK_UI", "0") == "1"
    java_opts = f"-Dlog4j.configurationFile={log4j} -Dlog4j2.configurationFile={log4j}"
    return {
        **SESSION_CONF,
        **DELTA_CONF,
        "spark.sql.shuffle.partitions": str(partitions),
        "spark.default.parallelism": str(partitions),
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.enabled": str(ui_on).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": os.environ.get("ECOM_ETL_DRIVER_MEMORY", "4g"),
        "spark.driver.extraJavaOptions": java_opts,
        "spark.sql.warehouse.dir": tempfile.mkdtemp(prefix="ecom-etl-catalog-"),
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    }


def delta_packages() -> str:
    """The Maven coordinates of the Delta jars matching the installed delta-spark (pip) package."""
    from delta import configure_spark_with_delta_pip

    builder = configure_spark_with_delta_pip(SparkSession.Builder())
    return builder._options["spark.jars.packages"]  # the one place delta-spark names its jars


def spark_defaults() -> str:
    """spark-defaults.conf for the local Spark install, so that a plain
    `spark-submit jobs/batch_etl.py ...` gets Delta and UTC, as Glue's job configuration does."""
    conf = {**local_conf(), "spark.jars.packages": delta_packages()}
    del conf["spark.sql.warehouse.dir"]  # a fresh temporary directory per session instead
    return "".join(f"{key} {value}\n" for key, value in sorted(conf.items()))


def install_spark_defaults() -> str:
    """Write spark_defaults() into $SPARK_HOME/conf of the pyspark package; returns the path."""
    import pyspark

    conf_dir = os.path.join(os.environ.get("SPARK_HOME") or os.path.dirname(pyspark.__file__), "conf")
    os.makedirs(conf_dir, exist_ok=True)
    path = os.path.join(conf_dir, "spark-defaults.conf")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("# Written by `ecom-etl setup-spark`: Delta, UTC and quiet logs for spark-submit.\n")
        fh.write(spark_defaults())
    return path


def local_session(
    app_name: str = "ecom-etl",
    master: str | None = None,
    shuffle_partitions: int | None = None,
    ui: bool | None = None,
) -> SparkSession:
    """A local SparkSession with Delta configured (jars resolved from Maven via Ivy, cached).

    An already active session (spark-submit, a test run) is reused as it is.
    """
    from delta import configure_spark_with_delta_pip

    active = SparkSession.getActiveSession()
    if active is not None:
        return configure(active)
    # Python workers (foreachPartition sinks) must run the interpreter that has ecom_etl installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    builder = SparkSession.builder.appName(app_name).master(
        master or os.environ.get("ECOM_ETL_MASTER", "local[2]")
    )
    for key, value in local_conf(shuffle_partitions, ui).items():
        builder = builder.config(key, value)
    with _jvm_stdout_to_stderr():
        spark = configure_spark_with_delta_pip(builder).getOrCreate()
    return configure(spark)


@contextmanager
def _jvm_stdout_to_stderr() -> Iterator[None]:
    """The JVM inherits our stdout; point it at stderr while Spark starts, so Ivy's and Spark's
    chatter never mixes with a command's output (`ecom-etl sql --format csv > out.csv`)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
