"""Replay order lines from CSV files onto Kinesis at a steady rate (the wire format is in wire.py)."""

import csv
import time
from collections.abc import Iterable, Iterator

from ecom_etl.aws import client
from ecom_etl.io import check_header, local_files
from ecom_etl.schema import RAW_COLUMNS
from ecom_etl.stream.wire import MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL, line_to_record, partition_key, put_records


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
