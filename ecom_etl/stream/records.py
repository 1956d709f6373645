"""Stream records -> the records cleaning expects, read by the same CSV reader as the batch's files.

Every stream source (the Spark 4 data source, the Spark 3.5 adapter, Glue's Kinesis source through
`glue_payloads`) hands process_batch a DataFrame of PAYLOAD_DDL: each record's bytes and its position.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ecom_etl.core import wire
from ecom_etl.core.schema import RECORD_DDL
from ecom_etl.lake.sources import batches

if TYPE_CHECKING:
    import pyarrow as pa

PAYLOAD_DDL = "payload binary, source string"
# Glue's Kinesis source parses JSON records itself; its schema names the wire format's fields.
GLUE_RECORD_DDL = "csv STRING, csv_base64 STRING, too_large STRING"


def _records_of_payloads(arrow_batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow: (payload, source) -> records."""
    for batch in arrow_batches:
        payloads, sources = batch.column("payload").to_pylist(), batch.column("source").to_pylist()
        yield from batches((wire.payload_record(p or b""), s) for p, s in zip(payloads, sources))


def payloads_to_records(payloads: DataFrame) -> DataFrame:
    """PAYLOAD_DDL rows -> RECORD_COLUMNS (a payload that is no line of ours is malformed)."""
    return payloads.select("payload", "source").mapInArrow(_records_of_payloads, RECORD_DDL)


def glue_payloads(records: DataFrame, stream: str, batch_id: int) -> DataFrame:
    """Glue's parsed Kinesis rows (GLUE_RECORD_DDL) back into PAYLOAD_DDL, the one shape every
    source hands over. Glue does not expose the shard and sequence number: the source is the batch."""
    fields = [F.col(c) for c in ("csv", "csv_base64", "too_large") if c in records.columns]
    body = F.to_json(F.struct(*fields)) if fields else F.lit("{}")
    return records.select(
        F.encode(body, "UTF-8").alias("payload"),
        F.lit(f"kinesis:{stream}/batch-{batch_id}").alias("source"),
    )
