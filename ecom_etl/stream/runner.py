"""The stream job: micro-batches from a driver, each through process_batch, gold kept up to date."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession

from ecom_etl.lake import quality
from ecom_etl.lake.gold import refresh_gold
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.load import LoadResult
from ecom_etl.lake.storage import Storage
from ecom_etl.progress import Progress, StageTimer
from ecom_etl.settings import Settings
from ecom_etl.stream.drivers import StreamDriver, local_driver
from ecom_etl.stream.process import process_batch
from ecom_etl.stream.stream_identity import bind

DEFAULT_GOLD_SECONDS = 300.0


@dataclass
class MicroBatchHandler:
    """process_batch with a progress line per batch, and a gold refresh at most every
    `gold_seconds` once silver has changed (and when the job stops): streamed lines reach gold
    without a batch run. The first refresh is due whatever happened: it also heals what a job that
    died before its refresh left behind. Each batch is held to `gate` and, with `metrics_job`,
    publishes its counts: a breach is a metric and a line, and the job goes on."""

    spark: SparkSession
    settings: Settings
    lake: Lake
    app_id: str
    progress: Progress
    gold_seconds: float = DEFAULT_GOLD_SECONDS
    gate: quality.Gate = quality.NO_GATE
    metrics_job: str | None = None
    _changed: bool = True  # a job that died after a silver commit may have left gold behind
    _refreshed: float = field(default_factory=time.monotonic)

    def __call__(self, payloads: DataFrame, batch_id: int) -> LoadResult:
        at, started, timer = datetime.now(UTC), time.perf_counter(), StageTimer()
        result = process_batch(self.spark, payloads, batch_id, self.lake, self.settings, self.app_id, timer)
        seconds = time.perf_counter() - started
        stages = ", ".join(f"{k} {v:.1f}" for k, v in timer.seconds.items())
        problems = "; ".join(result.mismatches())
        breaches = self.gate.breaches(result)
        self.progress(
            f"batch {batch_id}: {result.raw_rows:,} records, {result.new_silver_rows:,} new lines, "
            f"{result.quarantined_rows + result.sink_rejected_rows:,} quarantined, "
            f"{seconds:.1f}s ({stages})"
            + (f"; COUNTS DO NOT ADD UP: {problems}" if problems else "")
            + (f"; {quality.gate_message(breaches)}" if breaches else "")
        )
        if self.metrics_job:
            data = quality.metric_data(self.metrics_job, result, seconds, breaches, at)
            quality.publish(self.settings, data, self.progress)
        self._changed = self._changed or result.new_silver_rows > 0
        if self._changed and time.monotonic() - self._refreshed >= self.gold_seconds:
            self.refresh_gold()
        return result

    def refresh_gold(self) -> None:
        if self._changed:
            state = refresh_gold(self.spark, self.lake)
            self.progress(f"gold: {len(state.rebuilt)} table(s) rebuilt at silver version {state.silver_version}")
        self._changed, self._refreshed = False, time.monotonic()


def run_stream(
    spark: SparkSession,
    settings: Settings,
    lake: Lake,
    checkpoint: str,
    trigger_seconds: float = 5.0,
    max_records: int = 10_000,
    stop_when_idle: bool = False,
    progress: Progress = print,
    gold_seconds: float = DEFAULT_GOLD_SECONDS,
    reset_checkpoint: bool = False,
    driver: StreamDriver | None = None,
    stopped: threading.Event | None = None,
    gate: quality.Gate = quality.NO_GATE,
    metrics_job: str | None = None,
) -> int:
    """Process micro-batches until interrupted (or, with stop_when_idle, caught up). Returns batches run."""
    storage = Storage(settings)
    identity = bind(settings, storage, checkpoint, reset=reset_checkpoint)
    handler = MicroBatchHandler(spark, settings, lake, identity.app_id, progress, gold_seconds, gate, metrics_job)
    driver = driver or local_driver(spark, settings, storage, checkpoint, trigger_seconds, max_records)
    done = driver.run(handler, stop_when_idle, stopped)
    handler.refresh_gold()
    return done
