"""Raw input: the files an input path means, their first bytes checked, their records read by Spark.

CSV files, plain or gzip, are read in the JVM by the project's data source (java/ecom/csv,
`ecom.csv.OrderLinesSource`): the driver plans the pieces, so that a plain file larger than a split
is read by several tasks at once, and no task holds more than a record in memory. A plain file read
in pieces cannot have a record that spans lines (a quoted line break) at a piece's start; a piece
that meets one fails the read, naming its file, and `Reader` reads again with that file read whole.
The stream's archive (`.jsonl`, `.jsonl.gz`) is read by Spark's Python workers with `wire`, line by
line. Both yield RECORD_COLUMNS for cleaning.
"""

from __future__ import annotations

import io
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ecom_etl.core import csv_records, wire
from ecom_etl.core.csv_records import Record
from ecom_etl.core.schema import RECORD_COLUMNS, RECORD_DDL, RECORD_OFFSET
from ecom_etl.errors import EtlInputError
from ecom_etl.lake.storage import FileInfo, Storage
from ecom_etl.settings import Settings

if TYPE_CHECKING:
    import pyarrow as pa

T = TypeVar("T")
JVM_SOURCE = "ecom.csv.OrderLinesSource"
ARCHIVE_SUFFIXES = (".jsonl", ".jsonl.gz")  # the stream's archive: one stream record per line
BATCH_ROWS = 10_000  # records per Arrow batch handed back to Spark
MAX_SPLIT_BYTES = 128 * 1024 * 1024  # Spark's own spark.sql.files.maxPartitionBytes
OPEN_COST_BYTES = 4 * 1024 * 1024  # Spark's spark.sql.files.openCostInBytes: a file costs at least this
_WHOLE_FILE = re.compile(r"ecom-etl: read whole: (.+?)(?:\r?\n|$)")


@dataclass(frozen=True)
class InputFile:
    """A file of the input and what its first bytes told."""

    info: FileInfo
    gzip: bool
    has_lines: bool  # False when the file is known to hold no line: empty, or its header alone

    @property
    def uri(self) -> str:
        return self.info.uri

    @property
    def is_archive(self) -> bool:
        return is_archive(self.info.uri)


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


def inspect(storage: Storage, files: Iterable[FileInfo]) -> list[InputFile]:
    """Every file's first bytes, read before Spark starts: a CSV file must start with the contract's
    header (BOM, case and spaces aside) and gzip data must be whole, or the run fails with one line
    before anything is written."""
    found = []
    for file in files:
        if file.size == 0:
            found.append(InputFile(file, False, False))
            continue
        try:
            first = storage.head(file.uri, csv_records.HEADER_BYTES)
            gzip = csv_records.is_gzip(file.uri, first)
            if is_archive(file.uri):
                found.append(InputFile(file, gzip, True))
                continue
            head = csv_records.head(file.uri, first, file.size)
            csv_records.check_header(file.uri, head.first)
        except csv_records.HeaderError as exc:
            raise EtlInputError(str(exc)) from None
        except (EOFError, zlib.error) as exc:
            raise EtlInputError(f"{file.uri} is not complete gzip data ({exc})") from None
        except OSError as exc:
            raise EtlInputError(f"cannot read input file {file.uri}: {exc}") from None
        found.append(InputFile(file, gzip, head.has_more))
    return found


