"""Records -> silver and quarantine: how a batch run and a micro-batch load lines.

Both clean with the same rules (cleaning.parse_lines), keep each exact duplicate once, insert the
lines silver does not hold yet and put every other line in the quarantine. They differ in how they
avoid parsing a line twice:

- a batch run (`load_files`) streams its files through one pass that parses, de-duplicates and
  writes silver; only when that pass saw quarantined lines are the files holding them read again
  for the quarantine (no staging of every line: most runs quarantine few lines or none). A run into
  a silver that holds lines first finds the partitions its lines fall in from their dates alone,
  so that the insert reads only those partitions;
- a micro-batch (`load_records`) is small: its parsed lines are cached for its writes.

The counts are measured where each thing happens and not derived from one another: records as
they are parsed, copies of each line as duplicates are removed, the quarantined lines and their
reasons as they enter the quarantine, and the rows each insert read and wrote from Delta's commit.
A load whose counts do not add up says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import partial
from typing import Protocol

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from ecom_etl.core.cleaning import (
    COPIES,
    REASON_BITS,
    REASONS_COLUMN,
    clean_lines,
    distinct_lines,
    normalize_blank,
    parse_lines,
    parse_timestamp,
    quarantined_lines,
)
from ecom_etl.core.contract import REASONS
from ecom_etl.core.enrichment import enrich
from ecom_etl.core.schema import (
    CLEAN_COLUMNS,
    QUARANTINE_DDL,
    RECORD_OFFSET,
    SILVER_COLUMNS,
    SILVER_PARTITIONS,
    SOURCE,
    UNKNOWN,
)
from ecom_etl.lake import delta, sources
from ecom_etl.lake.layout import Lake
from ecom_etl.progress import StageTimer
from ecom_etl.settings import Settings


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
        """The sink's reasons (reason bits) a clean line cannot be written there; 0 if it can."""

    def write(self, lines: DataFrame) -> None:
        """Write distinct silver lines that fit."""


def parsed_counts() -> list[Column]:
    """What a pass over parsed lines observes: all of them and the quarantined ones (two counts:
    an observation's aggregates are computed row by row, outside Spark's generated code)."""
    return [F.count(F.lit(1)).alias("lines"), F.count(F.when(F.col(REASON_BITS) != 0, 1)).alias("quarantined")]


def distinct_counts() -> list[Column]:
    """What the de-duplication observes: distinct lines, the extra copies, unknown customers."""
    return [
        F.count(F.lit(1)).alias("rows"),
        F.coalesce(F.sum(F.col(COPIES) - 1), F.lit(0)).alias("duplicates"),
        F.count(F.when(F.col("customer_id") == UNKNOWN, 1)).alias("unknown"),
    ]


def reason_counts() -> list[Column]:
    """Quarantined lines with each reason (a line can have several), over quarantine rows."""
    return [F.count(F.when(F.array_contains(REASONS_COLUMN, r), 1)).alias(r) for r in REASONS]


def write_silver(
    spark: SparkSession,
    lines: DataFrame,
    lake: Lake,
    partitions: list[dict] | None,
    txn: tuple[str, int] | None = None,
) -> delta.Inserted:
    """Insert the silver lines the table does not hold yet: a MERGE that reads only `partitions`
    (those the lines fall in), or an append when there is no silver table yet (`partitions` None).
    `spark` is the load's own session (delta.insert_new)."""
    rows = lines.select(*SILVER_COLUMNS)
    return delta.insert_new(spark, rows, lake.silver, CLEAN_COLUMNS, SILVER_PARTITIONS, partitions, txn)


def write_quarantine(
    spark: SparkSession, rows: DataFrame, lake: Lake, txn: tuple[str, int] | None = None
) -> delta.Inserted:
    return delta.insert_new(spark, rows, lake.quarantine, ["quarantine_id"], txn=txn)


def ensure_quarantine(spark: SparkSession, lake: Lake) -> None:
    """An empty quarantine table where there is none, without reading anything."""
    if not delta.exists(spark, lake.quarantine):
        delta.create_empty(spark, QUARANTINE_DDL, lake.quarantine)


def _observed(result: LoadResult, parsed: dict, kept: dict, silver: delta.Inserted) -> None:
    result.raw_rows, result.quarantined_rows = parsed["lines"], parsed["quarantined"]
    result.silver_rows, result.duplicates_dropped = kept["rows"], kept["duplicates"]
    result.unknown_customer_rows = kept["unknown"]
    result.new_silver_rows, result.silver_source_rows = silver.inserted, silver.source_rows


def _quarantined(result: LoadResult, reasons: dict, written: delta.Inserted) -> None:
    result.quarantine_reasons = {r: reasons[r] for r in REASONS if reasons.get(r)}
    result.new_quarantined_rows, result.quarantine_source_rows = written.inserted, written.source_rows


