"""Spark types of the contract: the raw read schema and exact money (never float)."""

from pyspark.sql import types as T

from ecom_etl.schema import CORRUPT_COLUMN, RAW_COLUMNS

RAW_SCHEMA = T.StructType(
    [T.StructField(c, T.StringType()) for c in RAW_COLUMNS]
    + [T.StructField(CORRUPT_COLUMN, T.StringType())]
)

# Money types: prices have up to 3 fraction digits; amounts and sums stay exact.
PRICE_TYPE = T.DecimalType(12, 3)
AMOUNT_TYPE = T.DecimalType(22, 3)
REVENUE_TYPE = T.DecimalType(32, 3)
