"""Cleaning rules 1-8 of docs/data-contract.md."""

from datetime import datetime
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import functions as F

from ecom_etl.core.cleaning import REASON_BITS, clean_lines, distinct_lines, parse_lines, quarantined_lines, reasons_of
from ecom_etl.core.schema import CLEAN_COLUMNS, QUARANTINE_COLUMNS
from tests.builders import raw, raw_lines

CLEAN_DDL = (
    "invoice_no string, stock_code string, description string, quantity int, invoice_ts timestamp, "
    "unit_price decimal(12,3), customer_id string, country string"
)


def clean(spark, *rows):
    return raw_lines(spark, *rows).transform(parse_lines).transform(clean_lines)


def parsed_with_reasons(spark, *rows):
    parsed = raw_lines(spark, *rows).transform(parse_lines)
    return parsed.withColumn("reasons", reasons_of(F.col(REASON_BITS)))


def reasons(spark, *rows) -> list[list[str]]:
    return [r.reasons for r in parsed_with_reasons(spark, *rows).select("reasons").collect()]


def test_a_good_line_is_trimmed_typed_and_normalised(spark):
    row = (
        " 536365 ",
        "85123a ",
        "  WHITE HEART ",
        " 6",
        "2010-12-01 08:26:00 ",
        "2.55",
        " 17850.0",
        "\tUnited Kingdom ",
    )
    expected = spark.createDataFrame(
        [
            (
                "536365",
                "85123A",
                "WHITE HEART",
                6,
                datetime(2010, 12, 1, 8, 26),
                Decimal("2.550"),
                "17850",
                "United Kingdom",
            )
        ],
        CLEAN_DDL,
    )
    assert_df_equality(clean(spark, row), expected, ignore_nullable=True)


def assert_cleaned(spark, field: str, result: str, result_type: str, expected: list[tuple]):
    """Each raw value of `field` cleans to its expected `result` value (inputs kept apart by quantity)."""
    rows = [raw(**{field: text}, quantity=str(i)) for i, (text, _) in enumerate(expected)]
    actual = (
        raw_lines(spark, *rows)
        .transform(parse_lines)
        .transform(clean_lines)
        .select(F.col("quantity").alias("case"), F.col(result).alias("value"))
    )
    want = spark.createDataFrame(
        [(i, value) for i, (_, value) in enumerate(expected)], f"case int, value {result_type}"
    )
    assert_df_equality(actual, want, ignore_row_order=True, ignore_nullable=True)


def assert_reasons(spark, field: str, values: list[str], reasons: list[str]):
    """Each raw value of `field` is quarantined with exactly `reasons`."""
    rows = [raw(**{field: v}) for v in values]
    actual = parsed_with_reasons(spark, *rows).select(F.col(f"raw_{field}").alias("value"), "reasons")
    want = spark.createDataFrame([(v, reasons) for v in values], "value string, reasons array<string>")
    assert_df_equality(actual, want, ignore_row_order=True, ignore_nullable=True)


def test_every_timestamp_shape_keeps_the_wall_clock(spark):
    assert_cleaned(
        spark,
        "invoice_ts",
        "invoice_ts",
        "timestamp",
        [
            ("2010-12-01 08:26:00", datetime(2010, 12, 1, 8, 26)),
            ("2010-12-01 08:26", datetime(2010, 12, 1, 8, 26)),
            ("12/1/2010 8:26", datetime(2010, 12, 1, 8, 26)),
            ("12/01/2010 08:26:59", datetime(2010, 12, 1, 8, 26, 59)),
            ("2011-06-30T23:59:01", datetime(2011, 6, 30, 23, 59, 1)),
            ("2011-06-30T23:59:01.250", datetime(2011, 6, 30, 23, 59, 1, 250000)),
            ("2011-06-30T23:59:01Z", datetime(2011, 6, 30, 23, 59, 1)),
            ("2011-06-30T23:59:01.5+02:00", datetime(2011, 6, 30, 23, 59, 1, 500000)),  # offset dropped
            ("2011-06-30T23:59", datetime(2011, 6, 30, 23, 59)),
        ],
    )


def test_an_impossible_or_unknown_timestamp_is_quarantined(spark):
    bad = ["2011-02-30 10:00:00", "13/1/2011 8:00", "2011-01-01 24:00", "1/1/11 8:00", "yesterday"]
    assert_reasons(spark, "invoice_ts", bad, ["invoice_date_unparseable"])


def test_customer_id(spark):
    assert_cleaned(
        spark,
        "customer_id",
        "customer_id",
        "string",
        [
            ("17850.0", "17850"),
            ("17850", "17850"),
            ("17850.00", "17850"),
            ("", "unknown"),
            ("   ", "unknown"),
            (None, "unknown"),
            ("17850.5", "17850.5"),
            ("ab-1", "ab-1"),
        ],
    )


