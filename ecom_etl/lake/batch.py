"""The batch job: the raw files not loaded yet -> quarantine + silver -> gold, with a summary whose
counts reconcile or say why not."""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from ecom_etl.errors import explain
from ecom_etl.lake import catalog, delta, ingestion, quality, sources
from ecom_etl.lake.gold import refresh_gold
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.load import SHUFFLE_PARTITIONS, LoadResult, load_files
from ecom_etl.lake.storage import FileInfo, Storage
from ecom_etl.progress import Progress, StageTimer, to_stderr
from ecom_etl.settings import Settings

SPLIT_BYTES = 128 * 1024 * 1024
SHUFFLE_PER_SPLIT = 2
GZIP_RATIO = 8  # a gzipped CSV holds about this many times its size


@dataclass
class BatchSummary(LoadResult):
    """What one run did: LoadResult's measured counts, plus the files, gold and catalog."""

    input_path: str = ""
    warehouse: str = ""
    database: str = ""
    run_at: str = ""  # start of the run, UTC ISO 8601
    files_new: int = 0
    files_skipped: int = 0  # loaded by an earlier run and unchanged
    silver_version: int | None = None
    gold_rebuilt: list[str] = field(default_factory=list)
    gold_rows: dict[str, int] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    registered: list[str] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    run_seconds: float = 0.0
    gate: dict = field(default_factory=dict)  # the thresholds the run was held to (quality.Gate)
    gate_breaches: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return self.mismatches()

    @property
    def reconciles(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {**asdict(self), "reconciles": self.reconciles, "problems": self.problems}

    @property
    def exit_code(self) -> int:
        """0, 1 when the counts do not reconcile, quality.GATE_EXIT when the run is over the gate."""
        return 1 if not self.reconciles else quality.GATE_EXIT if self.gate_breaches else 0


def run_batch(
    spark: SparkSession,
    settings: Settings,
    input_path: str,
    warehouse: str,
    database: str = "ecom",
    progress: Progress = to_stderr,
    full_refresh: bool = False,
    register: bool = True,
    gate: quality.Gate = quality.NO_GATE,
    metrics_job: str | None = None,
) -> BatchSummary:
    """Load an input (file, directory or glob; local or s3://) into the lake at `warehouse`.
    Only files not loaded before are read; rerunning the same input writes nothing. The run is
    held to `gate` (its breaches are in the summary: what it wrote stays, the caller fails the run)
    and, with `metrics_job`, publishes its counts as that job's CloudWatch metrics. The run works in
    a session of its own (delta.own_session), so that runs in one driver at once set nothing on
    each other's; other runs may write the same lake meanwhile (docs/data-contract.md)."""
    lake = Lake.at(warehouse)
    try:
        with delta.active_kept(spark):
            run = delta.own_session(spark)
            return _run(run, settings, input_path, lake, database, progress, full_refresh, register, gate, metrics_job)
    except Exception as exc:  # a bad file found while Spark reads it, a lake it cannot write
        known = explain(exc, reading=input_path, writing=lake.root)
        if known is None:
            raise
        raise known from None


def _run(
    spark: SparkSession,
    settings: Settings,
    input_path: str,
    lake: Lake,
    database: str,
    progress: Progress,
    full_refresh: bool,
    register: bool,
    gate: quality.Gate,
    metrics_job: str | None,
) -> BatchSummary:
    storage = Storage(settings)
    stage = StageTimer(progress, total=6)
    started = datetime.now(UTC)
    summary = BatchSummary(
        input_path=input_path,
        warehouse=lake.root,
        database=database,
        run_at=started.isoformat(timespec="seconds"),
        stage_seconds=stage.seconds,
        gate=gate.to_dict(),
    )
    with stage("find new input files"):
        files = sources.find_input(storage, input_path)
        new = ingestion.pending(spark, lake, files, full_refresh)
        summary.files_new, summary.files_skipped = len(new), len(files) - len(new)
        progress(f"      {len(new):,} new file(s), {len(files) - len(new):,} loaded before")
    inputs = sources.inspect(storage, new)
    storage.check_writable(lake.root)
    with_lines = [f for f in inputs if f.has_lines]
    if with_lines:
        partitions = shuffle_partitions(int(spark.conf.get(SHUFFLE_PARTITIONS)), [f.info for f in with_lines])
        loaded = load_files(spark, settings, lake, with_lines, started, stage, partitions)
        for f in fields(LoadResult):
            setattr(summary, f.name, getattr(loaded, f.name))
    else:
        why = "no data line in the new files" if new else "no new input"
        for name in ("find silver partitions", "parse, clean and write silver", "write quarantine"):
            stage.skip(name, why)
    if new and summary.reconciles:
        ingestion.remember(spark, lake, new, started)
    with stage("refresh gold"):
        gold = refresh_gold(spark, lake)
        summary.silver_version, summary.gold_rebuilt, summary.gold_rows = gold.silver_version, gold.rebuilt, gold.rows
    summary.tables = lake.tables()
    if register:
        with stage("register tables"):
            summary.registered = catalog.register_tables(spark, settings, database, lake)
    else:
        stage.skip("register tables", "no catalog (no AWS endpoint)")
    summary.gate_breaches = gate.breaches(summary, files=sum(1 for f in inputs if f.info.size))
    summary.run_seconds = round((datetime.now(UTC) - started).total_seconds(), 2)
    if metrics_job:
        data = quality.metric_data(metrics_job, summary, summary.run_seconds, summary.gate_breaches, started)
        quality.publish(settings, data, progress)
    # Every run leaves its summary in the lake (the dashboard's data-quality panel reads it), under
    # a name of its own that sorts by start time: runs may start at once.
    name = f"batch-{started:%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex[:8]}.json"
    storage.write_text(f"{lake.runs}/{name}", json.dumps(summary.to_dict(), indent=2))
    return summary


def shuffle_partitions(floor: int, files: list[FileInfo]) -> int:
    """At least SHUFFLE_PER_SPLIT shuffle partitions per 128 MB of input text, and at least `floor`
    (the session's setting); AQE coalesces what turns out small."""
    text_bytes = sum(f.size * (GZIP_RATIO if f.uri.endswith(".gz") else 1) for f in files)
    return max(floor, SHUFFLE_PER_SPLIT * math.ceil(text_bytes / SPLIT_BYTES))
