"""Gold tables: revenue per period and the best-selling products per season (see the contract)."""

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from ecom_etl.schema import (
    NON_MERCHANDISE_CODES,
    NON_MERCHANDISE_PREFIX,
    REVENUE_MEASURES,
    REVENUE_TABLES,
    TOP_N,
    TOP_PRODUCTS_COLUMNS,
    UNKNOWN,
)
from ecom_etl.spark_types import REVENUE_TYPE


def is_sale_line() -> Column:
    """A sale: not a cancellation, positive quantity and positive price."""
    return ~F.col("is_cancellation") & (F.col("quantity") > 0) & (F.col("unit_price") > 0)


def revenue_by(*keys: str):
    """Transform: silver lines -> one row per period `keys` with the six revenue measures."""

    def transform(silver: DataFrame) -> DataFrame:
        sale = is_sale_line()
        zero = F.lit(0).cast(REVENUE_TYPE)
        return silver.groupBy(*keys).agg(
            F.sum("line_amount").cast(REVENUE_TYPE).alias("net_revenue"),
            F.coalesce(F.sum(F.when(sale, F.col("line_amount"))).cast(REVENUE_TYPE), zero).alias("gross_revenue"),
            F.coalesce(
                F.sum(F.when(F.col("is_cancellation"), F.col("line_amount"))).cast(REVENUE_TYPE), zero
            ).alias("returns"),
            F.countDistinct(F.when(sale, F.col("invoice_no"))).alias("orders"),
            F.countDistinct(F.when(sale & (F.col("customer_id") != UNKNOWN), F.col("customer_id"))).alias(
                "customers"
            ),
            F.coalesce(F.sum(F.when(sale, F.col("quantity").cast("bigint"))), F.lit(0).cast("bigint")).alias(
                "units"
            ),
        ).select(*keys, *REVENUE_MEASURES)

    return transform


def revenue_tables(silver: DataFrame) -> dict[str, DataFrame]:
    """All four revenue tables by name."""
    return {name: silver.transform(revenue_by(*keys)) for name, keys in REVENUE_TABLES.items()}


def merchandise_only(silver: DataFrame) -> DataFrame:
    """Drop postage, fees, adjustments and gift vouchers: they are not products."""
    code = F.col("stock_code")
    return silver.where(~code.isin(*NON_MERCHANDISE_CODES) & ~code.startswith(NON_MERCHANDISE_PREFIX))


def top_products_by_season(silver: DataFrame) -> DataFrame:
    """Top products per season by net units (cancellations included), then net revenue, then code."""
    season = ["season_year", "season"]
    product = [*season, "stock_code"]
    goods = silver.transform(merchandise_only)

    totals = goods.groupBy(*product).agg(
        F.sum(F.col("quantity").cast("bigint")).alias("units_net"),
        F.sum("line_amount").cast(REVENUE_TYPE).alias("revenue_net"),
    )
    by_popularity = Window.partitionBy(*product).orderBy(F.desc("n"), F.asc("description"))
    names = (
        goods.where(F.col("description") != UNKNOWN)
        .groupBy(*product, "description")
        .agg(F.count(F.lit(1)).alias("n"))
        .withColumn("pick", F.row_number().over(by_popularity))
        .where(F.col("pick") == 1)
        .select(*product, "description")
    )
    ranking = Window.partitionBy(*season).orderBy(
        F.desc("units_net"), F.desc("revenue_net"), F.asc("stock_code")
    )
    return (
        totals.withColumn("rank", F.row_number().over(ranking))
        .where(F.col("rank") <= TOP_N)
        .join(names, on=product, how="left")
        .withColumn("description", F.coalesce("description", F.lit(UNKNOWN)))
        .select(*TOP_PRODUCTS_COLUMNS)
    )
