"""Raw input: the files an input path means, their headers checked, read by Spark into records.

Spark reads each file's bytes (`binaryFile`, local or S3 alike) and its Python workers turn them
into records with `csv_records` (or, for the stream's archive, `wire`): the parser every other
path uses too. The records carry RECORD_COLUMNS for cleaning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from pyspark.sql import DataFrame, SparkSession

from ecom_etl import csv_records, wire
from ecom_etl.csv_records import Record
from ecom_etl.errors import EtlInputError
from ecom_etl.schema import RECORD_COLUMNS, RECORD_DDL
from ecom_etl.storage import FileInfo, Storage

if TYPE_CHECKING:
    import pyarrow as pa

ARCHIVE_SUFFIXES = (".jsonl", ".jsonl.gz")  # the stream's archive: one stream record per line
BATCH_ROWS = 50_000  # records per Arrow batch handed back to Spark


def is_archive(uri: str) -> bool:
    return uri.endswith(ARCHIVE_SUFFIXES)


def find_input(storage: Storage, path: str) -> list[FileInfo]:
    """The files of a path, directory or glob (local or s3://); a clear error when there are none."""
    files = storage.list_files(path)
    if files:
        return files
    if any(c in path for c in "*?["):
        raise EtlInputError(f"no file matches the input pattern {path}")
    if storage.exists(path):
        raise EtlInputError(f"input directory is empty: {path}")
    raise EtlInputError(f"input path does not exist: {path}")


def check_headers(storage: Storage, files: Iterable[FileInfo]) -> None:
    """Every CSV file starts with the contract's header (BOM, case and spaces aside), checked from
    its first bytes before Spark starts, so a bad file fails the run before anything is written."""
    for file in files:
        if is_archive(file.uri) or file.size == 0:
            continue
        try:
            first = storage.head(file.uri, csv_records.HEADER_BYTES)
            csv_records.check_header(file.uri, csv_records.header_of(file.uri, first))
        except csv_records.HeaderError as exc:
            raise EtlInputError(str(exc)) from None
        except (OSError, EOFError) as exc:
            raise EtlInputError(f"cannot read input file {file.uri}: {exc}") from None


def batches(rows: Iterable[tuple[Record, str]]) -> Iterator[pa.RecordBatch]:
    """(record, source) pairs as Arrow record batches of RECORD_COLUMNS."""
    import pyarrow as pa

    schema = pa.schema([(c, pa.string()) for c in RECORD_COLUMNS[:-1]] + [(RECORD_COLUMNS[-1], pa.list_(pa.string()))])
    chunk: list[tuple[Record, str]] = []

    def flush() -> pa.RecordBatch:
        fields = list(zip(*(r.fields for r, _ in chunk)))
        columns = [list(c) for c in fields] + [
            [r.raw_line for r, _ in chunk],
            [s for _, s in chunk],
            [list(r.reasons) for r, _ in chunk],
        ]
        return pa.RecordBatch.from_arrays([pa.array(c, t) for c, t in zip(columns, schema.types)], schema=schema)

    for pair in rows:
        chunk.append(pair)
        if len(chunk) == BATCH_ROWS:
            yield flush()
            chunk = []
    if chunk:
        yield flush()


def _file_rows(path: str, content: bytes) -> Iterator[tuple[Record, str]]:
    if is_archive(path):
        for number, line in enumerate(csv_records.decompress(path, content).splitlines(), start=1):
            if line.strip():
                yield wire.payload_record(line), f"{path}#{number}"
        return
    try:
        for record in csv_records.file_records(path, content):
            yield record, path
    except csv_records.HeaderError as exc:  # the file changed since its header was checked
        raise EtlInputError(str(exc)) from None


def _records_of_files(arrow_batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow: binaryFile rows (path, content) -> records."""
    for batch in arrow_batches:
        paths, contents = batch.column("path").to_pylist(), batch.column("content").to_pylist()
        yield from batches(row for path, content in zip(paths, contents) for row in _file_rows(path, content))


def read_records(spark: SparkSession, files: list[FileInfo]) -> DataFrame:
    """The records of `files` (RECORD_COLUMNS), read by Spark's workers."""
    content = spark.read.format("binaryFile").load([f.uri for f in files]).select("path", "content")
    return content.mapInArrow(_records_of_files, RECORD_DDL)
