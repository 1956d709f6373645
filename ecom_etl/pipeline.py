"""The batch job: raw CSV -> quarantine + silver (inserted once) -> gold, with a reconciling summary."""

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from ecom_etl import io
from ecom_etl.aggregates import PERIOD_KEYS, invoice_totals, revenue_tables, top_products_by_season
from ecom_etl.cleaning import (
    REASONS,
    drop_exact_duplicates,
    line_counts,
    parse_lines,
    quarantined_lines,
    valid_lines,
)
from ecom_etl.enrichment import enrich
from ecom_etl.errors import explain
from ecom_etl.schema import CLEAN_COLUMNS, GOLD_TABLES, SILVER_PARTITIONS, TOP_PRODUCTS_TABLE, UNKNOWN

Progress = Callable[[str], None]
SHUFFLE_PER_SPLIT = 2


def to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class BatchSummary:
    """What one run did. raw_rows = silver_rows + duplicates_dropped + quarantined_rows, always."""

    input_path: str
    warehouse: str
    database: str
    run_at: str = ""  # start of the run, UTC ISO 8601
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


class StageTimer:
    """Times named stages into `seconds`; with `progress`, reports each as it starts and ends."""

    def __init__(self, progress: Progress | None = None, total: int | None = None) -> None:
        self.seconds: dict[str, float] = {}
        self.progress = progress
        self.total = total

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.progress:
            of = f"/{self.total}" if self.total else ""
            self.progress(f"[{len(self.seconds) + 1}{of}] {name} ...")
        start = time.perf_counter()
        yield
        self.seconds[name] = round(time.perf_counter() - start, 2)
        if self.progress:
            self.progress(f"      {name}: done in {self.seconds[name]:.1f}s")


def build_gold(silver: DataFrame, totals: DataFrame) -> dict[str, DataFrame]:
    """Every gold table, from silver and its `invoice_totals(*PERIOD_KEYS)`."""
    return {**revenue_tables(totals), TOP_PRODUCTS_TABLE: top_products_by_season(silver)}


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


@dataclass
class LoadResult:
    """What loading one set of raw lines into silver and quarantine did."""

    raw_rows: int
    quarantined_rows: int
    quarantine_reasons: dict[str, int]
    silver_rows: int
    unknown_customer_rows: int
    new_silver_rows: int
    new_quarantined_rows: int


@contextmanager
def _computed_once(frame: DataFrame, stage: Callable[[str], AbstractContextManager]) -> Iterator[None]:
    """A micro-batch's clean lines, computed once and kept in memory for the block: with other
    sinks they have three readers at once (the MERGE's partition filter, the MERGE, the other
    sinks). End to end at 1,000 records/s this took the p95 latency from 16.8 to 14.1 s."""
    frame.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        with stage("clean"):
            frame.count()
        yield
    finally:
        frame.unpersist()


def clean_and_load(
    spark: SparkSession,
    raw: DataFrame,
    lake: io.Lake,
    ingested_at: datetime,
    txn: tuple[str, int] | None = None,
    on_silver: Callable[[DataFrame], None] | None = None,
    stage: Callable[[str], AbstractContextManager] | None = None,
) -> LoadResult:
    """Clean raw lines (RAW_INPUT_COLUMNS) and insert them into silver and quarantine: the one
    code path of the batch job and of every streaming micro-batch.

    `txn` = (application id, batch id) makes both inserts skip a batch that was committed before;
    `on_silver` receives this input's distinct clean lines (e.g. for the DynamoDB sink), while the
    Delta inserts run; `stage` (a StageTimer) times the steps.

    A batch run caches nothing: each insert parses `raw` itself. At 10x, filling a disk cache of the
    parsed lines cost as much as parsing them (14 s), and re-parsing the CSV was faster than reading
    that cache back. The counts are observed while silver is written, not taken by actions of their
    own. Only with `on_silver` (a micro-batch) are the clean lines cached, see `_computed_once`.
    """
    stage = stage or StageTimer()
    parsed = raw.transform(parse_lines)
    # Each pass observes the parsed lines before it filters them on `reasons`. The silver pass's
    # observation gives the counts; in both, an observation keeps the optimizer from pushing the
    # filter below the parse, which made Spark parse every line twice (SPARK-47672): at 10x the
    # silver pass's parse took 34 s without it and 11 s with it.
    lines, kept = Observation("lines"), Observation("kept")
    silver_batch = parsed.observe(lines, *line_counts()).transform(valid_lines).transform(drop_exact_duplicates)
    silver_batch = silver_batch.transform(enrich)
    counted = silver_batch.observe(
        kept, F.count(F.lit(1)).alias("rows"), F.count(F.when(F.col("customer_id") == UNKNOWN, 1)).alias("unknown")
    )

    def other_sinks() -> None:
        with stage("other sinks"):
            on_silver(silver_batch)

    shared = _computed_once(silver_batch, stage) if on_silver is not None else nullcontext()
    with io.idempotent_writes(spark, txn), ThreadPoolExecutor(max_workers=1) as pool, shared:
        others = pool.submit(other_sinks) if on_silver is not None else None
        with stage("clean and write silver"):
            # insert_new always runs an action over `counted` (a write, or the MERGE's partition
            # filter), so both observations are filled even when the insert itself is skipped.
            new_silver = io.insert_new(spark, counted, lake.silver, list(CLEAN_COLUMNS), SILVER_PARTITIONS)
        counts, kept_counts = lines.get, kept.get
        new_quarantined = 0
        if counts["quarantined"] or not io.is_delta_table(spark, lake.quarantine):
            with stage("write quarantine"):
                once = parsed.observe(Observation("quarantine pass"), F.count(F.lit(1)).alias("lines"))
                bad = quarantined_lines(once, F.lit(ingested_at).cast("timestamp"))
                new_quarantined = io.insert_new(spark, bad, lake.quarantine, ["quarantine_id"])
        if others is not None:
            others.result()
    return LoadResult(
        raw_rows=counts["lines"],
        quarantined_rows=counts["quarantined"],
        quarantine_reasons={r: counts[r] for r in REASONS if counts[r]},
        silver_rows=kept_counts["rows"],
        unknown_customer_rows=kept_counts["unknown"],
        new_silver_rows=new_silver,
        new_quarantined_rows=new_quarantined,
    )


