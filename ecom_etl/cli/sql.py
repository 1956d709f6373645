"""`ecom-etl sql`: ad-hoc SQL over the lake's tables by their catalog names, one Spark for many queries."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ecom_etl.cli import common
from ecom_etl.errors import EtlInputError

PROMPT = "sql> "


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sql",
        help="ad-hoc SQL over the lake tables (like Athena)",
        description="Run Spark SQL queries over the lake. The tables are named as in the catalog: order_lines, "
        "quarantine_order_lines, revenue_daily, revenue_weekly, revenue_monthly, revenue_quarterly, "
        "top_products_by_season. Several queries run in one Spark; without a query, statements are read from "
        "standard input (a prompt when it is a terminal; end each statement with ';').",
    )
    p.add_argument("query", nargs="*", help='queries, e.g. "SELECT * FROM revenue_monthly ORDER BY year, month"')
    p.add_argument(
        "--warehouse", default="warehouse", help="lake root, a directory or s3:// URI (default: %(default)s)"
    )
    p.add_argument("--format", choices=["table", "csv", "json"], default="table", help="output (default: %(default)s)")
    p.add_argument("--limit", type=int, default=1000, help="rows shown at most (default: %(default)s)")
    common.add_aws_options(p, names=False)
    p.set_defaults(run=run)


def statements(lines: list[str]) -> list[str]:
    """The ';'-separated statements of some lines; a ';' inside quotes or backticks is text."""
    out, current, quote = [], [], None
    for char in "\n".join(lines):
        if quote is None and char == ";":
            out.append("".join(current).strip())
            current = []
            continue
        if char in "'\"`":
            quote = None if quote == char else quote or char
        current.append(char)
    out.append("".join(current).strip())
    return [statement for statement in out if statement]


def _interactive(answer: Callable[[str], None]) -> None:
    """A prompt: each statement runs when its ';' is typed; an error is shown and the prompt goes on."""
    pending: list[str] = []
    while True:
        try:
            line = input(PROMPT if not pending else "...> ")
        except EOFError:
            print()
            return
        pending.append(line)
        if line.rstrip().endswith(";"):
            for statement in statements(pending):
                try:
                    answer(statement)
                except EtlInputError as exc:
                    print(f"error: {exc}", file=sys.stderr)
            pending = []


def run(args: argparse.Namespace) -> int:
    from ecom_etl.lake.layout import Lake
    from ecom_etl.lake.query import register_views, render, run_sql

    spark = common.session(common.settings(args), "ecom-etl sql")
    tables = register_views(spark, Lake.at(args.warehouse))

    def answer(query: str) -> None:
        print(render(run_sql(spark, query, tables), args.format, args.limit), flush=True)

    if not args.query and sys.stdin.isatty():
        print(f"tables: {', '.join(tables)}; end each statement with ';', Ctrl-D leaves", file=sys.stderr)
        _interactive(answer)
        return 0
    for number, query in enumerate(args.query or statements(sys.stdin.read().splitlines())):
        if number:
            print()
        answer(query)
    return 0
