"""Reading raw CSV and writing the lake's Delta tables; the only module of the library that does I/O."""

import glob
import os
from dataclasses import dataclass
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
    RAW_SCHEMA,
    SOURCE,
)

REMOTE_SCHEMES = ("s3", "s3a", "s3n")


def is_remote(path: str) -> bool:
    return urlparse(path).scheme in REMOTE_SCHEMES


def local_path(path: str) -> str | None:
    """The filesystem path behind a local path or file:// URI; None for S3."""
    parsed = urlparse(path)
    if parsed.scheme == "file":
        return parsed.path
    if parsed.scheme in ("", None) or len(parsed.scheme) == 1:  # plain path (or a drive letter)
        return path
    return None


def _check_local_input(path: str) -> None:
    """Fail early, in one line, on a local input that Spark would fail on with a stack trace."""
    fs_path = local_path(path)
    if fs_path is None:
        return
    if glob.has_magic(fs_path):
        if not glob.glob(fs_path):
            raise EtlInputError(f"no file matches the input pattern {path}")
        return
    if not os.path.exists(fs_path):
        raise EtlInputError(f"input path does not exist: {path}")
    if os.path.isdir(fs_path):
        visible = [n for n in os.listdir(fs_path) if not n.startswith((".", "_"))]
        if not visible:
            raise EtlInputError(f"input directory is empty: {path}")
    elif not os.access(fs_path, os.R_OK):
        raise EtlInputError(f"input file is not readable: {path}")


def read_raw_csv(spark: SparkSession, path: str) -> DataFrame:
    """Raw order lines from a CSV file, directory or glob, as the columns cleaning expects:
    every field a string, `raw_line` (the line, when its field count is wrong) and `source` (the file).

    The header of every file is checked against the expected one when the data is read.
    """
    _check_local_input(path)
    try:
        raw = (
            spark.read.option("header", True)
            .option("enforceSchema", False)  # compare each file's header with RAW_COLUMNS
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", CORRUPT_COLUMN)
            .option("multiLine", False)
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


def insert_new(
    spark: SparkSession, rows: DataFrame, path: str, keys: list[str], partition_by: tuple[str, ...] = ()
) -> int:
    """Append the rows whose `keys` are not in the table yet (creating it if needed): reruns add
    nothing. Returns the number of rows inserted. `rows` must be unique on `keys`."""
    if not is_delta_table(spark, path):
        rows.write.format("delta").partitionBy(*partition_by).save(path)
        return last_commit_metrics(spark, path).get("numOutputRows", 0)
    match = " AND ".join(f"t.`{k}` = s.`{k}`" for k in (*partition_by, *keys))
    (
        DeltaTable.forPath(spark, path)
        .alias("t")
        .merge(rows.alias("s"), match)
        .whenNotMatchedInsertAll()
        .execute()
    )
    return last_commit_metrics(spark, path).get("numTargetRowsInserted", 0)


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
