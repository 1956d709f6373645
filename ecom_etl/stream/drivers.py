"""The stream job's micro-batch loop: one interface, three drivers.

Each driver hands every micro-batch (a DataFrame of PAYLOAD_DDL) and its batch id to `handle`,
and counts a batch as done only after `handle` returned:
- `DataSourceDriver`: Spark 4 (Glue 6.0's Spark, locally): a readStream query over the Kinesis
  Python data source, with Spark's own checkpoint;
- `AdapterDriver`: Spark 3.5 (Glue 5.1's Spark, locally): `kinesis_source.micro_batches`;
- `GlueDriver`: on Glue, Glue's Kinesis source and `forEachBatch`, its rows turned back into
  payloads by `records.glue_payloads`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from pyspark.sql import DataFrame, SparkSession

from ecom_etl.lake.storage import Storage
from ecom_etl.settings import Settings
from ecom_etl.stream.kinesis_source import OffsetLog, micro_batches
from ecom_etl.stream.records import GLUE_RECORD_DDL, PAYLOAD_DDL, glue_payloads

Handle = Callable[[DataFrame, int], Any]


class StreamDriver(Protocol):
    def run(self, handle: Handle, stop_when_idle: bool = False, stopped: threading.Event | None = None) -> int:
        """Hand each micro-batch to `handle` until `stopped` is set (or, stop_when_idle, caught up);
        returns the number of batches handled."""


def has_streaming_data_sources() -> bool:
    """Whether this PySpark can read a stream from a Python data source (4.0 and later)."""
    try:
        from pyspark.sql.datasource import SimpleDataSourceStreamReader  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class AdapterDriver:
    spark: SparkSession
    settings: Settings
    offsets: OffsetLog
    trigger_seconds: float
    max_records: int

    def run(self, handle: Handle, stop_when_idle: bool = False, stopped: threading.Event | None = None) -> int:
        done = 0
        for batch_id, payloads, commit in micro_batches(
            self.settings, self.offsets, self.max_records, self.trigger_seconds, stop_when_idle, stopped
        ):
            result = handle(self.spark.createDataFrame(payloads, PAYLOAD_DDL), batch_id)
            commit(asdict(result) if result is not None else {})
            done += 1
        return done


def _idle(status: dict) -> bool:
    """A trigger ran and found nothing new (Spark's own status words)."""
    return (
        not status["isDataAvailable"]
        and not status["isTriggerActive"]
        and status["message"] == "Waiting for data to arrive"
    )


@dataclass
class DataSourceDriver:
    spark: SparkSession
    settings: Settings
    checkpoint: str
    trigger_seconds: float
    max_records: int

    def run(self, handle: Handle, stop_when_idle: bool = False, stopped: threading.Event | None = None) -> int:
        from ecom_etl.stream.kinesis_datasource import NAME, KinesisDataSource, reader_options

        self.spark.dataSource.register(KinesisDataSource)
        done = 0

        def each(payloads: DataFrame, batch_id: int) -> None:
            nonlocal done
            handle(payloads, batch_id)
            done += 1

        query = (
            self.spark.readStream.format(NAME)
            .options(**reader_options(self.settings, self.max_records))
            .load()
            .writeStream.foreachBatch(each)
            .option("checkpointLocation", self.checkpoint)
            .trigger(processingTime=f"{max(1, round(self.trigger_seconds * 1000))} milliseconds")
            .start()
        )
        try:
            while not query.awaitTermination(max(self.trigger_seconds, 0.2)):
                if (stop_when_idle and _idle(query.status)) or (stopped is not None and stopped.is_set()):
                    break
        finally:
            query.stop()
        return done


@dataclass
class GlueDriver:
    """Glue's Kinesis source (`glue_context` is awsglue's GlueContext, handed in by the job)."""

    glue_context: Any
    settings: Settings
    stream_arn: str
    checkpoint: str
    window_size: str
    starting_position: str = "TRIM_HORIZON"
    options: dict[str, str] = field(
        default_factory=lambda: {
            "emitConsumerLagMetrics": "true",  # glue.driver.streaming.maxConsumerLagInMs, for the lag alarm
            "avoidEmptyBatches": "true",  # no micro-batch (and no Delta commit attempt) for nothing
        }
    )

    def connection_options(self) -> dict[str, str]:
        return {
            "streamARN": self.stream_arn,
            "startingPosition": self.starting_position,
            "classification": "json",
            "inferSchema": "false",
            "schema": GLUE_RECORD_DDL,
            **self.options,
        }

    def run(self, handle: Handle, stop_when_idle: bool = False, stopped: threading.Event | None = None) -> int:
        frame = self.glue_context.create_data_frame.from_options(
            connection_type="kinesis", connection_options=self.connection_options()
        )
        done = 0

        def each(records: DataFrame, batch_id: int) -> None:
            nonlocal done
            handle(glue_payloads(records, self.settings.stream, batch_id), batch_id)
            done += 1

        self.glue_context.forEachBatch(
            frame=frame,
            batch_function=each,
            options={"windowSize": self.window_size, "checkpointLocation": self.checkpoint},
        )
        return done


def local_driver(
    spark: SparkSession, settings: Settings, storage: Storage, checkpoint: str, trigger_seconds: float, max_records: int
) -> StreamDriver:
    """The driver of this Spark: Spark's own streaming query on Spark 4, the adapter on 3.5."""
    if has_streaming_data_sources():
        return DataSourceDriver(spark, settings, checkpoint, trigger_seconds, max_records)
    return AdapterDriver(spark, settings, OffsetLog(storage, checkpoint), trigger_seconds, max_records)
