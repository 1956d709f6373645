"""Cleaning rules 1-8 of docs/data-contract.md: raw strings in, typed lines or quarantine reasons out.

Every parse is a try-parse guarded by a regular expression, so the result is the same with ANSI SQL
off (Glue 5.1) and on (Glue 6.0): a bad value becomes a reason, never an exception or a silent null.
"""

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ecom_etl import contract
from ecom_etl.contract import REASONS
from ecom_etl.schema import (
    CLEAN_COLUMNS,
    QUARANTINE_COLUMNS,
    RAW_FIELDS,
    RAW_LINE,
    READ_REASONS,
    SOURCE,
    UNKNOWN,
)
from ecom_etl.spark_types import PRICE_TYPE

REASONS_COLUMN = "reasons"
_KEPT_RAW = RAW_FIELDS + (RAW_LINE, SOURCE)  # what the quarantine keeps of a record


def normalize_blank(col: Column) -> Column:
    """Trim all surrounding whitespace; an empty result is a missing value (null)."""
    trimmed = F.call_function("btrim", col, F.lit(contract.WHITESPACE))
    return F.when(trimmed != "", trimmed)


def parse_timestamp(text: Column) -> Column:
    """Wall-clock TIMESTAMP from any accepted shape; null when the text fits none or is no real time.

    An ISO offset is dropped, not applied (the value is the shop's wall clock, see the contract), and
    a fraction beyond microseconds is cut. One regular expression picks the shape, one try-parse
    reads it: this column was most of the batch job's cleaning time when each part had its own.
    """
    (dash, dash_format), (slash, slash_format), (iso, iso_format) = contract.DASH, contract.SLASH, contract.ISO
    iso_text = F.regexp_replace(
        F.regexp_replace(F.regexp_replace(text, contract.ISO_OFFSET, ""), ",", "."), contract.BEYOND_MICROS, "$1"
    )
    return (
        F.when(text.rlike(dash), F.try_to_timestamp(text, F.lit(dash_format)))
        .when(text.rlike(slash), F.try_to_timestamp(text, F.lit(slash_format)))
        .when(text.rlike(iso), F.try_to_timestamp(iso_text, F.lit(iso_format)))
    )


def _reason(name: str) -> Column:
    assert name in REASONS, f"{name} is not a reason of the contract"
    return F.lit(name)


def _present(reasons: list[Column]) -> Column:
    """The non-null reasons as an array. concat_ws skips nulls in generated code; filtering an
    array with a lambda costs about half of all the parsing."""
    joined = F.concat_ws(",", *reasons)
    return F.when(joined == "", F.array().cast("array<string>")).otherwise(F.split(joined, ","))


def _reasons(read: Column, rules: list[Column]) -> Column:
    """What reading found, then what the rules found, in the contract's order."""
    return F.concat(F.coalesce(read, F.array().cast("array<string>")), _present(rules))


