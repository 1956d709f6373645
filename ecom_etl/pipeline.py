"""The batch job: raw CSV -> quarantine + silver (inserted once) -> gold, with a reconciling summary."""

import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ecom_etl import io
from ecom_etl.aggregates import revenue_tables, top_products_by_season
from ecom_etl.cleaning import (
    REASONS_COLUMN,
    drop_exact_duplicates,
    parse_lines,
    quarantined_lines,
    valid_lines,
)
from ecom_etl.enrichment import enrich
from ecom_etl.errors import explain
from ecom_etl.schema import CLEAN_COLUMNS, GOLD_TABLES, SILVER_PARTITIONS, TOP_PRODUCTS_TABLE, UNKNOWN

Progress = Callable[[str], None]


def to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class BatchSummary:
    """What one run did. raw_rows = silver_rows + duplicates_dropped + quarantined_rows, always."""

    input_path: str
    warehouse: str
    database: str
    raw_rows: int = 0
    silver_rows: int = 0  # distinct clean lines in this input
    duplicates_dropped: int = 0
    quarantined_rows: int = 0
    unknown_customer_rows: int = 0  # of silver_rows
    new_silver_rows: int = 0  # inserted now; 0 when the input was loaded before
    new_quarantined_rows: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    gold_rows: dict[str, int] = field(default_factory=dict)
    gold_rebuilt: bool = False
    tables: dict[str, str] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return self.raw_rows == self.silver_rows + self.duplicates_dropped + self.quarantined_rows

    def to_dict(self) -> dict:
        return {**asdict(self), "reconciles": self.reconciles}


@contextmanager
def _stage(summary: BatchSummary, name: str, progress: Progress) -> Iterator[None]:
    progress(f"[{len(summary.stage_seconds) + 1}/5] {name} ...")
    start = time.perf_counter()
    yield
    summary.stage_seconds[name] = round(time.perf_counter() - start, 2)
    progress(f"      {name}: done in {summary.stage_seconds[name]:.1f}s")


def build_gold(silver: DataFrame) -> dict[str, DataFrame]:
    """Every gold table, from one silver DataFrame."""
    return {**revenue_tables(silver), TOP_PRODUCTS_TABLE: top_products_by_season(silver)}


def run_batch(
    spark: SparkSession,
    input_path: str,
    warehouse: str,
    database: str = "ecom",
    progress: Progress = to_stderr,
) -> BatchSummary:
    """Load one input (file, directory or glob) into the lake at `warehouse`. Idempotent."""
    try:
        return _run(spark, input_path, io.Lake.at(warehouse), database, progress)
    except Exception as exc:  # a bad file found while Spark reads it
        known = explain(exc)
        if known is None:
            raise
        raise known from None


def _run(spark: SparkSession, input_path: str, lake: io.Lake, database: str, progress: Progress) -> BatchSummary:
    summary = BatchSummary(input_path=input_path, warehouse=lake.root, database=database)
    ingested_at = F.lit(datetime.now(timezone.utc)).cast("timestamp")

    with _stage(summary, "read and clean", progress):
        parsed = io.read_raw_csv(spark, input_path).transform(parse_lines).persist(StorageLevel.MEMORY_AND_DISK)
        counts = parsed.agg(
            F.count(F.lit(1)).alias("raw"),
            F.count(F.when(F.size(REASONS_COLUMN) > 0, 1)).alias("bad"),
        ).first()
        summary.raw_rows, summary.quarantined_rows = counts["raw"], counts["bad"]
        reasons = parsed.select(F.explode(REASONS_COLUMN).alias("reason")).groupBy("reason").count().collect()
        summary.quarantine_reasons = dict(sorted((r["reason"], r["count"]) for r in reasons))
        silver_batch = (
            parsed.transform(valid_lines).transform(drop_exact_duplicates).transform(enrich)
        ).persist(StorageLevel.MEMORY_AND_DISK)
        kept = silver_batch.agg(
            F.count(F.lit(1)).alias("rows"),
            F.count(F.when(F.col("customer_id") == UNKNOWN, 1)).alias("unknown"),
        ).first()
        summary.silver_rows, summary.unknown_customer_rows = kept["rows"], kept["unknown"]
        summary.duplicates_dropped = summary.raw_rows - summary.quarantined_rows - summary.silver_rows

    with _stage(summary, "write quarantine", progress):
        summary.new_quarantined_rows = io.insert_new(
            spark, quarantined_lines(parsed, ingested_at), lake.quarantine, ["quarantine_id"]
        )

    with _stage(summary, "write silver", progress):
        summary.new_silver_rows = io.insert_new(
            spark, silver_batch, lake.silver, list(CLEAN_COLUMNS), SILVER_PARTITIONS
        )
    silver_batch.unpersist()
    parsed.unpersist()

    with _stage(summary, "build gold", progress):
        missing = [t for t in GOLD_TABLES if not io.is_delta_table(spark, lake.gold(t))]
        summary.gold_rebuilt = summary.new_silver_rows > 0 or bool(missing)
        if summary.gold_rebuilt:
            silver = spark.read.format("delta").load(lake.silver).persist(StorageLevel.MEMORY_AND_DISK)
            for name, table in build_gold(silver).items():
                summary.gold_rows[name] = io.overwrite(table, lake.gold(name))
            silver.unpersist()
        else:
            for name in GOLD_TABLES:
                summary.gold_rows[name] = spark.read.format("delta").load(lake.gold(name)).count()

    with _stage(summary, "register tables", progress):
        io.register_tables(spark, database, lake)
        summary.tables = lake.tables()
    return summary
