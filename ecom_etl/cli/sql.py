"""`ecom-etl sql`: ad-hoc SQL over the lake's tables by their catalog names."""

from __future__ import annotations

import argparse

from ecom_etl.cli import common


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sql",
        help="ad-hoc SQL over the lake tables (like Athena)",
        description="Run Spark SQL queries over the lake. The tables are named as in the catalog: order_lines, "
        "quarantine_order_lines, revenue_daily, revenue_weekly, revenue_monthly, revenue_quarterly, "
        "top_products_by_season. Several queries run in one Spark.",
    )
    p.add_argument("query", nargs="+", help='a query, e.g. "SELECT * FROM revenue_monthly ORDER BY year, month"')
    p.add_argument(
        "--warehouse", default="warehouse", help="lake root, a directory or s3:// URI (default: %(default)s)"
    )
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output (default: %(default)s)")
    p.add_argument("--limit", type=int, default=1000, help="rows shown at most (default: %(default)s)")
    common.add_aws_options(p, names=False)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ecom_etl.lake import Lake
    from ecom_etl.query import register_views, render, run_sql

    spark = common.session(common.settings(args), "ecom-etl sql")
    lake = Lake.at(args.warehouse)
    tables = register_views(spark, lake)
    for number, query in enumerate(args.query):
        if number:
            print()
        print(render(run_sql(spark, query, tables), args.format, args.limit))
    return 0
