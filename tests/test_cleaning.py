"""Cleaning rules 1-8 of docs/data-contract.md."""

from datetime import datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from ecom_etl.cleaning import drop_exact_duplicates, parse_lines, quarantined_lines, valid_lines
from ecom_etl.schema import CLEAN_COLUMNS, QUARANTINE_COLUMNS
from tests.builders import raw, raw_lines

CLEAN_DDL = (
    "invoice_no string, stock_code string, description string, quantity int, invoice_ts timestamp, "
    "unit_price decimal(12,3), customer_id string, country string"
)


def clean(spark, *rows):
    return raw_lines(spark, *rows).transform(parse_lines).transform(valid_lines)


def reasons_of(spark, *rows) -> list[list[str]]:
    return [r.reasons for r in raw_lines(spark, *rows).transform(parse_lines).select("reasons").collect()]


def test_a_good_line_is_trimmed_typed_and_normalised(spark):
    row = (" 536365 ", "85123a ", "  WHITE HEART ", " 6", "2010-12-01 08:26:00 ", "2.55", " 17850.0", "\tUnited Kingdom ")
    expected = spark.createDataFrame(
        [("536365", "85123A", "WHITE HEART", 6, datetime(2010, 12, 1, 8, 26), Decimal("2.550"), "17850", "United Kingdom")],
        CLEAN_DDL,
    )
    assert_df_equality(clean(spark, row), expected, ignore_nullable=True)


@pytest.mark.parametrize(
    "text, expected",
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
def test_every_timestamp_shape_keeps_the_wall_clock(spark, text, expected):
    (row,) = clean(spark, raw(invoice_ts=text)).select("invoice_ts").collect()
    assert row.invoice_ts == expected


@pytest.mark.parametrize("text", ["2011-02-30 10:00:00", "13/1/2011 8:00", "2011-01-01 24:00", "1/1/11 8:00", "yesterday"])
def test_an_impossible_or_unknown_timestamp_is_quarantined(spark, text):
    assert reasons_of(spark, raw(invoice_ts=text)) == [["invoice_date_unparseable"]]


@pytest.mark.parametrize(
    "customer, expected",
    [("17850.0", "17850"), ("17850", "17850"), ("17850.00", "17850"), ("", "unknown"), ("   ", "unknown"),
     (None, "unknown"), ("17850.5", "17850.5"), ("ab-1", "ab-1")],
)
def test_customer_id(spark, customer, expected):
    (row,) = clean(spark, raw(customer_id=customer)).select("customer_id").collect()
    assert row.customer_id == expected


def test_missing_description_and_country_become_unknown(spark):
    (row,) = clean(spark, raw(description=" ", country=None)).collect()
    assert (row.description, row.country) == ("unknown", "unknown")


@pytest.mark.parametrize(
    "price, expected",
    [("2.55", Decimal("2.550")), ("0.001", Decimal("0.001")), ("1.2500", Decimal("1.250")), ("-11062.06", Decimal("-11062.060")),
     ("0", Decimal("0.000")), (".5", Decimal("0.500")), ("123456789.999", Decimal("123456789.999"))],
)
def test_unit_price_is_an_exact_decimal(spark, price, expected):
    (row,) = clean(spark, raw(unit_price=price)).select("unit_price").collect()
    assert row.unit_price == expected


@pytest.mark.parametrize("price", ["1.2345", "1e3", "£2", "1,50", "1234567890.5", "abc"])
def test_a_price_that_is_not_exact_is_quarantined_not_rounded(spark, price):
    assert reasons_of(spark, raw(unit_price=price)) == [["unit_price_not_decimal"]]


@pytest.mark.parametrize("quantity, expected", [("6", 6), ("-12", -12), ("+3", 3), ("0", 0)])
def test_quantity_is_an_integer(spark, quantity, expected):
    (row,) = clean(spark, raw(quantity=quantity)).select("quantity").collect()
    assert row.quantity == expected


@pytest.mark.parametrize("quantity", ["3.0", "x", "99999999999", "1 2"])
def test_a_quantity_that_is_not_an_integer_is_quarantined(spark, quantity):
    assert reasons_of(spark, raw(quantity=quantity)) == [["quantity_not_integer"]]


def test_every_reason_that_applies_is_given(spark):
    row = raw(invoice_no=" ", stock_code="", quantity=None, unit_price="x", invoice_ts=None)
    assert reasons_of(spark, row) == [
        ["invoice_no_missing", "stock_code_missing", "quantity_missing", "unit_price_not_decimal", "invoice_date_missing"]
    ]


def test_a_row_with_a_malformed_record_is_quarantined_with_its_line(spark):
    short = ("536366", "85123A", "too few", "6", None, None, None, None, "536366,85123A,too few,6")
    parsed = raw_lines(spark, short, raw()).transform(parse_lines)
    bad = parsed.transform(quarantined_lines, F.current_timestamp()).collect()
    assert [(r.raw_line, r.reasons) for r in bad] == [
        ("536366,85123A,too few,6", ["malformed_record", "unit_price_missing", "invoice_date_missing"])
    ]
    assert parsed.transform(valid_lines).count() == 1


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
        for r in raw_lines(spark, bad, bad, raw(quantity="y")).transform(parse_lines)
        .transform(quarantined_lines, F.current_timestamp()).collect()
    )
    first = ids()
    assert len(set(first)) == 3 and ids() == first


def test_exact_duplicates_are_kept_once_but_near_duplicates_are_not(spark):
    lines = clean(spark, raw(), raw(invoice_no=" 536365"), raw(customer_id="17850"), raw(quantity="7"))
    deduped = lines.transform(drop_exact_duplicates)
    expected = lines.where(F.col("quantity") == 7).unionByName(lines.limit(1))
    assert deduped.count() == 2
    assert_df_equality(deduped, expected, ignore_row_order=True)
    assert deduped.columns == list(CLEAN_COLUMNS)
