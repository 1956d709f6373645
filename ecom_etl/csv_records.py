"""Raw bytes -> order-line records: the one CSV reader of every path (files, `produce`, the stream).

RFC 4180 with Python's csv module: quoted fields may hold commas, doubled quotes and line breaks;
CRLF, LF and CR all end a record; a UTF-8 byte order mark is skipped; gzip is undone. A record
whose bytes are not UTF-8 keeps them, each such byte written `\\xNN`, and is marked so that it is
quarantined, never stored altered. Plain Python: the batch job runs it in Spark's Python workers,
`produce` and the API run it as it is.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import sys
import zlib
from collections.abc import Iterator
from typing import NamedTuple

from ecom_etl.contract import HEADER

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


def is_gzip(name: str, data: bytes) -> bool:
    return name.endswith(".gz") or data[:2] == GZIP_MAGIC


def decompress(name: str, data: bytes) -> bytes:
    """The file's bytes, gunzipped where it is gzip (`.csv.gz`, as S3 exports and Firehose write;
    every member of a concatenated gzip)."""
    return gzip.decompress(data) if is_gzip(name, data) else data


def head(name: str, first_bytes: bytes) -> bytes:
    """The start of a file's content from its first bytes, decompressing what is there."""
    if not is_gzip(name, first_bytes):
        return first_bytes
    return zlib.decompressobj(wbits=31).decompress(first_bytes, HEADER_BYTES)


def _text(data: bytes) -> tuple[str, bool]:
    """(text, every byte was UTF-8); a leading byte order mark is dropped."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8"), True
    except UnicodeDecodeError:
        return data.decode("utf-8", "surrogateescape"), False


def _shown(text: str) -> str:
    """Text that held invalid bytes, with each of them as \\xNN (reversible, never altered)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _without_newline(raw: str) -> str:
    return raw[:-2] if raw.endswith("\r\n") else raw[:-1] if raw.endswith(("\n", "\r")) else raw


def _split(text: str) -> Iterator[tuple[list[str], str]]:
    """(fields, raw text) of each record; empty lines hold no record."""
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines)
    start = 0
    for fields in reader:
        end = reader.line_num
        raw = "".join(lines[start:end])
        start = end
        if fields:
            yield fields, _without_newline(raw)


def _record(fields: list[str], raw: str, utf8: bool) -> Record:
    reasons: list[str] = []
    if len(fields) != len(HEADER):
        reasons.append("malformed_record")
    if not utf8 and _ESCAPED.search(raw):
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


def header_of(name: str, first_bytes: bytes) -> list[str] | None:
    """The first record of a file from its first bytes (None for an empty file)."""
    text, _ = _text(head(name, first_bytes))
    return next((fields for fields, _ in _split(text)), None)


def _after_header(name: str, data: bytes) -> Iterator[tuple[Record, str]]:
    """Each record of a file after its header (checked), with its text. An empty file has none."""
    text, utf8 = _text(decompress(name, data))
    records = _split(text)
    first = next(records, None)
    if first is None:
        return
    check_header(name, first[0])
    for fields, raw in records:
        yield _record(fields, raw, utf8), raw


def file_records(name: str, data: bytes) -> Iterator[Record]:
    """The records of one file after its header (checked). An empty file has none."""
    return (record for record, _ in _after_header(name, data))


def one_record(data: bytes) -> Record:
    """A stream record's CSV text: exactly one record, else the whole text is malformed."""
    text, utf8 = _text(data)
    found = list(_split(text))
    if len(found) == 1:
        return _record(*found[0], utf8)
    raw = _shown(text) if not utf8 else text
    reasons = ("malformed_record",) + (("not_utf8",) if not utf8 else ())
    return Record((None,) * len(HEADER), raw, reasons)


def record_text(record: Record) -> str:
    """Eight raw fields as one CSV record (no line end): what the API puts on the stream."""
    out = io.StringIO()
    # The line end is what makes the writer quote a field holding a line break: it is cut after.
    csv.writer(out, lineterminator="\r\n").writerow(["" if f is None else f for f in record.fields])
    return out.getvalue()[:-2]


def file_lines(name: str, data: bytes) -> Iterator[tuple[bytes, tuple[str | None, ...]]]:
    """Each record of a file after its header (checked) as (its exact bytes, its eight fields):
    what `produce` puts on the stream, one record each."""
    for record, raw in _after_header(name, data):
        yield raw.encode("utf-8", "surrogateescape"), record.fields
