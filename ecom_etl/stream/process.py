"""process_batch: one micro-batch of stream records through the batch job's code into every sink."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Row, SparkSession

from ecom_etl.core.cleaning import dynamodb_rejects
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.load import LoadResult, load_records
from ecom_etl.progress import StageTimer
from ecom_etl.settings import Settings
from ecom_etl.stream import dynamo
from ecom_etl.stream.records import payloads_to_records

# One Spark task writes DynamoDB, with dynamo.WRITERS calls in flight: a second task would take the
# other core of local[2] from the Delta writes while it mostly waits on the network (see
# bench/results/stream.md).
DYNAMO_TASKS = 1


def _write_partition(settings: Settings, rows: Iterable[Row]) -> None:
    dynamo.write_lines(settings, [row.asDict() for row in rows])


@dataclass(frozen=True)
class DynamoSink:
    """The serving tables as the load's side sink: lines over DynamoDB's limits are refused."""

    settings: Settings

    def rejects(self) -> Column:
        return dynamodb_rejects()

    def write(self, lines: DataFrame) -> None:
        lines.coalesce(DYNAMO_TASKS).foreachPartition(partial(_write_partition, self.settings))


def process_batch(
    spark: SparkSession,
    payloads: DataFrame,
    batch_id: int,
    lake: Lake,
    settings: Settings,
    app_id: str,
    stage: StageTimer | None = None,
) -> LoadResult:
    """Clean a micro-batch (PAYLOAD_DDL) and write quarantine, silver and DynamoDB.

    Delta writes carry txnAppId=`app_id`, txnVersion=`batch_id`: a replayed batch adds nothing;
    DynamoDB writes are idempotent, so a batch that died half-way is safely written again. The
    payloads are cached for the call, so that reading them twice never reads Kinesis twice.
    """
    payloads = payloads.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        return load_records(
            spark,
            payloads_to_records(payloads),
            lake,
            datetime.now(UTC),
            txn=(app_id, batch_id),
            side_sink=DynamoSink(settings),
            stage=stage,
        )
    finally:
        payloads.unpersist()
