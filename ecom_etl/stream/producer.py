"""Order lines onto Kinesis: PutRecords within AWS's limits, and replaying CSV files at a rate.

`produce` reads files with the batch job's reader (same header check, gzip, BOM, quoting) and
sends each record's exact text (wire.line_payload), so the stream job cleans it as the batch
job would. No Spark: the API's Lambda package puts records with `put_records` too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator

from ecom_etl.core import csv_records, wire
from ecom_etl.errors import EtlInputError
from ecom_etl.lake.storage import Storage
from ecom_etl.progress import Progress
from ecom_etl.settings import Settings

MAX_RECORDS_PER_CALL = 500  # AWS's PutRecords limits
MAX_BYTES_PER_CALL = 5 * 1024 * 1024
ATTEMPTS = 10


def put_records(settings: Settings, entries: list[dict], kinesis: object = None) -> None:
    """One PutRecords call's worth of entries, sending those that failed again until all are in.

    boto3's retries cover a failed call; a call can also succeed with some entries refused
    (throttled shards): those are sent again here, with the same backoff.
    """
    kinesis = kinesis or settings.client("kinesis")
    for attempt in range(ATTEMPTS):
        response = kinesis.put_records(StreamName=settings.stream, Records=entries)
        if not response.get("FailedRecordCount"):
            return
        entries = [e for e, r in zip(entries, response["Records"]) if "ErrorCode" in r]
        time.sleep(min(0.1 * 2**attempt, 2.0))
    raise RuntimeError(f"Kinesis kept refusing {len(entries)} records")


def kinesis_entries(storage: Storage, path: str) -> Iterator[dict]:
    """PutRecords entries for every record of a CSV file, directory or glob, in file order. Every
    header is checked before the first record is sent: a bad file sends nothing."""
    from ecom_etl.lake.sources import find_input, inspect

    files = [f for f in inspect(storage, find_input(storage, path)) if f.has_lines and not f.is_archive]
    for file in files:
        try:
            with storage.open(file.uri) as stream:
                for line, fields in csv_records.file_lines(file.uri, stream):
                    yield {"Data": wire.line_payload(line), "PartitionKey": wire.partition_key(fields)}
        except csv_records.HeaderError as exc:  # the file changed since its header was checked
            raise EtlInputError(str(exc)) from None


def produce(
    settings: Settings,
    entries: Iterable[dict],
    rate: float | None = None,
    limit: int | None = None,
    progress: Progress | None = None,
) -> int:
    """Send `entries` to the stream; `rate` caps records per second. Returns the count sent."""
    kinesis = settings.client("kinesis")
    sent, batch, size, started = 0, [], 0, time.monotonic()

    def flush() -> None:
        nonlocal batch, size
        if batch:
            put_records(settings, batch, kinesis)
            batch, size = [], 0

    for entry in entries:
        if limit is not None and sent >= limit:
            break
        entry_size = len(entry["Data"]) + len(entry["PartitionKey"])
        if len(batch) == MAX_RECORDS_PER_CALL or size + entry_size > MAX_BYTES_PER_CALL:
            flush()
        batch.append(entry)
        size += entry_size
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
