"""Column and table names of every table, in one place (docs/data-contract.md is the prose).

Plain Python: the API's Lambda package imports it without Spark. The Spark types are in
ecom_etl.core.spark_types, the cleaning rules in ecom_etl.core.contract.
"""

from ecom_etl.core.contract import CLEAN_COLUMNS, HEADER, UNKNOWN

__all__ = ["CLEAN_COLUMNS", "HEADER", "UNKNOWN"]

# What every reader (CSV files, the stream) hands to cleaning: the eight raw strings (RAW_FIELDS),
# `raw_line` (the record's text when it is not eight UTF-8 fields), `source` (file or stream
# position) and `read_reasons` (what reading found wrong). The quarantine keeps all but the last.
RAW_FIELDS: tuple[str, ...] = tuple(f"raw_{c}" for c in CLEAN_COLUMNS)
RAW_LINE = "raw_line"
SOURCE = "source"
READ_REASONS = "read_reasons"
RECORD_COLUMNS: tuple[str, ...] = RAW_FIELDS + (RAW_LINE, SOURCE, READ_REASONS)
RECORD_OFFSET = "record_offset"  # where a file's record starts (the batch's files only)
RECORD_DDL = ", ".join(f"{c} string" for c in RAW_FIELDS + (RAW_LINE, SOURCE)) + f", {READ_REASONS} array<string>"

DERIVED_COLUMNS: tuple[str, ...] = (
    "line_amount",
    "is_cancellation",
    "invoice_date",
    "year",
    "quarter",
    "month",
    "week_start",
    "season",
    "season_year",
)
SILVER_COLUMNS: tuple[str, ...] = CLEAN_COLUMNS + DERIVED_COLUMNS
SILVER_PARTITIONS: tuple[str, ...] = ("year", "month")

QUARANTINE_COLUMNS: tuple[str, ...] = (
    "quarantine_id",
    "source",
    "ingested_at",
    "reasons",
    RAW_LINE,
) + RAW_FIELDS

QUARANTINE_DDL = (
    "quarantine_id string, source string, ingested_at timestamp, reasons array<string>, raw_line string, "
    + ", ".join(f"{c} string" for c in RAW_FIELDS)
)

REVENUE_MEASURES: tuple[str, ...] = (
    "net_revenue",
    "gross_revenue",
    "returns",
    "orders",
    "customers",
    "units",
)
# Gold revenue table name -> its period key columns.
REVENUE_TABLES: dict[str, tuple[str, ...]] = {
    "revenue_daily": ("invoice_date",),
    "revenue_weekly": ("week_start",),
    "revenue_monthly": ("year", "month"),
    "revenue_quarterly": ("year", "quarter"),
}
TOP_PRODUCTS_TABLE = "top_products_by_season"
TOP_PRODUCTS_COLUMNS: tuple[str, ...] = (
    "season_year",
    "season",
    "rank",
    "stock_code",
    "description",
    "units_net",
    "revenue_net",
)
GOLD_TABLES: tuple[str, ...] = tuple(REVENUE_TABLES) + (TOP_PRODUCTS_TABLE,)

# Stock codes that are not merchandise (postage, fees, manual adjustments, ...).
NON_MERCHANDISE_CODES: tuple[str, ...] = (
    "POST",
    "DOT",
    "M",
    "BANK CHARGES",
    "AMAZONFEE",
    "C2",
    "CRUK",
    "D",
    "S",
    "PADS",
    "B",
)
NON_MERCHANDISE_PREFIX = "GIFT_"
TOP_N = 10
