"""Shared by the benchmarks: the machine, the versions, and appending a result section to a file."""

import os
import platform
import statistics
import subprocess
from datetime import UTC, datetime

REAL_DATA = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "online-retail", "by-day"
)


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    from importlib.metadata import version

    import pyspark

    return (
        f"{os.cpu_count()} cores, {mem_gb:.0f} GiB, Python {platform.python_version()}, {java}, "
        f"PySpark {pyspark.__version__}, delta-spark {version('delta-spark')}"
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def append_section(path: str, title: str, body: str) -> None:
    """Results accumulate: each run adds a dated section, so the history shows."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    new = not os.path.exists(path)
    with open(path, "a", encoding="utf-8") as fh:
        if new:
            fh.write(f"# {title}\n\nEach run of the benchmark appends a section; newest last.\n")
        fh.write(f"\n## {stamp}\n\nMachine: {machine()}\n\n{body.rstrip()}\n")


GOLD_TABLES = ("revenue_daily", "revenue_weekly", "revenue_monthly", "revenue_quarterly", "top_products_by_season")


def _rows(table) -> list[tuple]:
    """A pyarrow table as sorted tuples of comparable values (decimals as exact strings)."""
    from decimal import Decimal

    def norm(v):
        if isinstance(v, Decimal):
            return f"{v:.3f}"
        if hasattr(v, "isoformat"):  # the gold tables hold dates
            return v.isoformat()
        return v

    columns = sorted(table.column_names)
    data = table.select(columns).to_pylist()
    return sorted(tuple(norm(r[c]) for c in columns) for r in data)


def spark_gold(warehouse: str) -> dict[str, list[tuple]]:
    from deltalake import DeltaTable

    return {t: _rows(DeltaTable(os.path.join(warehouse, "gold", t)).to_pyarrow_table()) for t in GOLD_TABLES}


def parquet_gold(out_dir: str) -> dict[str, list[tuple]]:
    import pyarrow.parquet as pq

    return {t: _rows(pq.read_table(os.path.join(out_dir, f"{t}.parquet"))) for t in GOLD_TABLES}


def gold_differences(want: dict[str, list[tuple]], got: dict[str, list[tuple]]) -> list[str]:
    """Empty when both hold the same rows in every gold table; else one line per differing table."""
    problems = []
    for table in GOLD_TABLES:
        a, b = want[table], got[table]
        if a != b:
            only_a = [r for r in a if r not in set(b)][:2]
            only_b = [r for r in b if r not in set(a)][:2]
            problems.append(f"{table}: {len(a)} vs {len(b)} rows; e.g. {only_a} vs {only_b}")
    return problems
