"""The streaming job run locally: the Kinesis source adapter feeding process_batch."""

import time
from dataclasses import asdict

from pyspark.sql import SparkSession

from ecom_etl.aws import Names
from ecom_etl.io import Lake
from ecom_etl.pipeline import StageTimer
from ecom_etl.stream.kinesis_source import Checkpoint, micro_batches
from ecom_etl.stream.process import process_batch

PAYLOAD_DDL = "payload string, source string"


def app_id(stream: str) -> str:
    """The Delta txnAppId of the stream job: stable across restarts of the same stream."""
    return f"ecom-etl-stream/{stream}"


def run_stream(
    spark: SparkSession,
    names: Names,
    warehouse: str,
    checkpoint_dir: str,
    trigger_seconds: float = 5.0,
    max_records: int = 10_000,
    stop_when_idle: bool = False,
    progress=print,
) -> int:
    """Process micro-batches until interrupted (or, with stop_when_idle, caught up). Returns batches run."""
    lake = Lake.at(warehouse)
    done = 0
    for batch_id, records, commit in micro_batches(
        names.stream, Checkpoint(checkpoint_dir), max_records, trigger_seconds, stop_when_idle
    ):
        started, timer = time.perf_counter(), StageTimer()
        frame = spark.createDataFrame(records, PAYLOAD_DDL)
        result = process_batch(spark, frame, batch_id, lake, names, app_id(names.stream), timer)
        commit({**asdict(result), "stage_seconds": timer.seconds})
        done += 1
        stages = ", ".join(f"{k} {v:.1f}" for k, v in timer.seconds.items())
        progress(
            f"batch {batch_id}: {len(records):,} records, {result.new_silver_rows:,} new lines, "
            f"{result.quarantined_rows:,} quarantined, {time.perf_counter() - started:.1f}s ({stages})"
        )
    return done
