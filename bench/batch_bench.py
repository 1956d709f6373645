"""Batch benchmark: the Spark job against a DuckDB and a pandas reference, at 1x, 10x and 100x.

    python bench/batch_bench.py [--sizes 1x,10x,10x-one-file,100x] [--runs 3] [--test-suite]
                                [--data DIR] [--dry-run]

Per size: every implementation runs once and the gold tables of all three must be identical; that
run is the first of --runs timed runs, and the median wall time and the peak RSS (the whole process
tree, sampled every 0.2 s) are reported, with rows/s and the Spark/DuckDB and Spark/pandas ratios of
the same run. 1x is the real data set (../shared); 10x and 100x are generated once (deterministic
seeds) into $ECOM_BENCH_DATA (default ~/.cache/ecom_etl/bench-data), where every clone of the
repository reuses them; 10x-one-file is the 10x data written as one CSV file. Each size's results
are appended to bench/results/batch.md once measured. --data DIR measures the CSV files of DIR
instead (e.g. a few days of the real data, for a quick check); --dry-run prints the tables and
appends nothing.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from common import REAL_DATA, append_section, gold_differences, median, parquet_gold, spark_gold  # noqa: E402

REAL_ROWS = 541_909
DATA_DIR = os.environ.get("ECOM_BENCH_DATA", os.path.expanduser("~/.cache/ecom_etl/bench-data"))
RESULTS = os.path.join(HERE, "results", "batch.md")
LOGS = os.path.join(HERE, ".logs")  # each engine's output per size, kept after the run (ignored by git)
MEMORY_CAP = 16 * 2**30  # a reference that grows past this is stopped and reported as out of memory
PY = sys.executable
CLI = [PY, "-m", "ecom_etl.cli"]


@dataclass
class Run:
    seconds: float
    peak_rss: int
    ok: bool
    note: str = ""
    stages: dict[str, float] = field(default_factory=dict)  # the Spark job's own seconds per stage


@dataclass
class Result:
    runs: list[Run] = field(default_factory=list)

    @property
    def ok_runs(self) -> list[Run]:
        return [r for r in self.runs if r.ok]

    def median_seconds(self) -> float | None:
        return median([r.seconds for r in self.ok_runs]) if self.ok_runs else None

    def peak(self) -> int:
        return max((r.peak_rss for r in self.runs), default=0)

    def median_stages(self) -> dict[str, float]:
        """Median seconds of each stage the Spark job reports, and the rest of the wall time (JVM and
        session start, reading the log of loaded files, the summary)."""
        runs = [r for r in self.ok_runs if r.stages]
        if not runs:
            return {}
        names = list(runs[0].stages)
        out = {name: median([r.stages.get(name, 0.0) for r in runs]) for name in names}
        out["start and the rest"] = median([r.seconds - sum(r.stages.values()) for r in runs])
        return out


def measure(cmd: list[str], log: str) -> Run:
    """Wall time and peak RSS of the process tree of `cmd` (stopped beyond MEMORY_CAP)."""
    env = {**os.environ, "PYTHONPATH": ROOT}
    started = time.perf_counter()
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    root, peak, capped = psutil.Process(proc.pid), 0, False

    def sample() -> None:
        nonlocal peak, capped
        while proc.poll() is None:
            try:
                rss = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            except psutil.Error:
                continue
            peak = max(peak, rss)
            if rss > MEMORY_CAP:
                capped = True
                for p in [*root.children(recursive=True), root]:
                    p.kill()
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = proc.wait()
    seconds = time.perf_counter() - started
    sampler.join()
    if capped:
        return Run(seconds, peak, False, f"stopped at {MEMORY_CAP / 2**30:.0f} GiB (out of memory)")
    return Run(seconds, peak, code == 0, "" if code == 0 else f"exit {code}, see {log}")


ONE_FILE = "-one-file"  # a size's data as one CSV file: "10x-one-file"


def dataset(size: str) -> tuple[str, int]:
    """(input directory, rows) of a size; generated sizes are written once and reused. A size ending
    in -one-file is the same data written as one CSV file (its lines in the same order)."""
    if size.endswith(ONE_FILE):
        return one_file(size)
    factor = int(size.rstrip("x"))
    if factor == 1 and os.path.isdir(REAL_DATA):
        return os.path.abspath(REAL_DATA), REAL_ROWS
    rows = REAL_ROWS * factor
    out = os.path.join(DATA_DIR, size)
    if not os.path.exists(os.path.join(out, "_DONE")):
        shutil.rmtree(out, ignore_errors=True)
        print(f"generating {size}: {rows:,} rows into {out} (once) ...", flush=True)
        subprocess.run(
            [*CLI, "generate", "--rows", str(rows), "--out", out, "--seed", str(factor)], check=True, cwd=ROOT
        )
        open(os.path.join(out, "_DONE"), "w").close()
    return out, rows


def one_file(size: str) -> tuple[str, int]:
    source, rows = dataset(size.removesuffix(ONE_FILE))
    out = os.path.join(DATA_DIR, size)
    if not os.path.exists(os.path.join(out, "_DONE")):
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        names = sorted(n for n in os.listdir(source) if n.endswith(".csv"))
        print(f"writing {size}: the {len(names)} files of {source} as one CSV file (once) ...", flush=True)
        with open(os.path.join(out, "all.csv"), "wb") as whole:
            for i, name in enumerate(names):
                with open(os.path.join(source, name), "rb") as part:
                    if i:
                        part.readline()  # one header for the whole file
                    shutil.copyfileobj(part, whole, 1 << 24)
        open(os.path.join(out, "_DONE"), "w").close()
    return out, rows


def commands(input_dir: str, out: str) -> dict[str, list[str]]:
    return {
        "spark": [
            *CLI,
            "batch",
            "--input",
            input_dir,
            "--warehouse",
            out,
            "--summary-json",
            os.path.join(out, "s.json"),
        ],
        "duckdb": [PY, os.path.join(HERE, "duckdb_ref.py"), input_dir, out],
        "pandas": [PY, os.path.join(HERE, "pandas_ref.py"), input_dir, out],
    }


ENGINES = ("spark", "duckdb", "pandas")
TITLE = "Batch benchmark: Spark vs DuckDB vs pandas"


def _run_once(size: str, name: str, input_dir: str, work: str, label: str) -> tuple[Run, str]:
    out = os.path.join(work, f"{size}-{name}")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(LOGS, exist_ok=True)
    run = measure(commands(input_dir, out)[name], os.path.join(LOGS, f"{size}-{name}.log"))
    if name == "spark" and run.ok:
        with open(os.path.join(out, "s.json"), encoding="utf-8") as fh:
            run.stages = json.load(fh)["stage_seconds"]
    print(
        f"  {size} {name:<6} {label}: {run.seconds:7.1f} s, peak {run.peak_rss / 2**30:5.2f} GiB"
        f"{'  ' + run.note if run.note else ''}",
        flush=True,
    )
    return run, out


def bench_size(size: str, runs: int, work: str, data: str | None = None) -> tuple[dict[str, Result], int]:
    input_dir, rows = (data, 0) if data else dataset(size)  # the rows are the Spark job's count
    results = {name: Result() for name in ENGINES}
    golds = {}
    for name in ENGINES:  # the check: one run each, gold tables compared; it counts as run 1
        run, out = _run_once(size, name, input_dir, work, f"run 1/{runs} and check")
        results[name].runs.append(run)  # a failure (e.g. out of memory) is reported, not retried
        if run.ok:
            golds[name] = spark_gold(out) if name == "spark" else parquet_gold(out)
            if name == "spark":
                with open(os.path.join(out, "s.json"), encoding="utf-8") as fh:
                    rows = json.load(fh)["raw_rows"]
        shutil.rmtree(out, ignore_errors=True)
    if "spark" not in golds:
        raise SystemExit(f"{size}: the Spark job failed; see {LOGS}/{size}-spark.log")
    problems = [
        f"{n}: {d}" for n in ("duckdb", "pandas") if n in golds for d in gold_differences(golds["spark"], golds[n])
    ]
    if problems:
        raise SystemExit(f"{size}: the gold tables differ:\n  " + "\n  ".join(problems))
    print(f"  {size}: gold tables identical across {', '.join(sorted(golds))}", flush=True)
    for attempt in range(2, runs + 1):
        for name in golds:
            run, out = _run_once(size, name, input_dir, work, f"run {attempt}/{runs}")
            results[name].runs.append(run)
            shutil.rmtree(out, ignore_errors=True)
    return results, rows


def _fmt_seconds(result: Result) -> str:
    m = result.median_seconds()
    return f"{m:.1f}" if m is not None else (result.runs[0].note if result.runs else "n/a")


def table(rows_by_size: dict[str, int], results_by_size: dict[str, dict[str, Result]]) -> str:
    lines = [
        "| size | rows | engine | wall s (median) | runs | peak RSS GiB | rows/s | Spark ÷ this |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for size, results in results_by_size.items():
        spark = results["spark"].median_seconds()
        for name, result in results.items():
            m = result.median_seconds()
            ratio = f"{spark / m:.2f}" if m and spark and name != "spark" else ""
            rate = f"{rows_by_size[size] / m:,.0f}" if m else ""
            lines.append(
                f"| {size} | {rows_by_size[size]:,} | {name} | {_fmt_seconds(result)} | {len(result.ok_runs)} | "
                f"{result.peak() / 2**30:.2f} | {rate} | {ratio} |"
            )
    return "\n".join(lines)


def profile(results_by_size: dict[str, dict[str, Result]]) -> str:
    """Where the Spark job's wall time goes: the medians of its own stage timings."""
    stages = {size: results["spark"].median_stages() for size, results in results_by_size.items()}
    names = list(dict.fromkeys(name for by_stage in stages.values() for name in by_stage))
    lines = ["| size | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for size, by_stage in stages.items():
        lines.append(f"| {size} | " + " | ".join(f"{by_stage.get(n, 0):.1f}" for n in names) + " |")
    return "Spark, seconds per stage (median):\n\n" + "\n".join(lines)


def test_suite_seconds() -> float:
    started = time.perf_counter()
    subprocess.run(["make", "test"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1x,10x,10x-one-file,100x")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--test-suite", action="store_true", help="also time `make test`")
    parser.add_argument(
        "--data", metavar="DIR", help="measure the *.csv files of DIR (as the references read them), not --sizes"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the tables; append nothing to results/")
    args = parser.parse_args()
    data = os.path.abspath(args.data) if args.data else None
    sizes = ["data"] if data else args.sizes.split(",")

    def report(body: str) -> None:
        if not args.dry_run:
            append_section(RESULTS, TITLE, body)
        print(body, flush=True)

    import duckdb
    import pandas

    versions = (
        f"Versions: DuckDB {duckdb.__version__}, pandas {pandas.__version__}. Wall time is the whole process "
        "(for Spark: JVM start, Delta jars from the Ivy cache, the job); peak RSS is the process tree's."
    )
    shutil.rmtree(LOGS, ignore_errors=True)  # this run's logs only
    with tempfile.TemporaryDirectory(prefix="ecom-bench-") as work:
        for size in sizes:  # each size's table is written as soon as it is measured
            print(f"{size}:", flush=True)
            results, rows = bench_size(size, args.runs, work, data)
            report(f"{versions}\n\n{table({size: rows}, {size: results})}\n\n{profile({size: results})}")
    if args.test_suite:
        report(f"`make test` (Glue 5.1 leg): {test_suite_seconds():.0f} s.")
    print("--dry-run: nothing appended" if args.dry_run else f"appended to {RESULTS}")


if __name__ == "__main__":
    main()
