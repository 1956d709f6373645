"""The runtime seam: a local SparkSession with Delta, or the session Glue already started.

Nothing here imports `awsglue`; the Glue lifecycle (GlueContext, Job.init/commit) lives in
jobs/glue_runtime.py, which hands the session it gets from Glue to `configure`.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

from pyspark.sql import SparkSession

from ecom_etl.errors import EtlInputError
from ecom_etl.runtime import delta_log_store, packages
from ecom_etl.settings import Settings, SparkSettings, runtime_override, spark_home

# Applied on every runtime (the local session's settings, `configure` on Glue's session, the
# template's --conf): timestamps are wall-clock values, never shifted by a machine's zone, and are
# written as Parquet's INT64 microseconds, which every reader of the lake (delta-rs, Athena, Redshift
# Spectrum) reads exactly; Spark's default INT96 makes them refuse or misread dates past 2262.
SESSION_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}

# Local only: Glue configures Delta itself from `--datalake-formats delta` and `--conf`.
DELTA_CONF: dict[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


def on_glue(argv: list[str]) -> bool:
    """True inside a Glue job run: Glue passes --JOB_RUN_ID to every script it starts.

    ECOM_ETL_RUNTIME=glue|local overrides the guess. Whether `awsglue` imports says nothing:
    the glue extra installs it, and a GlueContext cannot start without Glue's jars.
    """
    forced = runtime_override()
    if forced in ("glue", "local"):
        return forced == "glue"
    return any(a == "--JOB_RUN_ID" or a.startswith("--JOB_RUN_ID=") for a in argv)


def configure(spark: SparkSession) -> SparkSession:
    """Set the session options the data contract relies on (time zone, date parsing, timestamp storage)."""
    for key, value in SESSION_CONF.items():
        spark.conf.set(key, value)
    return spark


def local_conf(spark_settings: SparkSettings, settings: Settings) -> dict[str, str]:
    """Spark settings for a 2-core laptop, with Delta, S3 (on the emulator when it has an endpoint)
    and the multi-writer Delta log store for S3 tables."""
    log4j = spark_settings.log4j or str(resources.files("ecom_etl").joinpath("log4j2.properties"))
    partitions = str(spark_settings.shuffle_partitions)
    java_opts = f"-Dlog4j.configurationFile={log4j} -Dlog4j2.configurationFile={log4j}"
    return {
        **SESSION_CONF,
        **DELTA_CONF,
        **packages.conf(settings),
        "spark.master": spark_settings.master,
        "spark.sql.shuffle.partitions": partitions,
        "spark.default.parallelism": partitions,
        "spark.sql.adaptive.enabled": "true",
        "spark.ui.enabled": str(spark_settings.ui).lower(),
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": spark_settings.driver_memory,
        "spark.driver.extraJavaOptions": java_opts,
        "spark.pyspark.python": sys.executable,  # workers run the interpreter that has ecom_etl
        "spark.databricks.delta.snapshotPartitions": "2",
        # A .crc file per commit is written by rename; on S3A a rename is a copy, and over an emulator's
        # plain HTTP the SDK refuses to copy a KMS-encrypted object (retrying for minutes first).
        "spark.databricks.delta.writeChecksumFile.enabled": "false",
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    }


def spark_defaults(settings: Settings | None = None) -> str:
    """spark-defaults.conf for the local Spark install, so that a plain
    `spark-submit jobs/batch_etl.py ...` gets what Glue's job configuration gives a job."""
    conf = local_conf(SparkSettings.from_environment(), settings or Settings.from_environment())
    del conf["spark.master"]  # spark-submit's --master, or local[*]
    return "".join(f"{key} {value}\n" for key, value in sorted(conf.items()))


def install_spark_defaults(settings: Settings | None = None) -> str:
    """Write spark_defaults() into $SPARK_HOME/conf of the pyspark package; returns the path."""
    import pyspark

    conf_dir = os.path.join(spark_home() or os.path.dirname(pyspark.__file__), "conf")
    os.makedirs(conf_dir, exist_ok=True)
    path = os.path.join(conf_dir, "spark-defaults.conf")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("# Written by `ecom-etl setup-spark`: Delta, S3, UTC and quiet logs for spark-submit.\n")
        fh.write(spark_defaults(settings))
    return path


