"""Spark types of the contract: exact money, never float."""

from pyspark.sql import types as T

# Money types: prices have up to 3 fraction digits; amounts and sums stay exact.
PRICE_TYPE = T.DecimalType(12, 3)
AMOUNT_TYPE = T.DecimalType(22, 3)
REVENUE_TYPE = T.DecimalType(32, 3)
