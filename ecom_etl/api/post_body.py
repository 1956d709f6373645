"""A POST /orders body -> the stream's records, or every problem with it (nothing partial).

Bounded before it is parsed (its size by the caller, then nesting depth and strict UTF-8, each in
linear time); a key twice in one object is refused (which value was meant would be a guess); each
line is a JSON object of the eight header fields (strings or numbers, numbers kept as written). A
line is written as the CSV record the stream job will read, read back with the same reader, and
judged by the contract's own rules and the sinks' limits: what passes here passes there.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from decimal import Decimal
from itertools import accumulate

from ecom_etl.core import contract, csv_records, wire
from ecom_etl.core.contract import HEADER

MAX_BODY_BYTES = 1024 * 1024  # larger bodies are refused (413) before parse_orders sees them
TOO_LARGE = f"body: larger than the limit of {MAX_BODY_BYTES:,} bytes"
MAX_LINES = 500  # one PutRecords call
MAX_DEPTH = 3  # {"lines": [{...}]}
_BRACKETS = re.compile(r"[\[\]{}]")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
PROBLEM = {
    "invoice_no_missing": ("InvoiceNo", "required"),
    "stock_code_missing": ("StockCode", "required"),
    "quantity_missing": ("Quantity", "required"),
    "quantity_not_integer": ("Quantity", "must be an integer (at most 9 digits)"),
    "unit_price_missing": ("UnitPrice", "required"),
    "unit_price_not_decimal": ("UnitPrice", "must be a decimal number with at most 3 decimal places"),
    "invoice_date_missing": ("InvoiceDate", "required"),
    "invoice_date_unparseable": ("InvoiceDate", "must be a date and time, e.g. 2011-12-09 12:00:00"),
}


def nesting_depth(text: str) -> int:
    """How deeply the JSON text nests arrays and objects (strings skipped), without parsing it.

    Escaped backslashes, then escaped quotes are dropped (in that order they pair as JSON pairs
    them), so every quote left opens or closes a string, and the brackets between strings are
    counted. Each step is one pass of str's or re's own scan, so the time is linear in the text: a
    regular expression matching whole strings was quadratic on a string never closed.
    """
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    between_strings = "".join(unescaped.split('"')[::2])
    return max(accumulate(map(_STEP.__getitem__, _BRACKETS.findall(between_strings)), initial=0))


class RepeatedKey(ValueError):
    """A JSON object names one key twice."""


def _object(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object as a dict, refused when a key repeats (json.loads keeps the last silently)."""
    found = dict(pairs)
    if len(found) < len(pairs):
        repeated = next(name for name, count in Counter(name for name, _ in pairs).items() if count > 1)
        raise RepeatedKey(f"body: the key {json.dumps(repeated, ensure_ascii=False)} appears twice in one object")
    return found


def _text(value: object) -> str | None:
    """A JSON value as the raw string a CSV field would hold (numbers keep their written form)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise ValueError("must be a string or a number")


def check_line(index: int, line: object) -> tuple[dict | None, list[str]]:
    """A posted line -> (its PutRecords entry, problems)."""
    where = f"lines[{index}]"
    if not isinstance(line, dict):
        return None, [f"{where}: must be an object"]
    problems = [f"{where}.{name}: unknown field" for name in line if name not in HEADER]
    fields: list[str | None] = []
    unreadable = False
    for name in HEADER:
        try:
            value = _text(line.get(name))
            if value is not None:
                value.encode("utf-8")
        except UnicodeEncodeError:  # a ValueError too: first
            problems.append(f"{where}.{name}: not valid Unicode text (a lone surrogate)")
            value, unreadable = None, True
        except ValueError as exc:
            problems.append(f"{where}.{name}: {exc}")
            value, unreadable = None, True
        fields.append(value)
    if unreadable:
        return None, problems
    text = csv_records.record_text(csv_records.Record(tuple(fields), None, ()))
    record = csv_records.one_record(text.encode("utf-8"))  # what the stream job will read
    cleaned = contract.clean_line(dict(zip(HEADER, record.fields)))
    problems += [f"{where}.{PROBLEM[r][0]}: {PROBLEM[r][1]}" for r in cleaned.reasons if r in PROBLEM]
    problems += [f"{where}: {r}" for r in record.reasons + tuple(r for r in cleaned.reasons if r not in PROBLEM)]
    if problems:
        return None, problems
    problems += [
        f"{where}.{field}: too large for DynamoDB ({reason})"
        for reason, field in contract.sink_problems(cleaned.values)
    ]
    payload = wire.line_payload(text.encode("utf-8"))
    if wire.is_too_large(payload):
        problems.append(f"{where}: larger than a stream record may be ({contract.KINESIS_RECORD_BYTES:,} bytes)")
    entry = {"Data": payload, "PartitionKey": wire.partition_key(record.fields)}
    return (None if problems else entry), problems


def parse_orders(raw: bytes) -> tuple[list[dict], list[str]]:
    """The request's PutRecords entries, or every problem found with it (a body of at most MAX_BODY_BYTES)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return [], ["body: not valid UTF-8"]
    if nesting_depth(text) > MAX_DEPTH:
        return [], [f"body: nested deeper than {MAX_DEPTH} levels"]
    try:
        payload = json.loads(text, parse_float=Decimal, object_pairs_hook=_object)
    except RepeatedKey as exc:
        return [], [str(exc)]
    except ValueError as exc:
        return [], [f"body: not valid JSON ({exc})"]
    if not isinstance(payload, dict):
        return [], ['body: must be a JSON object {"lines": [...]}']
    lines = payload.get("lines")
    if not isinstance(lines, list) or not lines:
        return [], ["lines: must be a non-empty list of order lines"]
    if len(lines) > MAX_LINES:
        return [], [f"lines: {len(lines):,} lines, more than the limit of {MAX_LINES}"]
    entries, problems = [], []
    for index, line in enumerate(lines):
        entry, found = check_line(index, line)
        entries.append(entry)
        problems += found
    return entries, problems
