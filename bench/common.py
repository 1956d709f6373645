"""Shared by the benchmarks: the machine, the versions, and appending a result section to a file."""

import os
import platform
import statistics
import subprocess
from datetime import datetime, timezone

REAL_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "online-retail", "by-day")


def machine() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
    from importlib.metadata import version

    import pyspark

    return (f"{os.cpu_count()} cores, {mem_gb:.0f} GiB, Python {platform.python_version()}, {java}, "
            f"PySpark {pyspark.__version__}, delta-spark {version('delta-spark')}")


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def append_section(path: str, title: str, body: str) -> None:
    """Results accumulate: each run adds a dated section, so the history shows."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    new = not os.path.exists(path)
    with open(path, "a", encoding="utf-8") as fh:
        if new:
            fh.write(f"# {title}\n\nEach run of the benchmark appends a section; newest last.\n")
        fh.write(f"\n## {stamp}\n\nMachine: {machine()}\n\n{body.rstrip()}\n")
