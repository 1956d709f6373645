"""Which raw files a batch run loads: those it has not loaded before, or that changed since.

The lake keeps a Delta table of the files it loaded (URI, size, version: the modification time
locally, the ETag on S3). A run lists its input, loads the files missing from that table and
records them after silver and quarantine have committed, so a run that dies in between loads
them again (harmless: inserts are idempotent). Glue's job bookmarks cannot do this for a plain
Spark read; this works the same locally and on Glue. `--full-refresh` loads every file again.
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import SparkSession

from ecom_etl.lake import delta
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.storage import FileInfo

INGESTED_DDL = "uri string, size long, version string, loaded_at timestamp"
KEYS = ("uri", "size", "version")


def pending(spark: SparkSession, lake: Lake, files: list[FileInfo], full_refresh: bool = False) -> list[FileInfo]:
    """The files of `files` to load now."""
    if full_refresh or not delta.exists(spark, lake.ingested_files):
        return list(files)
    loaded = {tuple(r) for r in spark.read.format("delta").load(lake.ingested_files).select(*KEYS).collect()}
    return [f for f in files if (f.uri, f.size, f.version) not in loaded]


def remember(spark: SparkSession, lake: Lake, files: list[FileInfo], loaded_at: datetime) -> None:
    rows = spark.createDataFrame([(f.uri, f.size, f.version, loaded_at) for f in files], INGESTED_DDL)
    delta.record_new(spark, rows, lake.ingested_files, KEYS)
