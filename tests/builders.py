"""Inline test data: raw lines as the CSV reader hands them to cleaning, silver lines, and fresh
resource names on the emulator."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from pyspark.sql import DataFrame, SparkSession

from ecom_etl.core.schema import CLEAN_COLUMNS, RECORD_DDL, SILVER_COLUMNS
from ecom_etl.settings import Settings

SILVER_DDL = (
    "invoice_no string, stock_code string, description string, quantity int, invoice_ts timestamp, "
    "unit_price decimal(12,3), customer_id string, country string, line_amount decimal(22,3), "
    "is_cancellation boolean, invoice_date date, year int, quarter int, month int, week_start date, "
    "season string, season_year int"
)
GENERATED_ROWS = 3000  # the session-wide generated data set (conftest.generated)
GENERATED_SEED = 7
GOOD = ("536365", "85123A", "WHITE HEART", "6", "2010-12-01 08:26:00", "2.55", "17850.0", "United Kingdom")


def raw_lines(spark: SparkSession, *rows: tuple, source: str = "test.csv") -> DataFrame:
    """Records of eight raw fields, or (fields..., raw_line) for a record that had not eight
    fields (its reading reason: malformed_record), with a source."""
    full = [(*r, None, source, []) if len(r) == 8 else (*r, source, ["malformed_record"]) for r in rows]
    return spark.createDataFrame(full, RECORD_DDL)


def raw(**changes: str | None) -> tuple:
    """The GOOD raw row with some fields replaced, by clean column name."""
    values = dict(zip(CLEAN_COLUMNS, GOOD))
    values.update(changes)
    return tuple(values[n] for n in CLEAN_COLUMNS)


def silver_line(
    invoice_no: str = "536365",
    stock_code: str = "85123A",
    quantity: int = 1,
    unit_price: str = "1.00",
    ts: str = "2011-03-15 10:00:00",
    customer_id: str = "17850",
    description: str = "THING",
    country: str = "United Kingdom",
) -> tuple:
    """A consistent silver row (derived columns computed here, independently of the code)."""
    t = datetime.fromisoformat(ts)
    price = Decimal(unit_price)
    season = {
        12: "Winter",
        1: "Winter",
        2: "Winter",
        3: "Spring",
        4: "Spring",
        5: "Spring",
        6: "Summer",
        7: "Summer",
        8: "Summer",
    }.get(t.month, "Autumn")
    monday = date.fromordinal(t.date().toordinal() - t.weekday())
    return (
        invoice_no,
        stock_code,
        description,
        quantity,
        t,
        price,
        customer_id,
        country,
        quantity * price,
        invoice_no.startswith("C"),
        t.date(),
        t.year,
        (t.month - 1) // 3 + 1,
        t.month,
        monday,
        season,
        t.year + (1 if t.month == 12 else 0),
    )


def silver_lines(spark: SparkSession, *rows: tuple) -> DataFrame:
    df = spark.createDataFrame(list(rows), SILVER_DDL)
    assert tuple(df.columns) == SILVER_COLUMNS
    return df


def fresh_names(aws: Settings) -> Settings:
    """A stream and serving tables no other test uses, and not the template's names, which the
    platform's stack (`conftest.platform`) creates."""
    suffix = uuid.uuid4().hex[:8]
    return aws.named(
        stream=f"orders-{suffix}", customers_table=f"customers-{suffix}", invoices_table=f"invoices-{suffix}"
    )
