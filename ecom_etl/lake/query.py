"""Athena-like ad-hoc SQL over the lake: every table registered by its catalog name."""

from __future__ import annotations

import csv
import io
import json

from pyspark.errors import AnalysisException, ParseException
from pyspark.sql import DataFrame, SparkSession

from ecom_etl.errors import EtlInputError, first_line
from ecom_etl.lake import delta
from ecom_etl.lake.layout import Lake


def register_views(spark: SparkSession, lake: Lake) -> list[str]:
    """Each existing lake table as a temporary view named as in the catalog (order_lines, revenue_monthly, ...)."""
    names = []
    for name, location in lake.tables().items():
        if delta.exists(spark, location):
            spark.read.format("delta").load(location).createOrReplaceTempView(name)
            names.append(name)
    if not names:
        raise EtlInputError(f"no lake tables under {lake.root} (run `ecom-etl batch` first)")
    return names


def run_sql(spark: SparkSession, query: str, tables: list[str]) -> DataFrame:
    """The query's result; a bad query or an unknown table is an EtlInputError with Spark's reason."""
    try:
        return spark.sql(query)
    except ParseException as exc:
        raise EtlInputError(f"SQL syntax error: {first_line(str(exc))}") from None
    except AnalysisException as exc:
        reason = first_line(str(exc))
        if "TABLE_OR_VIEW_NOT_FOUND" in reason or "Table or view not found" in reason:
            reason += f" — the tables are: {', '.join(sorted(tables))}"
        raise EtlInputError(reason) from None


def render(result: DataFrame, fmt: str, limit: int = 1000) -> str:
    """The first `limit` rows as an aligned table, CSV or JSON lines."""
    rows = result.limit(limit).collect()
    columns = result.columns
    values = [["" if v is None else str(v) for v in row] for row in rows]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(values)
        return out.getvalue().rstrip("\n")
    if fmt == "json":
        return "\n".join(json.dumps(row.asDict(recursive=True), default=str) for row in rows)
    widths = [max([len(c)] + [len(v[i]) for v in values]) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return " | ".join(c.ljust(w) for c, w in zip(cells, widths))

    table = [line(columns), "-+-".join("-" * w for w in widths)] + [line(v) for v in values]
    return "\n".join(table + [f"({len(rows)} row{'s' if len(rows) != 1 else ''})"])