# ---------------------------------------------------------------------------------------- batch


def load_files(
    spark: SparkSession,
    settings: Settings,
    lake: Lake,
    files: list[sources.InputFile],
    ingested_at: datetime,
    stage: StageTimer,
    shuffle_partitions: int,
) -> LoadResult:
    """Load CSV files and stream archives into silver and quarantine (see the module's docstring),
    in a session of the load's own (load_session)."""
    spark = load_session(spark, shuffle_partitions)
    result = LoadResult()
    reader = sources.Reader(spark, settings, stage.note)
    partitions = None
    if delta.exists(spark, lake.silver):
        with stage("find silver partitions"):
            partitions = reader.run(files, silver_partitions)
    else:
        stage.skip("find silver partitions", "no silver table yet: the lines are appended")
    bucket = bucket_bytes(files)

    def silver_pass(records: DataFrame) -> tuple[dict, dict, delta.Inserted]:
        parsed, kept = Observation(), Observation()
        lines = records.transform(parse_lines).observe(parsed, *parsed_counts(), *bad_places(bucket))
        distinct = lines.transform(clean_lines).transform(distinct_lines).observe(kept, *distinct_counts())
        inserted = write_silver(spark, distinct.transform(enrich), lake, partitions)
        return parsed.get, kept.get, inserted

    with stage("parse, clean and write silver"):
        parsed, kept, inserted = reader.run(files, silver_pass)
    _observed(result, parsed, kept, inserted)
    with stage("write quarantine"):
        if result.quarantined_rows:
            again, ranges = quarantine_ranges(files, parsed, bucket, reader.whole)
            size = sum(end - start for _, start, end in ranges) + sum(f.info.size for f in again if f.is_archive)
            stage.note(f"{result.quarantined_rows:,} line(s) to quarantine: reading {size / 2**20:,.1f} MB again")
            quarantine = partial(_quarantine_pass, spark, lake, ingested_at)
            reasons, written = reader.run(again, quarantine, ranges)
            _quarantined(result, reasons, written)
        else:
            ensure_quarantine(spark, lake)
    return result


SHUFFLE_PARTITIONS = "spark.sql.shuffle.partitions"
EXCLUDED_RULES = "spark.sql.adaptive.optimizer.excludedRules"
EMPTY_RELATION_RULE = "org.apache.spark.sql.execution.adaptive.AQEPropagateEmptyRelation"


def load_session(spark: SparkSession, shuffle_partitions: int) -> SparkSession:
    """A session for one batch load alone (delta.own_session), with `shuffle_partitions` and
    without the adaptive rule that cuts a plan short where a stage turns out empty: that drops the
    observations after it, and a run whose every line is quarantined (no clean line to
    de-duplicate) would wait for its counts forever."""
    own = delta.own_session(spark)
    own.conf.set(SHUFFLE_PARTITIONS, str(shuffle_partitions))
    own.conf.set(EXCLUDED_RULES, ",".join(filter(None, (own.conf.get(EXCLUDED_RULES, None), EMPTY_RELATION_RULE))))
    return own