def local_session(
    settings: Settings | None = None,
    app_name: str = "ecom-etl",
    spark_settings: SparkSettings | None = None,
) -> SparkSession:
    """A local SparkSession with Delta and S3 configured for `settings` (jars from Maven Central, cached).

    An already active session (a test run, a notebook, the demo) is reused when it was built for the
    same AWS settings, and refused otherwise: its S3 endpoint and credentials are fixed when it
    starts, so silently reusing it would read and write another S3 than the one asked for.
    `spark_settings` (master, memory, partitions, UI) are how a session is started: an active one
    runs on as it was started.
    """
    settings = settings or Settings.from_environment()
    active = SparkSession.getActiveSession()
    if active is not None:
        differing = settings_differences(active, settings)
        if differing:
            raise EtlInputError(
                f"a SparkSession is already active with other AWS settings ({', '.join(differing)}); "
                "stop it, or ask for the settings it was built with"
            )
        return configure(active)
    spark_settings = spark_settings or SparkSettings.from_environment()
    builder = SparkSession.builder.appName(app_name)
    conf = local_conf(spark_settings, settings)
    jars = conf.pop("spark.jars", "")  # to spark-submit itself: see _starting_environment
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # under spark-submit, whose --master (or local[*]) stands
        del conf["spark.master"]
    conf["spark.sql.warehouse.dir"] = warehouse = tempfile.mkdtemp(prefix="ecom-etl-catalog-")
    atexit.register(shutil.rmtree, warehouse, ignore_errors=True)
    for key, value in conf.items():
        builder = builder.config(key, value)
    with _jvm_output(verbose=spark_settings.verbose), _starting_environment(jars):
        spark = builder.getOrCreate()
    return configure(spark)


# Every Spark setting a Settings decides (S3A's endpoint and credentials, the log store's table).
_SETTINGS_KEYS = frozenset(
    key
    for key in {
        **packages.conf(Settings(endpoint_url="http://any", credentials=("any", "any"))),
        **delta_log_store.conf(Settings(endpoint_url="http://any", credentials=("any", "any"))),
    }
    if key.startswith("spark.hadoop.")
)
_SECRET = ("secret", "access.key", "accessKey")


def settings_differences(spark: SparkSession, settings: Settings) -> list[str]:
    """The settings-decided Spark settings in which `spark` differs from what `settings` gives."""
    wanted = packages.conf(settings)
    started = spark.sparkContext.getConf()
    out = []
    for key in sorted(_SETTINGS_KEYS):
        has, wants = started.get(key), wanted.get(key)
        if has != wants:
            secret = any(s in key for s in _SECRET)
            out.append(key if secret else f"{key} is {has!r}, not {wants!r}")
    return out


@contextmanager
def _starting_environment(jars: str) -> Iterator[None]:
    """The environment pyspark reads while it starts the JVM, restored afterwards.

    PYSPARK_PYTHON: the interpreter Spark's Python workers run (PySpark reads nothing else when it
    starts from Python, and keeps what it read): this one, which has ecom_etl and pyarrow, unless one
    is chosen already.

    PYSPARK_SUBMIT_ARGS: `jars` as spark-submit's --jars, not as a builder option. spark-submit adds
    the jars `spark.jars.packages` resolves to `spark.jars`, and pyspark then sets every builder
    option again on the started JVM's conf: a builder's `spark.jars` would replace that list with its
    own, and executors in JVMs of their own (a cluster, not local[*]) would never get Delta's or
    S3A's classes. --jars is merged with them and is on the driver's class path too."""
    saved = {name: os.environ.get(name) for name in ("PYSPARK_PYTHON", "PYSPARK_SUBMIT_ARGS")}
    os.environ["PYSPARK_PYTHON"] = saved["PYSPARK_PYTHON"] or sys.executable
    if jars:
        os.environ["PYSPARK_SUBMIT_ARGS"] = f"--jars {jars} {saved['PYSPARK_SUBMIT_ARGS'] or 'pyspark-shell'}"
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _jvm_output(verbose: bool) -> Iterator[None]:
    """Where the JVM's own stdout and stderr go for its lifetime (it inherits them when Spark
    starts): never our stdout, which is a command's output (`ecom-etl sql --format csv > out.csv`).
    Verbose: our stderr. Otherwise a log file, shown when the start fails: Ivy alone prints about
    25 lines on every start."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log = None
    if verbose:
        os.dup2(2, 1)
    else:
        log = tempfile.NamedTemporaryFile(prefix="ecom-etl-spark-", suffix=".log", delete=False)  # noqa: SIM115
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    try:
        yield
    except Exception:
        if log is not None:
            os.dup2(saved[1], 2)
            with open(log.name, encoding="utf-8", errors="replace") as fh:
                sys.stderr.write(fh.read()[-4000:])
        raise
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        if log is not None:
            log.close()
            os.unlink(log.name)  # the JVM keeps writing to the open file; its space goes when it ends
