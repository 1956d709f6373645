"""The data contract's cleaning rules (docs/data-contract.md) as plain Python values and functions.

One definition, two engines: `cleaning.py` builds its Spark expressions from the patterns here, and
the API (a Lambda without Spark) checks a posted line with `clean_line`, so a line gets the same
fate on every path. A test feeds the same hostile lines through both and compares.
"""

from __future__ import annotations

import re
import string
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

# The raw CSV header, in file order. Every column is read as a string.
HEADER: tuple[str, ...] = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
)
UNKNOWN = "unknown"
WHITESPACE = " \t\n\x0b\f\r"  # what Java's \s means; trimmed from every field
# Rule 2 upper-cases a-z only: Unicode's case tables differ between engines (Python 3.11 upper-cases
# U+2C5F, Java 17 keeps it), so any other letter would be stored as one thing and looked up as another.
LOWERCASE, UPPERCASE = string.ascii_lowercase, string.ascii_uppercase
_TO_UPPER = str.maketrans(LOWERCASE, UPPERCASE)

# Digit counts are bounded so that a matching text always fits its type: the cast cannot fail.
INTEGER = r"^[+-]?[0-9]{1,9}$"
# At most three significant fraction digits (trailing zeros are harmless): nothing is rounded.
PRICE = r"^[+-]?([0-9]{1,9}(\.[0-9]{0,3}0*)?|\.[0-9]{1,3}0*)$"
NUMERIC_CUSTOMER = r"^([0-9]+)\.0+$"
# Accepted timestamp shapes: the regular expression fixes the shape, the Spark pattern reads it.
# Years run from 1900 to 9999: no order is older, and before 1900 calendars differ between Spark
# versions and Parquet (a year 0000 once failed a whole batch's write).
YEAR = "(19[0-9]{2}|[2-9][0-9]{3})"
DASH = (rf"^{YEAR}-([0-9]{{1,2}})-([0-9]{{1,2}}) ([0-9]{{1,2}}):([0-9]{{2}})(?::([0-9]{{2}}))?$", "yyyy-M-d H:mm[:ss]")
SLASH = (rf"^([0-9]{{1,2}})/([0-9]{{1,2}})/{YEAR} ([0-9]{{1,2}}):([0-9]{{2}})(?::([0-9]{{2}}))?$", "M/d/yyyy H:mm[:ss]")
ISO = (
    rf"^{YEAR}-([0-9]{{2}})-([0-9]{{2}})T([0-9]{{2}}):([0-9]{{2}})(?::([0-9]{{2}})(?:[.,]([0-9]{{1,9}}))?)?"
    r"(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?$",
    "yyyy-MM-dd'T'HH:mm[:ss][.SSSSSS]",
)
ISO_OFFSET = r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
BEYOND_MICROS = r"(\.[0-9]{6})[0-9]+$"

# Every quarantine reason, in the contract's order: READ_REASONS come from reading the record
# (a Kinesis record too large to send carries no fields), SINK_REASONS from the stream's DynamoDB
# tables (a line valid for silver that they cannot hold).
REASONS: tuple[str, ...] = (
    "malformed_record",
    "not_utf8",
    "kinesis_record_too_large",
    "invoice_no_missing",
    "stock_code_missing",
    "quantity_missing",
    "quantity_not_integer",
    "unit_price_missing",
    "unit_price_not_decimal",
    "invoice_date_missing",
    "invoice_date_unparseable",
    "dynamodb_key_too_large",
    "dynamodb_item_too_large",
)
READ_REASONS = REASONS[:3]
SINK_REASONS = REASONS[-2:]

# The sinks' per-record limits (AWS's), checked before any write.
KINESIS_RECORD_BYTES = 1024 * 1024  # data + partition key
DYNAMODB_ITEM_BYTES = 400 * 1024
DYNAMODB_PARTITION_KEY_BYTES = 2048
DYNAMODB_SORT_KEY_BYTES = 1024
LINE_KEY_SUFFIX_BYTES = 13  # "#" + 12 hex digits after the stock code
NUMBER_BYTES = 21  # DynamoDB's largest number: every number counts as that much
# Key fields -> the most bytes each may hold: InvoiceNo is a sort key (customers), CustomerID a
# partition key (customers), StockCode the head of the invoices table's sort key.
KEY_LIMITS = {
    "invoice_no": DYNAMODB_SORT_KEY_BYTES,
    "customer_id": DYNAMODB_PARTITION_KEY_BYTES,
    "stock_code": DYNAMODB_SORT_KEY_BYTES - LINE_KEY_SUFFIX_BYTES,
}
# The invoices item (the larger of the two per line): attribute names, string values, numbers.
ITEM_NAMES = (
    "InvoiceNo",
    "LineKey",
    "StockCode",
    "Description",
    "Quantity",
    "UnitPrice",
    "LineAmount",
    "InvoiceDate",
    "CustomerID",
    "Country",
    "IsCancellation",
)
# stock_code twice: StockCode and the head of LineKey.
ITEM_STRINGS = ("invoice_no", "stock_code", "stock_code", "description", "customer_id", "country")
INVOICE_DATE_BYTES = 26  # "2011-12-09 12:50:00.123456", the longest InvoiceDate
BOOLEAN_BYTES = 1
ITEM_FIXED_BYTES = (
    sum(len(n) for n in ITEM_NAMES) + LINE_KEY_SUFFIX_BYTES + 3 * NUMBER_BYTES + INVOICE_DATE_BYTES + BOOLEAN_BYTES
)