def test_missing_description_and_country_become_unknown(spark):
    (row,) = clean(spark, raw(description=" ", country=None)).collect()
    assert (row.description, row.country) == ("unknown", "unknown")


def test_unit_price_is_an_exact_decimal(spark):
    assert_cleaned(
        spark,
        "unit_price",
        "unit_price",
        "decimal(12,3)",
        [
            ("2.55", Decimal("2.550")),
            ("0.001", Decimal("0.001")),
            ("1.2500", Decimal("1.250")),
            ("-11062.06", Decimal("-11062.060")),
            ("0", Decimal("0.000")),
            (".5", Decimal("0.500")),
            ("123456789.999", Decimal("123456789.999")),
        ],
    )


def test_a_price_that_is_not_exact_is_quarantined_not_rounded(spark):
    assert_reasons(
        spark, "unit_price", ["1.2345", "1e3", "£2", "1,50", "1234567890.5", "abc"], ["unit_price_not_decimal"]
    )


def test_quantity_is_an_integer(spark):
    rows = [raw(quantity=q, stock_code=f"P{i}") for i, q in enumerate(["6", "-12", "+3", "0"])]
    actual = clean(spark, *rows).select("stock_code", "quantity")
    want = spark.createDataFrame([("P0", 6), ("P1", -12), ("P2", 3), ("P3", 0)], "stock_code string, quantity int")
    assert_df_equality(actual, want, ignore_row_order=True, ignore_nullable=True)


def test_a_quantity_that_is_not_an_integer_is_quarantined(spark):
    assert_reasons(spark, "quantity", ["3.0", "x", "99999999999", "1 2"], ["quantity_not_integer"])


def test_every_reason_that_applies_is_given(spark):
    row = raw(invoice_no=" ", stock_code="", quantity=None, unit_price="x", invoice_ts=None)
    assert reasons(spark, row) == [
        [
            "invoice_no_missing",
            "stock_code_missing",
            "quantity_missing",
            "unit_price_not_decimal",
            "invoice_date_missing",
        ]
    ]


def test_a_row_with_a_malformed_record_is_quarantined_with_its_line(spark):
    short = ("536366", "85123A", "too few", "6", None, None, None, None, "536366,85123A,too few,6")
    parsed = raw_lines(spark, short, raw()).transform(parse_lines)
    bad = parsed.transform(quarantined_lines, F.current_timestamp()).collect()
    assert [(r.raw_line, r.reasons) for r in bad] == [
        ("536366,85123A,too few,6", ["malformed_record", "unit_price_missing", "invoice_date_missing"])
    ]
    assert parsed.transform(clean_lines).count() == 1


def test_quarantine_keeps_raw_values_source_and_ingest_time(spark):
    ingested = datetime(2026, 1, 2, 3, 4, 5)
    bad_row = raw(quantity=" x ", stock_code=" 85123a")
    out = raw_lines(spark, bad_row, source="s3://raw/2011-01-04.csv").transform(parse_lines)
    (row,) = out.transform(quarantined_lines, F.lit(ingested)).collect()
    assert tuple(row.asDict()) == QUARANTINE_COLUMNS
    assert (row.raw_quantity, row.raw_stock_code, row.raw_customer_id) == (" x ", " 85123a", "17850.0")
    assert (row.source, row.ingested_at, row.raw_line) == ("s3://raw/2011-01-04.csv", ingested, None)


def test_quarantine_ids_are_stable_and_unique_among_identical_rows(spark):
    bad = raw(quantity="x")
    ids = lambda: sorted(  # noqa: E731
        r.quarantine_id
        for r in raw_lines(spark, bad, bad, raw(quantity="y"))
        .transform(parse_lines)
        .transform(quarantined_lines, F.current_timestamp())
        .collect()
    )
    first = ids()
    assert len(set(first)) == 3 and ids() == first


def test_exact_duplicates_are_kept_once_with_their_copies_but_near_duplicates_are_not(spark):
    lines = clean(spark, raw(), raw(invoice_no=" 536365"), raw(customer_id="17850"), raw(quantity="7"))
    distinct = lines.transform(distinct_lines)
    expected = lines.where(F.col("quantity") == 7).withColumn("copies", F.lit(1).cast("long"))
    expected = expected.unionByName(lines.limit(1).withColumn("copies", F.lit(3).cast("long")))
    assert_df_equality(distinct, expected, ignore_row_order=True, ignore_nullable=True)
    assert distinct.columns == [*CLEAN_COLUMNS, "copies"]
