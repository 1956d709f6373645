"""Raw bytes -> order-line records: the Python CSV reader (`produce`, the API, the stream job).

RFC 4180 with Python's csv module: quoted fields may hold commas, doubled quotes and line breaks;
CRLF, LF and CR all end a record; a UTF-8 byte order mark is skipped; gzip is undone. A record
whose bytes are not UTF-8 keeps them, each such byte written `\\xNN`, and is marked so that it is
quarantined, never stored altered. It reads a stream record by record, so memory does not grow
with the file. The batch job reads files with the JVM's reader (java/ecom/csv), which follows these
rules byte for byte; a property test holds the two to the same records.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import sys
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO, NamedTuple

from ecom_etl.core.contract import HEADER

csv.field_size_limit(sys.maxsize)  # a field may be as long as the record (the sinks judge size)

GZIP_MAGIC = b"\x1f\x8b"
HEADER_BYTES = 64 * 1024  # enough of a file to read its header
_ESCAPED = re.compile("[\udc80-\udcff]")  # invalid bytes after decoding with surrogateescape


class HeaderError(ValueError):
    """A file's first record is not the contract's header."""


class Record(NamedTuple):
    """One record: its eight raw fields (None where it had fewer), its text when it has not exactly
    eight fields or is not UTF-8 (else None), and the reasons reading found."""

    fields: tuple[str | None, ...]
    raw_line: str | None
    reasons: tuple[str, ...]


def is_gzip(name: str, first_bytes: bytes) -> bool:
    """`.gz` files (as S3 exports and Firehose write them) and any file that starts as gzip does."""
    return name.endswith(".gz") or first_bytes[:2] == GZIP_MAGIC


def content(name: str, stream: BinaryIO) -> BinaryIO:
    """The file's content from its bytes: gunzipped where it is gzip (every member of a
    concatenated gzip), read as it goes."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)  # type: ignore[arg-type]
    return gzip.GzipFile(fileobj=buffered) if is_gzip(name, buffered.peek(2)[:2]) else buffered  # type: ignore[return-value]


class Head(NamedTuple):
    """What a file's first bytes tell: its first record (None when it has none), and whether a
    record may follow it (False only when those bytes were the whole content and none does)."""

    first: list[str] | None
    has_more: bool


def head(name: str, first_bytes: bytes, size: int) -> Head:
    """What the first bytes of a file of `size` bytes tell. Raises EOFError for gzip data cut short
    and zlib.error for a `.gz` file that is not gzip."""
    whole = len(first_bytes) >= size
    if is_gzip(name, first_bytes):
        inflate = zlib.decompressobj(wbits=31)
        data = inflate.decompress(first_bytes, HEADER_BYTES)
        while inflate.eof and inflate.unused_data and len(data) < HEADER_BYTES:  # a concatenated member
            rest, inflate = inflate.unused_data, zlib.decompressobj(wbits=31)
            data += inflate.decompress(rest, HEADER_BYTES - len(data))
        if whole and not inflate.eof and not inflate.unconsumed_tail:
            raise EOFError("the gzip data ends before its end-of-stream marker")
        whole = whole and inflate.eof and not inflate.unused_data
    else:
        data = first_bytes
    records = _split(_lines(io.BytesIO(data)))
    first = next(records, None)
    has_more = not whole or next(records, None) is not None
    return Head(first[0] if first else None, has_more and first is not None)


def _lines(data: BinaryIO) -> Iterator[str]:
    """The text's lines, each with its line break (CRLF, LF or CR), as csv.reader wants them; bytes
    that are not UTF-8 become lone surrogates (surrogateescape), found again per record."""
    return io.TextIOWrapper(data, encoding="utf-8-sig", errors="surrogateescape", newline="")  # type: ignore[arg-type]


def _shown(text: str) -> str:
    """Text that held invalid bytes, with each of them as \\xNN (reversible, never altered)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _without_newline(raw: str) -> str:
    return raw[:-2] if raw.endswith("\r\n") else raw[:-1] if raw.endswith(("\n", "\r")) else raw


def _split(lines: Iterable[str]) -> Iterator[tuple[list[str], str]]:
    """(fields, raw text) of each record; empty lines hold no record. The reader takes one line at a
    time and returns a record as soon as it is complete, so the lines it took are the record's."""
    taken: list[str] = []

    def take() -> Iterator[str]:
        for line in lines:
            taken.append(line)
            yield line

    for fields in csv.reader(take()):
        raw = "".join(taken)
        taken.clear()
        if fields:
            yield fields, _without_newline(raw)


def _record(fields: list[str], raw: str) -> Record:
    reasons: list[str] = []
    if len(fields) != len(HEADER):
        reasons.append("malformed_record")
    if _ESCAPED.search(raw):
        reasons.append("not_utf8")
        fields = [_shown(f) for f in fields]
    padded = tuple(fields[: len(HEADER)]) + (None,) * (len(HEADER) - len(fields))
    raw_line = (_shown(raw) if "not_utf8" in reasons else raw) if reasons else None
    return Record(padded, raw_line, tuple(reasons))


def check_header(name: str, first: list[str] | None) -> None:
    """The header, compared after trimming and ignoring case; raises HeaderError naming the file."""
    found = [f.strip().lower() for f in first or []]
    if found != [c.lower() for c in HEADER]:
        shown = ",".join(first or [])
        shown = shown if len(shown) <= 120 else shown[:117] + "..."
        raise HeaderError(f"{name}: unexpected CSV header {shown!r}, expected {','.join(HEADER)!r}")


def _after_header(name: str, stream: BinaryIO) -> Iterator[tuple[Record, str]]:
    """Each record of a file after its header (checked), with its text. An empty file has none."""
    records = _split(_lines(content(name, stream)))
    first = next(records, None)
    if first is None:
        return
    check_header(name, first[0])
    for fields, raw in records:
        yield _record(fields, raw), raw


def file_records(name: str, stream: BinaryIO) -> Iterator[Record]:
    """The records of one file after its header (checked). An empty file has none."""
    return (record for record, _ in _after_header(name, stream))


def one_record(data: bytes) -> Record:
    """A stream record's CSV text: exactly one record, else the whole text is malformed."""
    found = list(_split(_lines(io.BytesIO(data))))
    if len(found) == 1:
        return _record(*found[0])
    text = data.removeprefix(codecs.BOM_UTF8).decode("utf-8", "surrogateescape")
    utf8 = not _ESCAPED.search(text)
    reasons = ("malformed_record",) + (() if utf8 else ("not_utf8",))
    return Record((None,) * len(HEADER), text if utf8 else _shown(text), reasons)


def record_text(record: Record) -> str:
    """Eight raw fields as one CSV record (no line end): what the API puts on the stream."""
    out = io.StringIO()
    # The line end is what makes the writer quote a field holding a line break: it is cut after.
    csv.writer(out, lineterminator="\r\n").writerow(["" if f is None else f for f in record.fields])
    return out.getvalue()[:-2]


def file_lines(name: str, stream: BinaryIO) -> Iterator[tuple[bytes, tuple[str | None, ...]]]:
    """Each record of a file after its header (checked) as (its exact bytes, its eight fields):
    what `produce` puts on the stream, one record each."""
    for record, raw in _after_header(name, stream):
        yield raw.encode("utf-8", "surrogateescape"), record.fields