def bucket_bytes(files: list[sources.InputFile]) -> int:
    """The stretch of a file a second pass reads around each quarantined line: 4 KB, or more where
    the input is so large that the stretches would be more than 100,000."""
    return max(4096, -(-sum(f.info.size for f in files) // 100_000))


def bad_places(bucket: int) -> list[Column]:
    """Where the silver pass saw quarantined lines, for the quarantine's pass to read them again:
    (file, stretch of `bucket` bytes) where a line starts, (file, -1) where it spans lines and
    (null, null) for an archive's; and the files with a record over several lines, which only a
    read from their start can split into records. JSON: an observation gives arrays back as Java
    objects."""
    offset = F.col(RECORD_OFFSET)
    stretch = F.when(offset >= 0, F.floor(offset / bucket)).when(offset < 0, F.lit(-1))
    place = F.struct(F.when(offset.isNotNull(), F.col(SOURCE)).alias("uri"), stretch.alias("stretch"))
    return [
        F.to_json(F.collect_set(F.when(F.col(REASON_BITS) != 0, place))).alias("bad_places"),
        F.to_json(F.collect_set(F.when(offset < 0, F.col(SOURCE)))).alias("multiline"),
    ]


def quarantine_ranges(
    files: list[sources.InputFile], seen: dict, bucket: int, whole: frozenset[str]
) -> tuple[list[sources.InputFile], list[sources.Range]]:
    """The files and byte ranges that hold every quarantined line the silver pass saw: stretches of
    plain files whose every record is on one line (a piece then starts at a record's start), whole
    files otherwise (gzip, a record over several lines), every archive if one had any."""
    stretches: dict[str | None, set[int | None]] = {}
    for place in json.loads(seen["bad_places"]):
        stretches.setdefault(place.get("uri"), set()).add(place.get("stretch"))
    multiline = set(json.loads(seen["multiline"])) | whole
    again, ranges = [], []
    for f in files:
        if f.is_archive:
            if None in stretches:
                again.append(f)
            continue
        if f.uri not in stretches:
            continue
        again.append(f)
        if f.gzip or f.uri in multiline:
            ranges.append((f, 0, f.info.size))
            continue
        for number in sorted(stretches[f.uri]):
            start, end = number * bucket, min((number + 1) * bucket, f.info.size)
            if ranges and ranges[-1][0] is f and ranges[-1][2] == start:
                ranges[-1] = (f, ranges[-1][1], end)  # one range for neighbouring stretches
            else:
                ranges.append((f, start, end))
    return again, ranges


def silver_partitions(records: DataFrame) -> list[dict]:
    """The silver partitions (year, month) the records' dates fall in, from their dates alone: a
    superset of those of their clean lines, found without cleaning them."""
    ts = parse_timestamp(normalize_blank(F.col("raw_invoice_ts")))
    rows = records.select(F.year(ts).alias("year"), F.month(ts).alias("month")).where("year IS NOT NULL").distinct()
    return [r.asDict() for r in rows.collect()]


def _quarantine_pass(
    spark: SparkSession, lake: Lake, ingested_at: datetime, records: DataFrame
) -> tuple[dict, delta.Inserted]:
    counted, reasons = Observation(), Observation()
    lines = records.transform(parse_lines).observe(counted, F.count(F.lit(1)))  # keeps the filter above the parse
    rows = quarantined_lines(lines, F.lit(ingested_at).cast("timestamp")).observe(reasons, *reason_counts())
    written = write_quarantine(spark, rows, lake)
    return reasons.get, written


# ---------------------------------------------------------------------------------- micro-batch


def load_records(
    spark: SparkSession,
    records: DataFrame,
    lake: Lake,
    ingested_at: datetime,
    txn: tuple[str, int] | None = None,
    side_sink: SideSink | None = None,
    stage: StageTimer | None = None,
) -> LoadResult:
    """Load a micro-batch's records (RECORD_COLUMNS) into silver and quarantine (and the side sink).

    `txn` = (application id, batch id) makes both inserts skip a batch committed before. The inserts
    run in a session of the micro-batch's own (delta.own_session: their commits' settings are set
    there), the records' session stays as it is.
    """
    stage = stage or StageTimer()
    result = LoadResult()
    writes = delta.own_session(spark)
    with _cached(records.transform(parse_lines), stage, "parse and clean") as lines:
        counts = lines.agg(*parsed_counts()).first().asDict()
        with _cached(lines.transform(clean_lines).transform(distinct_lines), stage, "deduplicate") as distinct:
            kept = distinct.agg(*distinct_counts()).first().asDict()
            silver_lines = distinct.transform(enrich)
            with ThreadPoolExecutor(1) as pool:
                side = None
                rejected = None
                if side_sink is not None:
                    fits = silver_lines.where(side_sink.rejects() == 0).select(*SILVER_COLUMNS)
                    side = pool.submit(_timed, stage, "side sink", side_sink.write, fits)
                    rejected = _rejected(lines, side_sink.rejects())
                with stage("write silver"):
                    partitions = [r.asDict() for r in silver_lines.select(*SILVER_PARTITIONS).distinct().collect()]
                    inserted = write_silver(writes, silver_lines, lake, partitions, txn)
                _observed(result, counts, kept, inserted)
                bad = lines.where(F.col(REASON_BITS) != 0)
                if rejected is not None:
                    result.sink_rejected_rows = rejected.count()
                    bad = bad.unionByName(rejected)
                if result.quarantined_rows or result.sink_rejected_rows:
                    with stage("write quarantine"):
                        rows = quarantined_lines(bad, F.lit(ingested_at).cast("timestamp"))
                        reasons = rows.agg(*reason_counts()).first().asDict()
                        _quarantined(result, reasons, write_quarantine(writes, rows, lake, txn))
                else:
                    ensure_quarantine(writes, lake)
                    stage.skip("write quarantine", "no line to quarantine")
                if side is not None:
                    side.result()
    return result


def _rejected(lines: DataFrame, rejects: Column) -> DataFrame:
    """The clean lines (every copy, as read) that the side sink cannot hold, with its reasons."""
    clean = lines.where(F.col(REASON_BITS) == 0)
    return clean.withColumn(REASON_BITS, rejects).where(F.col(REASON_BITS) != 0)


@contextmanager
def _cached(frame: DataFrame, stage: StageTimer, name: str) -> Iterator[DataFrame]:
    frame.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with stage(name):
            frame.count()
        yield frame
    finally:
        frame.unpersist()


def _timed(stage: StageTimer, name: str, call: Callable[..., object], *args: object) -> None:
    with stage(name):
        call(*args)
