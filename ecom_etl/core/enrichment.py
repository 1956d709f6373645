"""Derived columns of rule 9: money, cancellation flag and the calendar keys the gold tables group by."""

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from ecom_etl.core.schema import CLEAN_COLUMNS
from ecom_etl.core.spark_types import AMOUNT_TYPE


def season_of(month: F.Column) -> F.Column:
    """Meteorological seasons: Winter Dec-Feb, Spring Mar-May, Summer Jun-Aug, Autumn Sep-Nov."""
    return (
        F.when(month.isin(12, 1, 2), "Winter")
        .when(month.isin(3, 4, 5), "Spring")
        .when(month.isin(6, 7, 8), "Summer")
        .otherwise("Autumn")
    )


def derived_columns() -> list[F.Column]:
    """The derived columns of rule 9, from the cleaned columns and `invoice_date` (the date of
    `invoice_ts`: the calendar keys come from it, not each from the timestamp again).

    December belongs to the next year's winter (Dec 2010 is Winter 2011), so a winter is one season.
    """
    date = F.col("invoice_date")
    month, year = F.month(date), F.year(date)
    return [
        (F.col("quantity").cast(AMOUNT_TYPE) * F.col("unit_price")).cast(AMOUNT_TYPE).alias("line_amount"),
        F.col("invoice_no").startswith("C").alias("is_cancellation"),
        date,
        year.alias("year"),
        F.quarter(date).alias("quarter"),
        month.alias("month"),
        F.date_sub(date, F.weekday(date)).alias("week_start"),  # weekday: Monday is 0
        season_of(month).alias("season"),
        (year + F.when(month == 12, 1).otherwise(0)).alias("season_year"),
    ]


def enrich(lines: DataFrame) -> DataFrame:
    """Clean lines -> silver lines: the eight cleaned columns and the derived ones (computed after
    the de-duplication, so that it shuffles the eight columns alone)."""
    dated = lines.select(*CLEAN_COLUMNS, F.to_date("invoice_ts").alias("invoice_date"))
    return dated.select(*CLEAN_COLUMNS, *derived_columns())
