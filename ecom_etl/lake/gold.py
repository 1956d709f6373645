"""The gold tables as a function of silver's version.

Each gold commit records the silver version it was built from (in its commit's user metadata):
the latest version that changed silver's data (maintenance commits do not count).
A refresh rebuilds every table that is behind silver's current version or missing, from that one
version of silver, so a run that died between two gold commits is healed by the next refresh,
whoever runs it: the batch job, the stream job, or `ecom-etl gold`.

Refreshes may run at once (two batch runs, a batch run and the stream job). Each gold commit is a
Delta transaction of (silver's table id, the silver version), and Delta writes nothing where the
table holds that version or a later one, within the commit: a refresh from an older silver version
never replaces a newer build, so gold ends built from the newest silver any refresh saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from delta.tables import DeltaTable
from pyspark import StorageLevel
from pyspark.sql import SparkSession

from ecom_etl.core.aggregates import gold_aggregates, gold_tables
from ecom_etl.core.schema import GOLD_TABLES
from ecom_etl.lake import delta
from ecom_etl.lake.layout import Lake

SILVER_VERSION = "silver_version"
SPECTRUM_TABLES = ("revenue_monthly", "revenue_quarterly", "top_products_by_season")  # infra/redshift/load_gold.sql
BUILD_LOOKBACK = 10  # commits back to the last gold build (OPTIMIZE and VACUUM may commit after it)


@dataclass
class GoldState:
    """Silver's version, the tables rebuilt to it now, and every gold table's rows."""

    silver_version: int | None = None
    rebuilt: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def built_from(spark: SparkSession, path: str) -> tuple[int | None, int]:
    """(the silver version a gold table was last built from, the rows written then)."""
    if not delta.exists(spark, path):
        return None, 0
    for row in DeltaTable.forPath(spark, path).history(BUILD_LOOKBACK).collect():
        meta = delta.parse_metadata(row["userMetadata"])
        if SILVER_VERSION in meta:
            return int(meta[SILVER_VERSION]), int((row["operationMetrics"] or {}).get("numOutputRows", 0))
    return None, 0


def refresh_gold(spark: SparkSession, lake: Lake, version: int | None = None) -> GoldState:
    """Bring every gold table up to silver's version (its latest that changed data, unless the caller
    knows the version it just wrote); nothing to do when they are there. A table another refresh
    built from a later version meanwhile is left as it is (and not in `rebuilt`).

    The tables come from two small aggregates of that silver version, each computed once, and are
    written one after another: a table is a commit of its own, and side by side they only raced
    (bench/results/tests.md)."""
    version = delta.data_version(spark, lake.silver) if version is None else version
    state = GoldState(version)
    if version is None:
        return state
    behind = []
    for name in GOLD_TABLES:
        built, rows = built_from(spark, lake.gold(name))
        if built == version:
            state.rows[name] = rows
        else:
            behind.append(name)
    if not behind:
        return state
    silver = spark.read.format("delta").option("versionAsOf", version).load(lake.silver)
    txn = (f"gold of silver {DeltaTable.forPath(spark, lake.silver).detail().first()['id']}", version)
    totals, products = (a.persist(StorageLevel.MEMORY_AND_DISK) for a in gold_aggregates(silver))
    try:
        tables = gold_tables(totals, products)
        for name in behind:
            rows = delta.overwrite(tables[name].coalesce(1), lake.gold(name), {SILVER_VERSION: version}, txn)
            if rows is None:  # built from a later version by another refresh meanwhile
                state.rows[name] = built_from(spark, lake.gold(name))[1]
                continue
            state.rows[name] = rows
            state.rebuilt.append(name)
            if name in SPECTRUM_TABLES:  # Redshift Spectrum reads Delta through symlink manifests
                DeltaTable.forPath(spark, lake.gold(name)).generate("symlink_format_manifest")
    finally:
        totals.unpersist()
        products.unpersist()
    state.rows = {name: state.rows[name] for name in GOLD_TABLES}
    return state
