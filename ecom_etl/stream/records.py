"""Stream records (one JSON order line each) <-> the raw columns cleaning expects."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from ecom_etl.schema import RAW_COLUMNS, RAW_FIELDS, RAW_LINE, SOURCE

# Every field as a string: numbers keep their JSON text ("6", "2.55"), so the contract's parsing
# applies exactly as to CSV.
RECORD_SCHEMA = T.StructType([T.StructField(c, T.StringType()) for c in RAW_COLUMNS])
# What a stream source hands to process_batch: the record's bytes as text, and where it came from.
PAYLOAD_DDL = "payload string, source string"
RECORD_DDL = ", ".join(f"{c} STRING" for c in RAW_COLUMNS)


def records_to_raw(records: DataFrame) -> DataFrame:
    """`payload` (the record's bytes as text) and `source` -> RAW_INPUT_COLUMNS.

    A payload that is not a JSON object keeps its text in `raw_line` and is quarantined.
    """
    parsed = F.from_json(F.col("payload"), RECORD_SCHEMA)
    is_object = F.col("payload").rlike(r"^\s*\{") & parsed.isNotNull()
    return records.select(
        *[F.when(is_object, parsed[c]).alias(f) for c, f in zip(RAW_COLUMNS, RAW_FIELDS)],
        F.when(~is_object | F.col("payload").isNull(), F.coalesce(F.col("payload"), F.lit(""))).alias(RAW_LINE),
        F.col("source").alias(SOURCE),
    )