def split_bytes(files: Iterable[InputFile], parallelism: int) -> int:
    """How much of a file one task reads: as Spark sizes its file splits, at most 128 MB and small
    enough that every core gets a share."""
    total = sum(f.info.size + OPEN_COST_BYTES for f in files)
    return min(MAX_SPLIT_BYTES, max(OPEN_COST_BYTES, total // max(1, parallelism)))


Range = tuple[InputFile, int, int]  # a file's bytes [start, end): the records that start there


def whole_ranges(files: Iterable[InputFile], split: int, whole: frozenset[str] = frozenset()) -> list[Range]:
    """Every record of `files`: plain files cut at `split` bytes unless in `whole`, gzip files whole."""
    out = []
    for f in files:
        size = f.info.size
        step = size if f.gzip or f.uri in whole or size <= split else split
        out += [(f, start, min(start + step, size)) for start in range(0, size, step)]
    return out


def plan(ranges: Iterable[Range], split: int) -> list[str]:
    """The data source's pieces ("partition TAB start TAB end TAB size TAB g|p TAB uri"), packed
    into partitions of about `split` bytes, largest first, as Spark packs file splits."""
    out, partition, filled = [], 0, 0
    for f, start, end in sorted(ranges, key=lambda r: r[2] - r[1], reverse=True):
        if filled and filled + (end - start) > split:
            partition, filled = partition + 1, 0
        filled += end - start + OPEN_COST_BYTES
        out.append(f"{partition}\t{start}\t{end}\t{f.info.size}\t{'g' if f.gzip else 'p'}\t{f.uri}")
    return out


def whole_file_asked(error: Exception) -> str | None:
    """The file a failed read asks to be read whole (a piece met a quoted line break), or None."""
    found = _WHOLE_FILE.search(str(error))
    return found.group(1) if found else None


class Reader:
    """Reads files in a pass (a Spark action on their records), and runs the pass again with a file
    read as one piece when a piece of it met a quoted line break: the failed pass committed nothing.
    `split` sets the bytes of a piece (else as Spark sizes file splits)."""

    def __init__(
        self, spark: SparkSession, settings: Settings, note: Callable[[str], None], split: int | None = None
    ) -> None:
        self.spark, self.settings, self.note, self.split = spark, settings, note, split
        self.whole: frozenset[str] = frozenset()

    def run(self, files: list[InputFile], action: Callable[[DataFrame], T], ranges: list[Range] | None = None) -> T:
        """`action` on the records of `files` (of `ranges` of them when given: a second pass)."""
        while True:
            try:
                return action(self.records(files, ranges))
            except Exception as exc:
                uri = whole_file_asked(exc)
                if uri is None or uri in self.whole:
                    raise
                self.whole |= {uri}
                self.note(f"{uri} has a line break inside quotes: read again as one piece")

    def records(self, files: list[InputFile], ranges: list[Range] | None = None) -> DataFrame:
        """The records of `files` (RECORD_COLUMNS and RECORD_OFFSET), read by Spark's tasks."""
        files = [f for f in files if f.has_lines]
        csvs, archives = [f for f in files if not f.is_archive], [f for f in files if f.is_archive]
        if ranges is not None:  # a file asked to be read whole is, whatever its ranges
            read_whole = {f.uri: f for f, _, _ in ranges if f.uri in self.whole}
            ranges = [r for r in ranges if r[0].uri not in self.whole]
            ranges += [(f, 0, f.info.size) for f in read_whole.values()]
        split = self.split or split_bytes(csvs, self.spark.sparkContext.defaultParallelism)
        frames = []
        if csvs and (ranges is None or ranges):
            pieces = plan(whole_ranges(csvs, split, self.whole) if ranges is None else ranges, split)
            options = {f"piece.{i}": piece for i, piece in enumerate(pieces)}
            frames.append(self.spark.read.format(JVM_SOURCE).options(**options).load())
        if archives:
            uris = self.spark.createDataFrame([(f.uri,) for f in archives], "uri string").repartition(len(archives))
            records = uris.mapInArrow(partial(_archive_records, self.settings), RECORD_DDL)
            frames.append(records.withColumn(RECORD_OFFSET, F.lit(None).cast("long")))
        if not frames:
            return self.spark.createDataFrame([], f"{RECORD_DDL}, {RECORD_OFFSET} long")
        out = frames[0]
        for frame in frames[1:]:
            out = out.unionByName(frame)
        return out.select(*RECORD_COLUMNS, RECORD_OFFSET)


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


def archive_lines(stream: io.BufferedIOBase) -> Iterator[bytes]:
    """The lines of an archive as bytes.splitlines() gives them (CRLF, LF or CR), read as they go."""
    carry = b""
    for block in iter(partial(stream.read, 1 << 20), b""):
        lines = (carry + block).splitlines(keepends=True)
        carry = lines.pop() if lines and not lines[-1].endswith(b"\n") else b""  # may go on (a CR before LF too)
        for line in lines:
            yield line.rstrip(b"\r\n")
    if carry:
        yield carry.rstrip(b"\r\n")


def _archive_records(settings: Settings, arrow_batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """mapInArrow: archive URIs -> the records of their lines; blank lines hold none."""
    storage = Storage(settings)

    def rows() -> Iterator[tuple[Record, str]]:
        for batch in arrow_batches:
            for uri in batch.column("uri").to_pylist():
                with storage.open(uri) as raw:
                    for number, line in enumerate(archive_lines(csv_records.content(uri, raw)), start=1):
                        if line.strip():
                            yield wire.payload_record(line), f"{uri}#{number}"

    yield from batches(rows())
