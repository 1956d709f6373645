"""An order line on the wire: the Kinesis record that carries it, and the Record it reads back as.

A record is a small JSON object holding the line's CSV text exactly as it was written:
`{"csv": "<one CSV record>"}`, or `{"csv_base64": "..."}` when its bytes are not UTF-8. The stream
job reads the text with the same CSV reader as a file, so a line has one fate on every path, and
the record has no line break of its own: the archive (Firehose) holds one record per line. A line
too large for Kinesis travels as `{"too_large": {...}}` with its size and start, and is quarantined.
No Spark here: the API's Lambda package uses this module.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

from ecom_etl.core import csv_records
from ecom_etl.core.contract import HEADER, KINESIS_RECORD_BYTES
from ecom_etl.core.csv_records import Record

MAX_PARTITION_KEY = 256  # Kinesis: 1-256 characters
SHOWN_OF_TOO_LARGE = 2048  # characters of an oversized line kept for its quarantine row


def partition_key(fields: tuple[str | None, ...]) -> str:
    """InvoiceNo keeps an invoice's lines on one shard, in order."""
    return ((fields[0] or "").strip() or "_")[:MAX_PARTITION_KEY]


def line_payload(line: bytes) -> bytes:
    """The record of one CSV record's bytes (as found in a file, or as the API wrote it)."""
    try:
        body = {"csv": line.decode("utf-8")}
    except UnicodeDecodeError:
        body = {"csv_base64": base64.b64encode(line).decode("ascii")}
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(payload) + MAX_PARTITION_KEY <= KINESIS_RECORD_BYTES:
        return payload
    shown = line[:SHOWN_OF_TOO_LARGE].decode("utf-8", "backslashreplace")
    marker = {"too_large": {"bytes": len(line), "sha256": hashlib.sha256(line).hexdigest(), "start": shown}}
    return json.dumps(marker, separators=(",", ":")).encode("utf-8")


def is_too_large(payload: bytes) -> bool:
    """Whether line_payload had to send a marker instead of the line."""
    return payload.startswith(b'{"too_large"')


def _malformed(raw: str, *more: str) -> Record:
    return Record((None,) * len(HEADER), raw, ("malformed_record", *more))


def _object(text: str) -> dict | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def payload_record(payload: bytes) -> Record:
    """A record's bytes -> the Record the CSV reader makes of its line (malformed if no such line)."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return _malformed(payload.decode("utf-8", "backslashreplace"), "not_utf8")
    try:
        body = json.loads(text)
    except (ValueError, RecursionError):
        return _malformed(text)
    if isinstance(body, dict) and len(body) == 1:
        ((kind, value),) = body.items()
        if kind == "csv" and isinstance(value, str):
            try:
                return csv_records.one_record(value.encode("utf-8"))
            except UnicodeEncodeError:  # lone surrogates written as JSON escapes
                return _malformed(text, "not_utf8")
        if kind == "csv_base64" and isinstance(value, str):
            try:
                return csv_records.one_record(base64.b64decode(value, validate=True))
            except binascii.Error:
                return _malformed(text)
        if kind == "too_large" and isinstance(value, str):  # as Glue's JSON reader hands it over
            value = _object(value)
        if kind == "too_large" and isinstance(value, dict):
            shown = f"{value.get('start', '')}... ({value.get('bytes')} bytes, sha256 {value.get('sha256')})"
            return Record((None,) * len(HEADER), shown, ("kinesis_record_too_large",))
    return _malformed(text)
