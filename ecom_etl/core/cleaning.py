"""Cleaning rules 1-8 of docs/data-contract.md: raw strings in, typed lines or quarantine reasons out.

Every parse is a try-parse guarded by a regular expression, so the result is the same with ANSI SQL
off (Glue 5.1) and on (Glue 6.0): a bad value becomes a reason, never an exception or a silent null.
"""

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ecom_etl.core import contract
from ecom_etl.core.contract import REASONS
from ecom_etl.core.schema import (
    CLEAN_COLUMNS,
    QUARANTINE_COLUMNS,
    RAW_FIELDS,
    RAW_LINE,
    READ_REASONS,
    RECORD_COLUMNS,
    SOURCE,
    UNKNOWN,
)
from ecom_etl.core.spark_types import PRICE_TYPE

REASONS_COLUMN = "reasons"
REASON_BITS = "reason_bits"
COPIES = "copies"
_KEPT_RAW = RAW_FIELDS + (RAW_LINE, SOURCE)  # what the quarantine keeps of a record


def trim_whitespace(col: Column) -> Column:
    """Rule 1's trim of all surrounding whitespace. Spark's trim of a set of characters scans the
    whole text; a text whose two ends are above the space (most fields: every whitespace character
    is at most ' ') is let through after a comparison of each end."""
    low = F.lit("!")  # a text is below "!" when it is empty or starts at or below " "
    padded = (col < low) | (F.substring(col, -1, 1) < low)
    return F.when(padded, F.call_function("btrim", col, F.lit(contract.WHITESPACE))).otherwise(col)


def blank_to_null(trimmed: Column) -> Column:
    """Rule 1: an empty text (once trimmed) is a missing value."""
    return F.when(trimmed != "", trimmed)


def normalize_blank(col: Column) -> Column:
    """Rule 1 in one expression: trimmed, and null when nothing is left."""
    return blank_to_null(trim_whitespace(col))


def parse_timestamp(text: Column) -> Column:
    """Wall-clock TIMESTAMP from any accepted shape; null when the text fits none or is no real time.

    An ISO offset is dropped, not applied (the value is the shop's wall clock, see the contract), and
    a fraction beyond microseconds is cut. One regular expression picks the shape, one try-parse
    reads it. The dash shape (the exporters' own) is read by Spark's cast, which reads every text of
    that shape as its pattern does (`tests/test_one_contract.py` holds them to one result) at a
    fraction of the cost of a pattern.
    """
    (dash, _), (slash, slash_format), (iso, iso_format) = contract.DASH, contract.SLASH, contract.ISO
    iso_text = F.regexp_replace(
        F.regexp_replace(F.regexp_replace(text, contract.ISO_OFFSET, ""), ",", "."), contract.BEYOND_MICROS, "$1"
    )
    return (
        F.when(text.rlike(dash), F.try_to_timestamp(text))
        .when(text.rlike(slash), F.try_to_timestamp(text, F.lit(slash_format)))
        .when(text.rlike(iso), F.try_to_timestamp(iso_text, F.lit(iso_format)))
    )


def _bit(name: str) -> int:
    return 1 << REASONS.index(name)


def reason_bits(conditions: dict[str, Column]) -> Column:
    """The reasons whose condition holds, as an int with bit i for REASONS[i]: adding up a few ints
    costs far less than building an array of strings for every line, clean ones included."""
    bits = F.lit(0)
    for name, condition in conditions.items():
        bits = bits + F.when(condition, F.lit(_bit(name))).otherwise(F.lit(0))
    return bits


def reasons_of(bits: Column) -> Column:
    """The reasons (array<string>, in the contract's order) of an int of reason bits."""
    named = [F.when(bits.bitwiseAND(1 << i) != 0, F.lit(name)) for i, name in enumerate(REASONS)]
    return F.array_except(F.array(*named), F.array(F.lit(None).cast("string")))


def _read_bits(read_reasons: Column) -> Column:
    """What reading found (`read_reasons`, an array of READ_REASONS) as reason bits."""
    found = reason_bits({name: F.array_contains(read_reasons, name) for name in contract.READ_REASONS})
    return F.when(F.size(read_reasons) > 0, found).otherwise(F.lit(0))


