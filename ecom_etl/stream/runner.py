"""The streaming job run locally: Kinesis micro-batches handed to process_batch.

On Spark 4 (Glue 6.0) the batches come from a real `readStream` query over the Kinesis Python data
source, with Spark's own checkpoint; on Spark 3.5 (Glue 5.1), which has no Python streaming
sources, from the small adapter in `kinesis_source`. Either way each batch runs the same
process_batch with its batch id, and the offsets of a batch count as done only after every sink.
"""

import time
from collections.abc import Callable
from dataclasses import asdict

from pyspark.sql import DataFrame, SparkSession

from ecom_etl.aws import Names, worker_settings
from ecom_etl.io import Lake
from ecom_etl.pipeline import LoadResult, StageTimer
from ecom_etl.stream.kinesis_source import Checkpoint, micro_batches
from ecom_etl.stream.process import process_batch
from ecom_etl.stream.records import PAYLOAD_DDL

Handler = Callable[[DataFrame, int], LoadResult]


def app_id(stream: str) -> str:
    """The Delta txnAppId of the stream job: stable across restarts of the same stream."""
    return f"ecom-etl-stream/{stream}"


def has_streaming_data_sources() -> bool:
    """Whether this PySpark can read a stream from a Python data source (4.0 and later)."""
    try:
        from pyspark.sql.datasource import SimpleDataSourceStreamReader  # noqa: F401
    except ImportError:
        return False
    return True


def batch_handler(spark: SparkSession, names: Names, warehouse: str, progress=print) -> Handler:
    """process_batch with a progress line per batch: the foreachBatch function of either engine."""
    lake = Lake.at(warehouse)

    def handle(records: DataFrame, batch_id: int) -> LoadResult:
        started, timer = time.perf_counter(), StageTimer()
        result = process_batch(spark, records, batch_id, lake, names, app_id(names.stream), timer)
        stages = ", ".join(f"{k} {v:.1f}" for k, v in timer.seconds.items())
        progress(
            f"batch {batch_id}: {result.raw_rows:,} records, {result.new_silver_rows:,} new lines, "
            f"{result.quarantined_rows:,} quarantined, {time.perf_counter() - started:.1f}s ({stages})"
        )
        return result

    return handle


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
    handle = batch_handler(spark, names, warehouse, progress)
    run = _run_query if has_streaming_data_sources() else _run_adapter
    return run(spark, names, checkpoint_dir, trigger_seconds, max_records, stop_when_idle, handle)


def _run_adapter(spark, names, checkpoint_dir, trigger_seconds, max_records, stop_when_idle, handle) -> int:
    done = 0
    for batch_id, records, commit in micro_batches(
        names.stream, Checkpoint(checkpoint_dir), max_records, trigger_seconds, stop_when_idle
    ):
        commit(asdict(handle(spark.createDataFrame(records, PAYLOAD_DDL), batch_id)))
        done += 1
    return done


def _idle(status: dict) -> bool:
    """A trigger ran and found nothing new (Spark's own status words)."""
    return not status["isDataAvailable"] and not status["isTriggerActive"] and status["message"] == "Waiting for data to arrive"


def _run_query(spark, names, checkpoint_dir, trigger_seconds, max_records, stop_when_idle, handle) -> int:
    from ecom_etl.stream.kinesis_datasource import NAME, KinesisDataSource, reader_options

    spark.dataSource.register(KinesisDataSource)
    done = 0

    def each(records: DataFrame, batch_id: int) -> None:
        nonlocal done
        handle(records, batch_id)
        done += 1

    query = (
        spark.readStream.format(NAME)
        .options(**reader_options(names.stream, max_records, worker_settings()))
        .load()
        .writeStream.foreachBatch(each)
        .option("checkpointLocation", checkpoint_dir)
        .trigger(processingTime=f"{max(1, round(trigger_seconds * 1000))} milliseconds")
        .start()
    )
    try:
        while not query.awaitTermination(max(trigger_seconds, 0.2)):
            if stop_when_idle and _idle(query.status):
                break
    finally:
        query.stop()
    return done
