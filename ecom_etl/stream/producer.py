"""Put order lines on Kinesis: PutRecords ≤ 500 records a call, failed entries re-sent."""

import csv
import time
from collections.abc import Iterable, Iterator

from ecom_etl.aws import client
from ecom_etl.io import check_header, local_files
from ecom_etl.schema import RAW_COLUMNS
from ecom_etl.stream.records import line_to_record

MAX_RECORDS_PER_CALL = 500  # AWS's PutRecords limit
MAX_BYTES_PER_CALL = 5 * 1024 * 1024


def csv_lines(path: str) -> Iterator[dict[str, str | None]]:
    """Order lines of a CSV file, directory or glob, in file order, as raw strings by header name.
    Every file's header is checked before the first line is yielded: a bad file sends nothing."""
    files = local_files(path)  # the files the batch job would read, with the same header check
    for file in files:
        check_header(file)
    for file in files:
        with open(file, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            if next(reader, None) is None:
                continue
            for row in reader:
                yield dict(zip(RAW_COLUMNS, row + [None] * (len(RAW_COLUMNS) - len(row))))


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


def produce(
    stream: str, lines: Iterable[dict], rate: float | None = None, limit: int | None = None, progress=None
) -> int:
    """Send `lines` to `stream` as JSON records; `rate` caps records per second. Returns the count."""
    kinesis = client("kinesis")
    sent, batch, size, started = 0, [], 0, time.monotonic()

    def flush() -> None:
        nonlocal batch, size
        if batch:
            put_records(stream, batch, kinesis)
            batch, size = [], 0

    for line in lines:
        if limit is not None and sent >= limit:
            break
        data = line_to_record(line)
        key = partition_key(line)
        if len(batch) == MAX_RECORDS_PER_CALL or size + len(data) + len(key) > MAX_BYTES_PER_CALL:
            flush()
        batch.append({"Data": data, "PartitionKey": key})
        size += len(data) + len(key)
        sent += 1
        if rate:
            if len(batch) >= max(1, min(MAX_RECORDS_PER_CALL, int(rate / 10))):
                flush()
            ahead = sent / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)
        if progress and sent % 5000 == 0:
            progress(f"sent {sent:,} records")
    flush()
    return sent