def parse_lines(raw: DataFrame) -> DataFrame:
    """Add the eight cleaned columns and `reason_bits` (0 when the line is clean) to records.

    Expects RECORD_COLUMNS (see schema.py) and keeps the raw ones for the quarantine, and any other
    column as it is; `reasons_of` names the reasons. Projections that each name the one before's
    columns more than once, so that Spark does not merge them and every trim and parse runs once per
    line: trimmed texts, blanks made null, parsed values, then the reasons. A filter on the result is
    best kept apart from it (e.g. by an observation): pushed below these projections, it would parse
    the line again.
    """
    others = [c for c in raw.columns if c not in RECORD_COLUMNS]
    raw_kept = [F.col(c) for c in (*_KEPT_RAW, READ_REASONS, *others)]
    trimmed = raw.select(*raw_kept, *[trim_whitespace(F.col(f"raw_{n}")).alias(f"_t_{n}") for n in CLEAN_COLUMNS])
    text = {name: F.col(f"_t_{name}") for name in CLEAN_COLUMNS}
    trimmed = trimmed.select(*raw_kept, *[blank_to_null(text[name]).alias(f"_t_{name}") for name in CLEAN_COLUMNS])
    numeric_customer = F.regexp_extract(text["customer_id"], contract.NUMERIC_CUSTOMER, 1)
    parsed = trimmed.select(
        *raw_kept,
        *text.values(),
        F.translate(text["invoice_no"], contract.LOWERCASE, contract.UPPERCASE).alias("invoice_no"),
        F.translate(text["stock_code"], contract.LOWERCASE, contract.UPPERCASE).alias("stock_code"),
        F.coalesce(text["description"], F.lit(UNKNOWN)).alias("description"),
        F.when(text["quantity"].rlike(contract.INTEGER), text["quantity"].cast("int")).alias("quantity"),
        parse_timestamp(text["invoice_ts"]).alias("invoice_ts"),
        F.when(text["unit_price"].rlike(contract.PRICE), text["unit_price"].cast(PRICE_TYPE)).alias("unit_price"),
        F.coalesce(F.when(numeric_customer != "", numeric_customer), text["customer_id"], F.lit(UNKNOWN)).alias(
            "customer_id"
        ),
        F.coalesce(text["country"], F.lit(UNKNOWN)).alias("country"),
    )

    def missing_or_bad(name: str, field: str, bad: str) -> dict[str, Column]:
        return {
            f"{field}_missing": text[name].isNull(),
            f"{field}_{bad}": text[name].isNotNull() & F.col(name).isNull(),
        }

    rules = reason_bits(
        {
            "invoice_no_missing": text["invoice_no"].isNull(),
            "stock_code_missing": text["stock_code"].isNull(),
            **missing_or_bad("quantity", "quantity", "not_integer"),
            **missing_or_bad("unit_price", "unit_price", "not_decimal"),
            **missing_or_bad("invoice_ts", "invoice_date", "unparseable"),
        }
    )
    return parsed.select(
        *_KEPT_RAW, *others, *CLEAN_COLUMNS, (_read_bits(F.col(READ_REASONS)) + rules).alias(REASON_BITS)
    )


def clean_lines(parsed: DataFrame) -> DataFrame:
    """The clean lines, with only the eight cleaned columns."""
    return parsed.where(F.col(REASON_BITS) == 0).select(*CLEAN_COLUMNS)


def distinct_lines(clean: DataFrame) -> DataFrame:
    """One row per exact duplicate group (equal on the eight cleaned fields), with the number of
    copies the input held in `copies`: rule 8, with what the run reports of it."""
    return clean.groupBy(*CLEAN_COLUMNS).agg(F.count(F.lit(1)).alias(COPIES))


def quarantined_lines(parsed: DataFrame, ingested_at: Column) -> DataFrame:
    """The lines that failed, with their raw values, reasons, source and ingest time.

    `quarantine_id` is stable across reruns of the same input (source, raw values and the
    occurrence among identical rows), which is what makes writing the quarantine idempotent.
    """
    fingerprint = F.sha2(F.to_json(F.struct(*_KEPT_RAW)), 256)
    bad = parsed.where(F.col(REASON_BITS) != 0).select(
        *_KEPT_RAW, reasons_of(F.col(REASON_BITS)).alias(REASONS_COLUMN), fingerprint.alias("_fingerprint")
    )
    occurrence = F.row_number().over(Window.partitionBy("_fingerprint").orderBy("_fingerprint"))
    return bad.select(
        "*",
        F.sha2(F.concat_ws("#", "_fingerprint", occurrence.cast("string")), 256).alias("quarantine_id"),
        ingested_at.alias("ingested_at"),
    ).select(*QUARANTINE_COLUMNS)


def dynamodb_rejects() -> Column:
    """The sink reasons (reason bits) a clean line cannot be written to the DynamoDB tables: a key
    over its size limit, or an item over 400 KB (contract.sink_problems in Spark)."""
    key = F.lit(False)
    for name, limit in contract.KEY_LIMITS.items():
        key = key | (F.octet_length(F.col(name)) > limit)
    size = F.lit(contract.ITEM_FIXED_BYTES)
    for name in contract.ITEM_STRINGS:
        size = size + F.octet_length(F.col(name))
    too_large = size > contract.DYNAMODB_ITEM_BYTES
    return reason_bits({"dynamodb_key_too_large": key, "dynamodb_item_too_large": too_large})
