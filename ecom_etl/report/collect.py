"""The dashboard's numbers, collected from the lake (small Spark queries over gold, silver and the
quarantine), and `write_report`, which hands them to the page.

Collecting is apart from drawing (`charts`, `page`), so the drawing can be tested without a lake
and the numbers without a browser.
"""

import json
import os

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from ecom_etl.core.aggregates import is_sale_line
from ecom_etl.core.schema import UNKNOWN
from ecom_etl.errors import EtlInputError
from ecom_etl.lake import delta
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.storage import Storage
from ecom_etl.report.charts import ReportData, season_key
from ecom_etl.report.page import render

TOP_COUNTRIES = 15


def _rows(df: DataFrame) -> list[dict]:
    return [row.asDict() for row in df.collect()]


def collect(spark: SparkSession, lake: Lake, storage: Storage) -> ReportData:
    """The dashboard's numbers from the lake's gold, silver and quarantine tables."""
    tables = {name: path for name, path in lake.tables().items() if delta.exists(spark, path)}
    if "order_lines" not in tables:
        raise EtlInputError(f"no lake tables under {lake.root} (run `ecom-etl batch` first)")
    read = lambda name: spark.read.format("delta").load(tables[name])  # noqa: E731
    silver = read("order_lines")
    known, unknown = _orders(silver)
    from delta.tables import DeltaTable

    (last_commit,) = DeltaTable.forPath(spark, tables["order_lines"]).history(1).select("timestamp").collect()
    return ReportData(
        monthly=_rows(read("revenue_monthly").orderBy("year", "month")),
        quarterly=_rows(read("revenue_quarterly").orderBy("year", "quarter")),
        weekly=_rows(read("revenue_weekly").orderBy("week_start")),
        top_products=in_season_order(_rows(read("top_products_by_season"))),
        countries=_rows(
            silver.groupBy("country")
            .agg(F.sum("line_amount").alias("net_revenue"))
            .orderBy(F.desc("net_revenue"))
            .limit(TOP_COUNTRIES)
        ),
        orders_known=known,
        orders_unknown=unknown,
        quarantine_reasons=_reasons(read("quarantine_order_lines")) if "quarantine_order_lines" in tables else {},
        table_rows={name: read(name).count() for name in tables},
        built_at=last_commit["timestamp"].strftime("%Y-%m-%d %H:%M UTC"),
        runs=run_summaries(lake, storage),
    )


def _orders(silver: DataFrame) -> tuple[int, int]:
    """Distinct sale invoices of known and of unknown customers."""
    invoice = F.col("invoice_no")
    known = F.col("customer_id") != UNKNOWN
    row = (
        silver.where(is_sale_line())
        .agg(
            F.countDistinct(F.when(known, invoice)).alias("known"),
            F.countDistinct(F.when(~known, invoice)).alias("unknown"),
        )
        .first()
    )
    return row["known"], row["unknown"]


def _reasons(quarantine: DataFrame) -> dict[str, int]:
    """Quarantined rows per reason, most frequent first (a row counts once per reason it has)."""
    exploded = quarantine.select(F.explode("reasons").alias("reason"))
    return {r["reason"]: r["count"] for r in exploded.groupBy("reason").count().orderBy(F.desc("count")).collect()}


def in_season_order(top_products: list[dict]) -> list[dict]:
    """Seasons in time order (Winter 2011 = Dec 2010-Feb 2011 comes before Spring 2011), then rank.

    The season names sort alphabetically (Autumn first), so a Spark `orderBy` would not do."""
    return sorted(top_products, key=lambda r: (season_key(r["season_year"], r["season"]), r["rank"]))


def run_summaries(lake: Lake, storage: Storage) -> list[dict]:
    """Every batch run summary the lake keeps (Lake.runs), oldest first: the names sort by start time."""
    texts = (storage.read_text(f"{lake.runs}/{n}") for n in storage.names(lake.runs) if n.endswith(".json"))
    return [json.loads(text) for text in texts if text]


def write_report(spark: SparkSession, lake: Lake, storage: Storage, out: str) -> str:
    page = render(collect(spark, lake, storage))
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write(page)
    return out
