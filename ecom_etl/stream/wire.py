"""An order line on the wire: its JSON record, its partition key, and PutRecords within AWS's limits.

No Spark here: the API's Lambda handlers put records with this module alone.
"""

import json
import time

from ecom_etl.aws import client
from ecom_etl.schema import RAW_COLUMNS

MAX_RECORDS_PER_CALL = 500  # AWS's PutRecords limit
MAX_BYTES_PER_CALL = 5 * 1024 * 1024


def line_to_record(line: dict[str, str | None]) -> bytes:
    """One order line (raw CSV strings by header name) as the JSON a record carries."""
    return json.dumps({c: line.get(c) for c in RAW_COLUMNS}, separators=(",", ":")).encode("utf-8")


def partition_key(line: dict) -> str:
    """InvoiceNo keeps an invoice's lines on one shard, in order; Kinesis needs 1-256 characters."""
    return ((line.get("InvoiceNo") or "").strip() or "_")[:256]


def put_records(stream: str, entries: list[dict], kinesis=None, max_attempts: int = 10) -> None:
    """One PutRecords call's worth of entries, re-sending those that failed until all are in."""
    kinesis = kinesis or client("kinesis")
    for attempt in range(max_attempts):
        response = kinesis.put_records(StreamName=stream, Records=entries)
        if not response.get("FailedRecordCount"):
            return
        entries = [e for e, r in zip(entries, response["Records"]) if "ErrorCode" in r]
        time.sleep(min(0.1 * 2**attempt, 2.0))
    raise RuntimeError(f"Kinesis kept rejecting {len(entries)} records of {stream}")