def parse_lines(raw: DataFrame) -> DataFrame:
    """Add the eight cleaned columns and `reasons` (empty when the line is clean) to records.

    Expects RECORD_COLUMNS (see schema.py) and keeps the raw ones for the quarantine.
    """
    text = {name: normalize_blank(F.col(f"raw_{name}")) for name in CLEAN_COLUMNS}
    invoice_no = F.translate(text["invoice_no"], contract.LOWERCASE, contract.UPPERCASE)
    stock_code = F.translate(text["stock_code"], contract.LOWERCASE, contract.UPPERCASE)
    quantity = F.when(text["quantity"].rlike(contract.INTEGER), text["quantity"].cast("int"))
    unit_price = F.when(text["unit_price"].rlike(contract.PRICE), text["unit_price"].cast(PRICE_TYPE))
    invoice_ts = parse_timestamp(text["invoice_ts"])
    customer = text["customer_id"]
    customer_id = F.coalesce(
        F.when(customer.rlike(contract.NUMERIC_CUSTOMER), F.regexp_extract(customer, contract.NUMERIC_CUSTOMER, 1)),
        customer,
        F.lit(UNKNOWN),
    )

    def missing_or_bad(name: str, parsed: Column, field: str, bad: str) -> list[Column]:
        return [
            F.when(text[name].isNull(), _reason(f"{field}_missing")),
            F.when(text[name].isNotNull() & parsed.isNull(), _reason(f"{field}_{bad}")),
        ]

    reasons = [
        F.when(invoice_no.isNull(), _reason("invoice_no_missing")),
        F.when(stock_code.isNull(), _reason("stock_code_missing")),
        *missing_or_bad("quantity", quantity, "quantity", "not_integer"),
        *missing_or_bad("unit_price", unit_price, "unit_price", "not_decimal"),
        *missing_or_bad("invoice_ts", invoice_ts, "invoice_date", "unparseable"),
    ]
    return raw.select(
        *_KEPT_RAW,
        invoice_no.alias("invoice_no"),
        stock_code.alias("stock_code"),
        F.coalesce(text["description"], F.lit(UNKNOWN)).alias("description"),
        quantity.alias("quantity"),
        invoice_ts.alias("invoice_ts"),
        unit_price.alias("unit_price"),
        customer_id.alias("customer_id"),
        F.coalesce(text["country"], F.lit(UNKNOWN)).alias("country"),
        _reasons(F.col(READ_REASONS), reasons).alias(REASONS_COLUMN),
    )


def line_counts() -> list[Column]:
    """Aggregates over parsed lines: all of them, the quarantined ones, and the lines with each
    reason (a line can have several). Meant for `DataFrame.observe`, so counting costs no pass."""
    reasons = F.col(REASONS_COLUMN)
    return [
        F.count(F.lit(1)).alias("lines"),
        F.count(F.when(F.size(reasons) > 0, 1)).alias("quarantined"),
        *[F.count(F.when(F.array_contains(reasons, r), 1)).alias(r) for r in REASONS],
    ]


def valid_lines(parsed: DataFrame) -> DataFrame:
    """The clean lines, with only the eight cleaned columns."""
    return parsed.where(F.size(REASONS_COLUMN) == 0).select(*CLEAN_COLUMNS)


def drop_exact_duplicates(lines: DataFrame) -> DataFrame:
    """Keep one line of each group equal on all eight cleaned fields."""
    return lines.dropDuplicates(list(CLEAN_COLUMNS))


def quarantined_lines(parsed: DataFrame, ingested_at: Column) -> DataFrame:
    """The lines that failed, with their raw values, reasons, source and ingest time.

    `quarantine_id` is stable across reruns of the same input (source, raw values and the
    occurrence among identical rows), which is what makes writing the quarantine idempotent.
    """
    fingerprint = F.sha2(F.to_json(F.struct(*_KEPT_RAW)), 256)
    bad = parsed.where(F.size(REASONS_COLUMN) > 0).select(*_KEPT_RAW, REASONS_COLUMN, fingerprint.alias("_fingerprint"))
    occurrence = F.row_number().over(Window.partitionBy("_fingerprint").orderBy("_fingerprint"))
    return bad.select(
        "*",
        F.sha2(F.concat_ws("#", "_fingerprint", occurrence.cast("string")), 256).alias("quarantine_id"),
        ingested_at.alias("ingested_at"),
    ).select(*QUARANTINE_COLUMNS)


def dynamodb_rejects() -> Column:
    """The sink reasons (array<string>) a clean line cannot be written to the DynamoDB tables:
    a key over its size limit, or an item over 400 KB (contract.sink_problems in Spark)."""
    keys = [
        F.when(F.octet_length(F.col(name)) > limit, _reason("dynamodb_key_too_large"))
        for name, limit in contract.KEY_LIMITS.items()
    ]
    size = F.lit(contract.ITEM_FIXED_BYTES)
    for name in contract.ITEM_STRINGS:
        size = size + F.octet_length(F.col(name))
    item = F.when(size > contract.DYNAMODB_ITEM_BYTES, _reason("dynamodb_item_too_large"))
    return F.array_distinct(_present([*keys, item]))
