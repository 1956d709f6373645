"""Records -> silver and quarantine: the one code path of a batch run and of every micro-batch.

parse -> route -> deduplicate -> write silver -> write quarantine, with a side sink (the stream's
DynamoDB tables) beside the silver write. Every record is parsed once: the parsed lines are
materialized (staged as a Delta table for a batch run, cached for a micro-batch, see `materialize.py`)
and each table's write reads them from there.

The counts are measured where each thing happens and not derived from one another: records and
their reasons as they are parsed, copies of each line as duplicates are removed, and the rows each
insert read and wrote from Delta's commit. A load whose counts do not add up says so.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Protocol

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from ecom_etl import delta
from ecom_etl.cleaning import REASONS_COLUMN, line_counts, parse_lines, quarantined_lines
from ecom_etl.contract import REASONS
from ecom_etl.enrichment import derived_columns
from ecom_etl.lake import Lake
from ecom_etl.materialize import Materializer
from ecom_etl.progress import StageTimer
from ecom_etl.schema import CLEAN_COLUMNS, SILVER_COLUMNS, SILVER_PARTITIONS, UNKNOWN

COPIES = "_copies"


@dataclass
class LoadResult:
    """What one load measured. `*_source_rows` are Delta's count of the rows a commit read (None
    when nothing was committed: nothing new, or a replay that was skipped)."""

    raw_rows: int = 0
    quarantined_rows: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    duplicates_dropped: int = 0
    silver_rows: int = 0  # distinct clean lines of this input, those already in silver included
    unknown_customer_rows: int = 0
    sink_rejected_rows: int = 0  # clean lines a side sink cannot hold: in silver and quarantined
    new_silver_rows: int = 0
    new_quarantined_rows: int = 0
    silver_source_rows: int | None = None
    quarantine_source_rows: int | None = None

    def mismatches(self) -> list[str]:
        """Every way the independent counts disagree; empty when the load reconciles."""
        found = []
        if self.raw_rows != self.silver_rows + self.duplicates_dropped + self.quarantined_rows:
            found.append(
                f"read {self.raw_rows:,} != kept {self.silver_rows:,} + duplicates "
                f"{self.duplicates_dropped:,} + quarantined {self.quarantined_rows:,}"
            )
        if self.silver_source_rows is not None and self.silver_source_rows != self.silver_rows:
            found.append(f"silver's commit read {self.silver_source_rows:,} lines, {self.silver_rows:,} were kept")
        quarantined = self.quarantined_rows + self.sink_rejected_rows
        if self.quarantine_source_rows is not None and self.quarantine_source_rows != quarantined:
            found.append(
                f"quarantine's commit read {self.quarantine_source_rows:,} rows, {quarantined:,} were quarantined"
            )
        return found

    def to_dict(self) -> dict:
        return asdict(self)


class SideSink(Protocol):
    """Another store fed with the distinct clean lines (the stream's DynamoDB tables)."""

    def rejects(self) -> Column:
        """The sink's reasons (array<string>) a clean line cannot be written there; empty if it can."""

    def write(self, lines: DataFrame) -> None:
        """Write distinct silver lines that fit."""


def parse(records: DataFrame) -> DataFrame:
    """Records -> their cleaned and derived columns, `reasons`, and the raw columns."""
    return records.transform(parse_lines).select("*", *derived_columns())


def route(lines: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(clean lines, quarantined lines)."""
    reasons = F.size(REASONS_COLUMN)
    return lines.where(reasons == 0), lines.where(reasons > 0)


def deduplicate(clean: DataFrame) -> DataFrame:
    """One row per exact duplicate group (equal on the eight cleaned fields, hence on all silver
    columns), with the number of copies the input held in `_copies`."""
    return clean.groupBy(*SILVER_COLUMNS).agg(F.count(F.lit(1)).alias(COPIES))


def distinct_counts() -> list[Column]:
    return [
        F.count(F.lit(1)).alias("rows"),
        F.coalesce(F.sum(F.col(COPIES) - 1), F.lit(0)).alias("duplicates"),
        F.count(F.when(F.col("customer_id") == UNKNOWN, 1)).alias("unknown"),
    ]


def write_silver(spark: SparkSession, distinct: DataFrame, lake: Lake, partitions: list[dict]) -> delta.Inserted:
    """Insert the lines silver does not hold yet, MERGE-ing only the partitions they fall in."""
    rows = distinct.select(*SILVER_COLUMNS)
    return delta.insert_new(spark, rows, lake.silver, CLEAN_COLUMNS, SILVER_PARTITIONS, partitions)


def write_quarantine(spark: SparkSession, bad: DataFrame, lake: Lake, ingested_at: datetime) -> delta.Inserted:
    rows = quarantined_lines(bad, F.lit(ingested_at).cast("timestamp"))
    return delta.insert_new(spark, rows, lake.quarantine, ["quarantine_id"])


def partitions_of(clean: DataFrame) -> list[dict]:
    """The silver partitions the clean lines fall in (read from the materialized lines)."""
    return [r.asDict() for r in clean.select(*SILVER_PARTITIONS).distinct().collect()]


def load(
    spark: SparkSession,
    records: DataFrame,
    lake: Lake,
    ingested_at: datetime,
    materializer: Materializer,
    txn: tuple[str, int] | None = None,
    side_sink: SideSink | None = None,
    stage: StageTimer | None = None,
) -> LoadResult:
    """Load records (RECORD_COLUMNS) into silver and quarantine (and the side sink).

    `txn` = (application id, batch id) makes both inserts skip a batch committed before.
    """
    stage = stage or StageTimer()
    observed, parsed_counts = materializer.counter(parse(records), line_counts())
    with materializer.lines(observed, stage) as lines:
        result = _measured_parse(parsed_counts())
        clean, bad = route(lines)
        rejected = None
        if side_sink is not None:
            rejected = clean.withColumn(REASONS_COLUMN, side_sink.rejects()).where(F.size(REASONS_COLUMN) > 0)
        observed_distinct, copies = materializer.counter(deduplicate(clean), distinct_counts())
        with (
            materializer.distinct(observed_distinct) as distinct,
            ThreadPoolExecutor(1) as pool,
            delta.idempotent_writes(spark, txn),
        ):
            side = None
            if side_sink is not None:
                fits = distinct.where(F.size(side_sink.rejects()) == 0).select(*SILVER_COLUMNS)
                side = pool.submit(_timed, stage, "side sink", side_sink.write, fits)
            with stage("write silver"):
                silver = write_silver(spark, distinct, lake, partitions_of(clean))
            _measured_silver(result, copies(), silver)
            if rejected is not None:
                result.sink_rejected_rows = rejected.count()
                bad = bad.unionByName(rejected)
            if result.quarantined_rows or result.sink_rejected_rows or not delta.exists(spark, lake.quarantine):
                with stage("write quarantine"):
                    written = write_quarantine(spark, bad, lake, ingested_at)
                result.new_quarantined_rows, result.quarantine_source_rows = written.inserted, written.source_rows
            else:
                stage.skip("write quarantine", "no line to quarantine")
            if side is not None:
                side.result()
    return result


def _measured_parse(counts: dict[str, int]) -> LoadResult:
    return LoadResult(
        raw_rows=counts["lines"],
        quarantined_rows=counts["quarantined"],
        quarantine_reasons={r: counts[r] for r in REASONS if counts.get(r)},
    )


def _measured_silver(result: LoadResult, kept: dict[str, int], silver: delta.Inserted) -> None:
    result.silver_rows, result.duplicates_dropped = kept["rows"], kept["duplicates"]
    result.unknown_customer_rows = kept["unknown"]
    result.new_silver_rows, result.silver_source_rows = silver.inserted, silver.source_rows


def _timed(stage: StageTimer, name: str, call: Callable[..., object], *args: object) -> None:
    with stage(name):
        call(*args)
