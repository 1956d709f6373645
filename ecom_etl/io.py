"""Reading raw CSV and writing the lake's Delta tables; the only module of the library that does I/O."""

import glob
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlparse

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from ecom_etl.errors import EtlInputError
from ecom_etl.schema import (
    CORRUPT_COLUMN,
    GOLD_TABLES,
    RAW_COLUMNS,
    RAW_FIELDS,
    RAW_LINE,
    SOURCE,
)
from ecom_etl.spark_types import RAW_SCHEMA


def local_path(path: str) -> str | None:
    """The filesystem path behind a local path or file:// URI; None for S3."""
    parsed = urlparse(path)
    if parsed.scheme == "file":
        return parsed.path
    if parsed.scheme in ("", None) or len(parsed.scheme) == 1:  # plain path (or a drive letter)
        return path
    return None


def local_files(path: str) -> list[str]:
    """The files Spark would read for a local path, directory or glob; a clear error if none."""
    fs_path = local_path(path)
    assert fs_path is not None
    if glob.has_magic(fs_path):
        matches = sorted(glob.glob(fs_path))
        if not matches:
            raise EtlInputError(f"no file matches the input pattern {path}")
    elif not os.path.exists(fs_path):
        raise EtlInputError(f"input path does not exist: {path}")
    else:
        matches = [fs_path]
    files = []
    for match in matches:
        if os.path.isdir(match):
            files += [os.path.join(match, n) for n in sorted(os.listdir(match)) if not n.startswith((".", "_"))]
        else:
            files.append(match)
    files = [f for f in files if os.path.isfile(f)]
    if not files:
        raise EtlInputError(f"input directory is empty: {path}")
    return files


def check_header(file: str) -> None:
    """The first line must be the expected header (compared as Spark does, ignoring case)."""
    try:
        with open(file, "rb") as fh:
            first = fh.readline(4096)
    except OSError as exc:
        raise EtlInputError(f"cannot read input file {file}: {exc.strerror}") from None
    if not first:
        return  # an empty file holds no lines
    header = first.decode("utf-8", errors="replace").rstrip("\r\n")
    found = [c.strip('"') for c in header.split(",")]
    if [c.lower() for c in found] != [c.lower() for c in RAW_COLUMNS]:
        shown = header if len(header) <= 120 else header[:117] + "..."
        raise EtlInputError(f"{file}: unexpected CSV header {shown!r}, expected {','.join(RAW_COLUMNS)!r}")


def check_input(path: str) -> None:
    """Local input: every file exists and has the expected header, checked without Spark, so a
    wrong path fails in a second. S3 input is checked by Spark as it reads each file."""
    if local_path(path) is not None:
        for file in local_files(path):
            check_header(file)


def read_raw_csv(spark: SparkSession, path: str) -> DataFrame:
    """Raw order lines from a CSV file, directory or glob, as the columns cleaning expects:
    every field a string, `raw_line` (the line, when its field count is wrong) and `source` (the file).

    The header of every file is checked against the expected one when the data is read.
    """
    check_input(path)
    try:
        raw = (
            spark.read.option("header", True)
            .option("enforceSchema", False)  # compare each file's header with RAW_COLUMNS
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT_COLUMN)
            .option("multiLine", False)
            .option("escape", '"')  # RFC 4180: a quote inside a quoted field is doubled
            .schema(RAW_SCHEMA)
            .csv(path)
        )
    except AnalysisException as exc:
        raise EtlInputError(f"cannot read input {path}: {first_line(str(exc))}") from None
    if not raw.inputFiles():
        raise EtlInputError(f"no input files found at {path}")
    return raw.select(
        *[F.col(c).alias(f) for c, f in zip(RAW_COLUMNS, RAW_FIELDS)],
        F.col(CORRUPT_COLUMN).alias(RAW_LINE),
        F.col("_metadata.file_path").alias(SOURCE),
    )