# The eight cleaned fields, in the header's order: equal on all of them means an exact duplicate.
CLEAN_COLUMNS: tuple[str, ...] = (
    "invoice_no",
    "stock_code",
    "description",
    "quantity",
    "invoice_ts",
    "unit_price",
    "customer_id",
    "country",
)
FIELD_OF = dict(zip(CLEAN_COLUMNS, HEADER))


class CleanLine(NamedTuple):
    """A line after rules 1-8: the cleaned values (None where a rule failed) and its reasons."""

    values: dict[str, object]
    reasons: list[str]


def blank_to_none(text: str | None) -> str | None:
    """Rule 1: trim all surrounding whitespace; an empty result is a missing value."""
    if text is None:
        return None
    trimmed = text.strip(WHITESPACE)
    return trimmed or None


def code(text: str | None) -> str | None:
    """Rule 2 (invoice_no, stock_code): trimmed, a-z upper-cased; None when missing."""
    trimmed = blank_to_none(text)
    return trimmed.translate(_TO_UPPER) if trimmed else None


def customer_id(text: str | None) -> str:
    """Rule 6: a numeric id with a zero fraction loses it (17850.0 -> 17850); missing -> unknown."""
    trimmed = blank_to_none(text)
    numeric = re.match(NUMERIC_CUSTOMER, trimmed) if trimmed else None
    return numeric.group(1) if numeric else (trimmed or UNKNOWN)


def parse_timestamp(text: str) -> datetime | None:
    """Rule 5 in Python: the wall-clock time, or None when no shape fits or the time is impossible."""
    for pattern, order in ((DASH[0], "ymd"), (SLASH[0], "mdy"), (ISO[0], "ymd")):
        found = re.match(pattern, text)
        if not found:
            continue
        a, b, c, hour, minute, second, *fraction = found.groups() + (None,)
        parts = {"y": a, "m": b, "d": c} if order == "ymd" else {"m": a, "d": b, "y": c}
        micros = int(((fraction[0] or "") + "000000")[:6]) if fraction[0] else 0
        try:
            return datetime(
                int(parts["y"]), int(parts["m"]), int(parts["d"]), int(hour), int(minute), int(second or 0), micros
            )
        except ValueError:
            return None
    return None


def clean_line(raw: dict[str, str | None]) -> CleanLine:
    """Rules 1-8 for one line given as raw strings by header name (HEADER)."""
    text = {name: blank_to_none(raw.get(column)) for name, column in FIELD_OF.items()}
    reasons: list[str] = []
    values: dict[str, object] = {}
    values["invoice_no"], values["stock_code"] = code(text["invoice_no"]), code(text["stock_code"])
    reasons += ["invoice_no_missing"] if values["invoice_no"] is None else []
    reasons += ["stock_code_missing"] if values["stock_code"] is None else []
    checks = (
        ("quantity", "quantity", "not_integer", INTEGER, int),
        ("unit_price", "unit_price", "not_decimal", PRICE, lambda t: Decimal(t).quantize(Decimal("0.001"))),
        ("invoice_ts", "invoice_date", "unparseable", None, parse_timestamp),
    )
    for name, reason, bad, pattern, parse in checks:
        value = text[name]
        parsed = None
        if value is not None and (pattern is None or re.match(pattern, value)):
            parsed = parse(value)
        values[name] = parsed
        if value is None:
            reasons.append(f"{reason}_missing")
        elif parsed is None:
            reasons.append(f"{reason}_{bad}")
    values["customer_id"] = customer_id(text["customer_id"])
    values["description"] = text["description"] or UNKNOWN
    values["country"] = text["country"] or UNKNOWN
    return CleanLine(values, sorted(reasons, key=REASONS.index))


def sink_problems(values: dict[str, object]) -> list[tuple[str, str]]:
    """(reason, field) for each DynamoDB limit a clean line would break; empty when it fits."""
    problems = [
        ("dynamodb_key_too_large", FIELD_OF[name])
        for name, limit in KEY_LIMITS.items()
        if len(str(values[name]).encode("utf-8")) > limit
    ]
    size = ITEM_FIXED_BYTES + sum(len(str(values[name]).encode("utf-8")) for name in ITEM_STRINGS)
    if size > DYNAMODB_ITEM_BYTES:
        problems.append(("dynamodb_item_too_large", "line"))
    return problems