def refresh_gold(spark: SparkSession, lake: io.Lake) -> dict[str, int]:
    """Rebuild every gold table from the whole silver table; rows written per table.

    Silver itself is not cached: each scan reads only the Parquet columns it needs, faster than
    filling a cache of every column (19 s of 36 at 10x). The invoice totals, a few rows per invoice
    that all four revenue tables start from, are.
    """
    silver = spark.read.format("delta").load(lake.silver)
    totals = silver.transform(invoice_totals(*PERIOD_KEYS)).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return {name: io.overwrite(table, lake.gold(name)) for name, table in build_gold(silver, totals).items()}
    finally:
        totals.unpersist()


@contextmanager
def shuffle_sized_for(spark: SparkSession, raw: DataFrame) -> Iterator[None]:
    """Within the block, at least SHUFFLE_PER_SPLIT shuffle partitions per split of the input scan
    (128 MB of CSV); the session's setting stays the floor, and AQE coalesces what turns out small.

    At 100x, de-duplicating 54 M lines into the 8 partitions that suit a laptop's tests spilled:
    reading and cleaning took 16x the time of 10x. With 64 partitions the whole job took 617 s
    instead of 1,107 s.
    """
    key = "spark.sql.shuffle.partitions"
    floor = int(spark.conf.get(key))
    wanted = SHUFFLE_PER_SPLIT * raw.rdd.getNumPartitions()
    if wanted <= floor:
        yield
        return
    spark.conf.set(key, str(wanted))
    try:
        yield
    finally:
        spark.conf.set(key, str(floor))


def _run(spark: SparkSession, input_path: str, lake: io.Lake, database: str, progress: Progress) -> BatchSummary:
    stage = StageTimer(progress, total=4)
    started = datetime.now(timezone.utc)
    raw = io.read_raw_csv(spark, input_path)
    with shuffle_sized_for(spark, raw):
        loaded = clean_and_load(spark, raw, lake, started, stage=stage)
        summary = BatchSummary(
            input_path=input_path,
            warehouse=lake.root,
            database=database,
            run_at=started.isoformat(timespec="seconds"),
            duplicates_dropped=loaded.raw_rows - loaded.quarantined_rows - loaded.silver_rows,
            stage_seconds=stage.seconds,
            **asdict(loaded),
        )

        with stage("build gold"):
            missing = [t for t in GOLD_TABLES if not io.is_delta_table(spark, lake.gold(t))]
            summary.gold_rebuilt = summary.new_silver_rows > 0 or bool(missing)
            if summary.gold_rebuilt:
                summary.gold_rows = refresh_gold(spark, lake)
            else:
                for name in GOLD_TABLES:
                    summary.gold_rows[name] = spark.read.format("delta").load(lake.gold(name)).count()

    with stage("register tables"):
        io.register_tables(spark, database, lake)
        summary.tables = lake.tables()
    # Every run leaves its reconciliation in the lake (the dashboard's data-quality panel reads it).
    io.write_text(f"{lake.runs}/batch-{started:%Y%m%dT%H%M%S%fZ}.json", json.dumps(summary.to_dict(), indent=2, default=str))
    return summary
