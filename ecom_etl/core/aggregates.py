"""Gold tables: revenue per period and the best-selling products per season (see the contract)."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ecom_etl.core.schema import (
    NON_MERCHANDISE_CODES,
    NON_MERCHANDISE_PREFIX,
    REVENUE_MEASURES,
    REVENUE_TABLES,
    TOP_N,
    TOP_PRODUCTS_COLUMNS,
    TOP_PRODUCTS_TABLE,
    UNKNOWN,
)
from ecom_etl.core.spark_types import REVENUE_TYPE

Transform = Callable[[DataFrame], DataFrame]


def is_sale_line() -> Column:
    """A sale: not a cancellation, positive quantity and positive price."""
    return ~F.col("is_cancellation") & (F.col("quantity") > 0) & (F.col("unit_price") > 0)


def invoice_totals(*keys: str) -> Transform:
    """Transform: silver lines -> one row per (period `keys`, invoice, customer) with the sums the
    revenue measures need. The revenue tables are built from these rows, a few per invoice, instead
    of from every line: two distinct counts over every line were most of the time of building gold."""

    def transform(silver: DataFrame) -> DataFrame:
        sale = is_sale_line()
        return silver.groupBy(*keys, "invoice_no", "customer_id").agg(
            F.sum("line_amount").alias("net"),
            F.sum(F.when(sale, F.col("line_amount"))).alias("gross"),
            F.sum(F.when(F.col("is_cancellation"), F.col("line_amount"))).alias("cancelled"),
            F.sum(F.when(sale, F.col("quantity").cast("bigint"))).alias("units"),
            F.max(sale).alias("has_sale"),
        )

    return transform


def revenue_measures(*keys: str) -> Transform:
    """Transform: invoice totals -> one row per period `keys` with the six revenue measures."""

    def transform(totals: DataFrame) -> DataFrame:
        zero = F.lit(0).cast(REVENUE_TYPE)
        sold, customer = F.col("has_sale"), F.col("customer_id")
        return (
            totals.groupBy(*keys)
            .agg(
                F.sum("net").cast(REVENUE_TYPE).alias("net_revenue"),
                F.coalesce(F.sum("gross").cast(REVENUE_TYPE), zero).alias("gross_revenue"),
                F.coalesce(F.sum("cancelled").cast(REVENUE_TYPE), zero).alias("returns"),
                F.countDistinct(F.when(sold, F.col("invoice_no"))).alias("orders"),
                F.countDistinct(F.when(sold & (customer != UNKNOWN), customer)).alias("customers"),
                F.coalesce(F.sum("units"), F.lit(0).cast("bigint")).alias("units"),
            )
            .select(*keys, *REVENUE_MEASURES)
        )

    return transform


# Every period key of every revenue table: invoice totals over these serve all four tables.
PERIOD_KEYS: tuple[str, ...] = tuple(dict.fromkeys(key for keys in REVENUE_TABLES.values() for key in keys))


def revenue_tables(totals: DataFrame) -> dict[str, DataFrame]:
    """All four revenue tables by name, from silver's `invoice_totals(*PERIOD_KEYS)`."""
    return {name: totals.transform(revenue_measures(*keys)) for name, keys in REVENUE_TABLES.items()}


def merchandise_only(silver: DataFrame) -> DataFrame:
    """Drop postage, fees, adjustments and gift vouchers: they are not products."""
    code = F.col("stock_code")
    return silver.where(~code.isin(*NON_MERCHANDISE_CODES) & ~code.startswith(NON_MERCHANDISE_PREFIX))


SEASON = ("season_year", "season")
PRODUCT = (*SEASON, "stock_code")


def product_totals(silver: DataFrame) -> DataFrame:
    """Silver lines -> one row per (season, product, description) of merchandise with its units, net
    revenue and lines: what the season's top products are found from, a few rows per product."""
    return (
        silver.transform(merchandise_only)
        .groupBy(*PRODUCT, "description")
        .agg(
            F.sum(F.col("quantity").cast("bigint")).alias("units"),
            F.sum("line_amount").alias("revenue"),
            F.count(F.lit(1)).alias("lines"),
        )
    )


def top_products_by_season(products: DataFrame) -> DataFrame:
    """Top products per season by net units (cancellations included), then net revenue, then code,
    from `product_totals`."""
    totals = products.groupBy(*PRODUCT).agg(
        F.sum("units").alias("units_net"), F.sum("revenue").cast(REVENUE_TYPE).alias("revenue_net")
    )
    by_popularity = Window.partitionBy(*PRODUCT).orderBy(F.desc("lines"), F.asc("description"))
    names = (
        products.where(F.col("description") != UNKNOWN)
        .withColumn("pick", F.row_number().over(by_popularity))
        .where(F.col("pick") == 1)
        .select(*PRODUCT, "description")
    )
    ranking = Window.partitionBy(*SEASON).orderBy(F.desc("units_net"), F.desc("revenue_net"), F.asc("stock_code"))
    return (
        totals.withColumn("rank", F.row_number().over(ranking))
        .where(F.col("rank") <= TOP_N)
        .join(names, on=list(PRODUCT), how="left")
        .withColumn("description", F.coalesce("description", F.lit(UNKNOWN)))
        .select(*TOP_PRODUCTS_COLUMNS)
    )


def gold_aggregates(silver: DataFrame) -> tuple[DataFrame, DataFrame]:
    """The two aggregates of silver every gold table is built from: its invoice totals over every
    period key, and its product totals."""
    return silver.transform(invoice_totals(*PERIOD_KEYS)), silver.transform(product_totals)


def gold_tables(totals: DataFrame, products: DataFrame) -> dict[str, DataFrame]:
    """Every gold table by name, from `gold_aggregates`."""
    return {**revenue_tables(totals), TOP_PRODUCTS_TABLE: top_products_by_season(products)}