def write_text(path: str, text: str) -> None:
    """Write a small text file (a run summary) to a local path or to S3 (AWS_ENDPOINT_URL is honoured)."""
    fs_path = local_path(path)
    if fs_path is not None:
        os.makedirs(os.path.dirname(os.path.abspath(fs_path)), exist_ok=True)
        with open(fs_path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return
    import boto3

    parsed = urlparse(path)
    boto3.client("s3").put_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"), Body=text.encode("utf-8"))


def first_line(message: str) -> str:
    return next((line.strip() for line in message.splitlines() if line.strip()), message)


@dataclass(frozen=True)
class Lake:
    """The lake layout under one warehouse root (a local directory, file:// or s3:// URI)."""

    root: str

    @classmethod
    def at(cls, warehouse: str) -> "Lake":
        fs_path = local_path(warehouse)
        root = os.path.abspath(fs_path) if fs_path is not None and "://" not in warehouse else warehouse
        return cls(root.rstrip("/"))

    @property
    def silver(self) -> str:
        return f"{self.root}/silver/order_lines"

    @property
    def quarantine(self) -> str:
        return f"{self.root}/quarantine/order_lines"

    def gold(self, name: str) -> str:
        return f"{self.root}/gold/{name}"

    @property
    def runs(self) -> str:
        """Batch run summaries, one JSON file per run, named by start time so they sort."""
        return f"{self.root}/_runs"

    def tables(self) -> dict[str, str]:
        """Catalog table name -> location, for every table of the lake."""
        return {
            "order_lines": self.silver,
            "quarantine_order_lines": self.quarantine,
            **{name: self.gold(name) for name in GOLD_TABLES},
        }


def is_delta_table(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def last_commit_metrics(spark: SparkSession, path: str) -> dict[str, int]:
    """Row counts Delta recorded for the table's latest commit (no pass over the data)."""
    (row,) = DeltaTable.forPath(spark, path).history(1).select("operationMetrics").collect()
    return {k: int(v) for k, v in (row.operationMetrics or {}).items() if v.isdigit()}


@contextmanager
def idempotent_writes(spark: SparkSession, txn: tuple[str, int] | None) -> Iterator[None]:
    """Within the block, every Delta write (append or MERGE) of a table that already committed
    (app id, version) = `txn` is skipped: the way a replayed micro-batch writes nothing twice."""
    if txn is None:
        yield
        return
    spark.conf.set("spark.databricks.delta.write.txnAppId", txn[0])
    spark.conf.set("spark.databricks.delta.write.txnVersion", str(txn[1]))
    try:
        yield
    finally:
        spark.conf.unset("spark.databricks.delta.write.txnAppId")
        spark.conf.unset("spark.databricks.delta.write.txnVersion")


def _partition_filter(rows: DataFrame, partition_by: tuple[str, ...]) -> str:
    """A literal predicate on the target's partitions the rows fall in, so MERGE reads only those."""
    values = rows.select(*partition_by).distinct().collect()
    if not values:
        return "FALSE"
    return "(" + " OR ".join(
        "(" + " AND ".join(f"t.`{c}` = {v[c]!r}" for c in partition_by) + ")" for v in values
    ) + ")"


def insert_new(
    spark: SparkSession,
    rows: DataFrame,
    path: str,
    keys: list[str],
    partition_by: tuple[str, ...] = (),
) -> int:
    """Append the rows whose `keys` are not in the table yet (creating it if needed): reruns add
    nothing. Returns the number of rows inserted (0 also when idempotent_writes skipped the write).
    `rows` must be unique on `keys`."""
    if not is_delta_table(spark, path):
        rows.write.format("delta").partitionBy(*partition_by).save(path)
        return last_commit_metrics(spark, path).get("numOutputRows", 0)
    table = DeltaTable.forPath(spark, path)
    version = table.history(1).first()["version"]
    match = " AND ".join(f"t.`{k}` = s.`{k}`" for k in (*partition_by, *keys))
    if partition_by:
        match = f"{_partition_filter(rows, partition_by)} AND {match}"
    table.alias("t").merge(rows.alias("s"), match).whenNotMatchedInsertAll().execute()
    (latest,) = table.history(1).collect()
    if latest["version"] == version:  # skipped: this batch was committed before
        return 0
    return int((latest["operationMetrics"] or {}).get("numTargetRowsInserted", 0))


def overwrite(rows: DataFrame, path: str) -> int:
    """Replace a (small, derived) table's content; returns the rows written."""
    rows.write.format("delta").mode("overwrite").option("overwriteSchema", True).save(path)
    return last_commit_metrics(rows.sparkSession, path).get("numOutputRows", 0)


def register_tables(spark: SparkSession, database: str, lake: Lake) -> list[str]:
    """Register every existing lake table in the catalog (the Glue Data Catalog on AWS)."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    names = []
    for name, location in lake.tables().items():
        if is_delta_table(spark, location):
            spark.sql(f"CREATE TABLE IF NOT EXISTS `{database}`.`{name}` USING DELTA LOCATION '{location}'")
            names.append(f"{database}.{name}")
    return names
