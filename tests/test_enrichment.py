"""Rule 9: derived columns."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from ecom_etl.core.enrichment import enrich
from ecom_etl.core.schema import CLEAN_COLUMNS, SILVER_COLUMNS
from tests.builders import silver_line, silver_lines


def enriched(spark, *rows):
    silver = silver_lines(spark, *rows)
    return silver.select(*CLEAN_COLUMNS).transform(enrich), silver


@pytest.mark.parametrize(
    "ts, season, season_year",
    [
        ("2010-12-01 08:26:00", "Winter", 2011),  # December counts toward next year's winter
        ("2010-12-31 23:59:59", "Winter", 2011),
        ("2011-01-01 00:00:00", "Winter", 2011),
        ("2011-02-28 12:00:00", "Winter", 2011),
        ("2011-03-01 00:00:00", "Spring", 2011),
        ("2011-06-01 00:00:00", "Summer", 2011),
        ("2011-09-01 00:00:00", "Autumn", 2011),
        ("2011-11-30 23:59:59", "Autumn", 2011),
        ("2011-12-01 00:00:00", "Winter", 2012),
    ],
)
def test_season_and_the_december_rollover(spark, ts, season, season_year):
    (row,) = enriched(spark, silver_line(ts=ts))[0].collect()
    assert (row.season, row.season_year) == (season, season_year)


@pytest.mark.parametrize(
    "ts, monday",
    [
        ("2011-01-02 10:00:00", date(2010, 12, 27)),
        ("2011-01-03 00:00:00", date(2011, 1, 3)),
        ("2011-01-09 23:59:00", date(2011, 1, 3)),
    ],
)
def test_week_start_is_the_monday_of_the_iso_week(spark, ts, monday):
    (row,) = enriched(spark, silver_line(ts=ts))[0].collect()
    assert row.week_start == monday


def test_all_derived_columns_match_an_independent_computation(spark):
    rows = [
        silver_line(quantity=3, unit_price="0.001", ts="2011-04-01 00:00:00"),
        silver_line(invoice_no="C536379", quantity=-1, unit_price="27.5", ts="2010-12-01 09:41:00"),
        silver_line(quantity=12, unit_price="-11062.06", ts="2011-08-12 14:51:00"),
    ]
    actual, expected = enriched(spark, *rows)
    assert actual.columns == list(SILVER_COLUMNS)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_line_amount_is_exact(spark):
    # 0.1 + 0.2 style errors would show up here with floats.
    (row,) = enriched(spark, silver_line(quantity=3, unit_price="0.1"))[0].collect()
    assert row.line_amount == Decimal("0.300")
    big = silver_line(quantity=999_999_999, unit_price="123456789.999")
    (row,) = enriched(spark, big)[0].collect()
    assert row.line_amount == Decimal("123456789875543210.001")  # = 999999999 * 123456789.999


def test_cancellation_flag(spark):
    rows = enriched(spark, silver_line(invoice_no="C1"), silver_line(invoice_no="A563185"), silver_line())[0]
    assert sorted((r.invoice_no, r.is_cancellation) for r in rows.collect()) == [
        ("536365", False),
        ("A563185", False),
        ("C1", True),
    ]
    assert rows.where("invoice_date = date'2011-03-15' and quarter = 1 and month = 3 and year = 2011").count() == 3
    assert datetime(2011, 3, 15, 10) == rows.first().invoice_ts
