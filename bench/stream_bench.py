"""Streaming benchmark (not a test): process_batch throughput, and end-to-end latency through the
emulator at a steady produce rate. Appends to bench/results/stream.md (--dry-run: only prints).

    .venv/bin/python bench/stream_bench.py [--rate 1000] [--seconds 60] [--trigger 5]
        [--sizes 5000,20000,50000] [--runs 3] [--dry-run]
"""

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from datetime import UTC

from common import REAL_DATA, append_section, machine, median, percentile

from ecom_etl.core import csv_records, wire
from ecom_etl.lake.layout import Lake
from ecom_etl.local import emulator
from ecom_etl.progress import StageTimer
from ecom_etl.runtime.session import local_session
from ecom_etl.settings import Settings
from ecom_etl.stream.process import process_batch
from ecom_etl.stream.records import PAYLOAD_DDL
from ecom_etl.stream.runner import run_stream

Line = tuple[bytes, tuple[str | None, ...]]  # a CSV record's exact bytes and its eight fields
WORK = tempfile.gettempdir()  # main() puts every lake, checkpoint and the emulator's state in a directory of its own


def scratch(prefix: str) -> str:
    return tempfile.mkdtemp(prefix=prefix, dir=WORK)


def real_lines(n: int) -> list[Line]:
    """The first `n` records of the real data set, read as `produce` reads files."""
    if not os.path.isdir(REAL_DATA):
        sys.exit(f"the real data set is needed at {REAL_DATA}")
    out: list[Line] = []
    for name in sorted(os.listdir(REAL_DATA)):
        if not name.endswith(".csv"):
            continue
        path = os.path.join(os.path.abspath(REAL_DATA), name)
        with open(path, "rb") as fh:
            for line in csv_records.file_lines(path, fh):
                out.append(line)
                if len(out) == n:
                    return out
    return out


def entry(line: Line) -> dict:
    """The PutRecords entry of a line, as `produce` sends it."""
    data, fields = line
    return {"Data": wire.line_payload(data), "PartitionKey": wire.partition_key(fields)}


def payload_rows(lines: list[Line]) -> list[tuple[bytes, str]]:
    """(payload, source) rows of PAYLOAD_DDL, positioned as the stream's sources are."""
    return [(wire.line_payload(data), f"kinesis:bench/0/{i}") for i, (data, _) in enumerate(lines)]


def fresh_settings(base: Settings, shards: int = 1) -> Settings:
    """A stream and two tables of their own in the emulator."""
    suffix = uuid.uuid4().hex[:8]
    settings = base.named(
        stream=f"bench-{suffix}",
        customers_table=f"bench-customers-{suffix}",
        invoices_table=f"bench-invoices-{suffix}",
    )
    emulator.create_resources(settings, shards=shards)
    return settings


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux's /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sink_split(spark, base: Settings, lines: list[Line], size: int, runs: int, emulator_pid: int) -> list[str]:
    """Where process_batch's time goes: the Delta part alone, then each DynamoDB table alone, with the
    CPU the emulator and this (client) process spent on it: the emulator serves every call in one
    Python process, so its CPU is a floor under the batch's time that no client change moves."""
    from datetime import datetime

    from ecom_etl.lake.load import load_records
    from ecom_etl.stream import dynamo
    from ecom_etl.stream.records import payloads_to_records

    payloads = payload_rows(lines[:size])
    delta = []
    for run in range(runs + 1):
        lake = Lake.at(scratch("lake-"))
        frame = spark.createDataFrame(payloads, PAYLOAD_DDL)
        started = time.perf_counter()
        load_records(spark, payloads_to_records(frame), lake, datetime.now(UTC), txn=("bench", 0))
        if run:
            delta.append(time.perf_counter() - started)
    silver = [r.asDict() for r in spark.read.format("delta").load(lake.silver).collect()]
    writes = {
        "invoices (BatchWriteItem)": lambda settings: dynamo.put_invoices(settings, silver),
        "customers (conditional PutItem)": lambda settings: dynamo.put_customers(settings, silver),
    }
    measured = {label: [] for label in writes}  # (wall s, emulator CPU s, client CPU s, items) per run
    for _ in range(runs):
        settings = fresh_settings(base)
        for label, write in writes.items():
            wall, server, own = time.perf_counter(), cpu_seconds(emulator_pid), time.process_time()
            items = write(settings)
            measured[label].append(
                (time.perf_counter() - wall, cpu_seconds(emulator_pid) - server, time.process_time() - own, items)
            )
    rows = [f"| {size:,}, Delta sinks only (load) | {median(delta):.1f} | {size / median(delta):,.0f} | |"]
    floor = 0.0
    for label, samples in measured.items():
        wall, server, own = (median([sample[i] for sample in samples]) for i in range(3))
        items = samples[0][3]
        floor += server
        rows.append(
            f"| {items:,} items, DynamoDB only: {label} | {wall:.1f} | {items / wall:,.0f} items | "
            f"emulator CPU {server:.1f} s, client CPU {own:.1f} s |"
        )
    rows += [
        "",
        f"The emulator's CPU for the DynamoDB writes of one {size:,}-record batch: {floor:.1f} s "
        f"(medians of {runs}); at 5,000 records/s the whole batch has {size / 5000:.1f} s.",
    ]
    return rows


def throughput(spark, base: Settings, lines: list[Line], sizes: list[int], runs: int, emulator_pid: int) -> list[str]:
    """Records/s of process_batch per batch size (median of `runs`), each run into a fresh lake and tables."""
    rows = ["| batch size | median s | records/s | stages (median run) |", "|---:|---:|---:|---|"]
    for size in sizes:
        payloads = payload_rows(lines[:size])
        timings = []
        for run in range(runs + 1):  # the first run warms the JVM up and is not counted
            settings, lake = fresh_settings(base), Lake.at(scratch("lake-"))
            frame = spark.createDataFrame(payloads, PAYLOAD_DDL)
            timer = StageTimer()
            started, server = time.perf_counter(), cpu_seconds(emulator_pid)
            process_batch(spark, frame, 0, lake, settings, "bench", timer)
            if run:
                timings.append(
                    (
                        time.perf_counter() - started,
                        {**timer.seconds, "emulator CPU": cpu_seconds(emulator_pid) - server},
                    )
                )
        seconds = median([t for t, _ in timings])
        stages = sorted(timings, key=lambda t: t[0])[len(timings) // 2][1]
        rows.append(
            f"| {size:,} | {seconds:.1f} | {size / seconds:,.0f} | "
            + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())
            + " |"
        )
        print(rows[-1], flush=True)
    return rows


def end_to_end(spark, base: Settings, lines: list[Line], rate: int, seconds: int, trigger: float) -> list[str]:
    """Produce at `rate` records/s for `seconds`; latency = visible in silver and DynamoDB - put.

    One stream job runs from the first put until every record is visible; a record is visible when
    the process_batch call that holds it has returned (a source's sequence number names it)."""
    settings, lake = fresh_settings(base, shards=1), Lake.at(scratch("lake-"))
    checkpoint = scratch("checkpoint-")
    entries = [entry(line) for line in lines]
    put_at: dict[str, float] = {}
    visible_at: dict[str, float] = {}
    total = rate * seconds
    kinesis = settings.client("kinesis")
    done = threading.Event()  # every record visible, or the deadline passed: the stream job stops

    def put(batch: list[dict]) -> None:
        """One PutRecords call's entries, the refused ones sent again; notes each record's put time."""
        for attempt in range(10):
            now = time.monotonic()
            result = kinesis.put_records(StreamName=settings.stream, Records=batch)
            refused = []
            for sent, r in zip(batch, result["Records"]):
                if "SequenceNumber" in r:
                    put_at[r["SequenceNumber"]] = now
                else:
                    refused.append(sent)
            if not refused:
                return
            batch = refused
            time.sleep(min(0.1 * 2**attempt, 2.0))
        raise RuntimeError(f"Kinesis kept refusing {len(batch)} records")

    def producer() -> None:
        started, sent = time.monotonic(), 0
        tick = max(1, rate // 10)
        while sent < total and not done.is_set():
            batch = [entries[(sent + i) % len(entries)] for i in range(min(tick, total - sent))]
            put(batch)
            sent += len(batch)
            time.sleep(max(0.0, sent / rate - (time.monotonic() - started)))

    import ecom_etl.stream.runner as runner

    original = runner.process_batch

    def timed(spark_, frame, batch_id, *args, **kwargs):
        result = original(spark_, frame, batch_id, *args, **kwargs)
        now = time.monotonic()
        for (source,) in frame.select("source").collect():
            visible_at[source.rsplit("/", 1)[1]] = now
        if len(visible_at) >= total:
            done.set()
        return result

    runner.process_batch = timed
    deadline = threading.Timer(seconds * 5 + 120, done.set)
    thread = threading.Thread(target=producer)
    started = time.monotonic()
    try:
        deadline.start()
        thread.start()
        run_stream(
            spark,
            settings,
            lake,
            checkpoint,
            trigger,
            max_records=100_000,
            progress=lambda m: print(m, flush=True),
            stopped=done,
        )
    finally:
        done.set()
        deadline.cancel()
        thread.join()
        runner.process_batch = original
    latencies = [visible_at[s] - put_at[s] for s in put_at if s in visible_at]
    header = [
        "| produce rate | records | trigger | end-to-end records/s | latency p50 | latency p95 | p95 / trigger |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    if not latencies:
        return [*header, f"| {rate:,}/s | 0 of {total:,} visible | {trigger:g}s | | | | |"]
    elapsed = max(visible_at.values()) - started  # to the last record visible (the job's final gold refresh aside)
    missing = f" of {total:,}" if len(latencies) < total else ""
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return [
        *header,
        f"| {rate:,}/s | {len(latencies):,}{missing} | {trigger:g}s | {len(latencies) / elapsed:,.0f} | "
        f"{p50:.1f}s | {p95:.1f}s | {p95 / trigger:.1f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=1000, help="records/s produced end to end (default: %(default)s)")
    parser.add_argument("--seconds", type=int, default=60, help="seconds of producing (default: %(default)s)")
    parser.add_argument("--trigger", type=float, default=5.0, help="the stream job's trigger, s (default: %(default)s)")
    parser.add_argument("--sizes", default="5000,20000,50000", help="process_batch sizes (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per size (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="print the tables; append nothing to results/")
    args = parser.parse_args()

    global WORK
    with tempfile.TemporaryDirectory(prefix="ecom-bench-stream-", ignore_cleanup_errors=True) as WORK:
        run(args)


def run(args: argparse.Namespace) -> None:
    # The emulator in its own process, as `ecom-etl local up` runs it: it does not share our GIL.
    state = scratch("emulator-")
    base = Settings().at(emulator.start(emulator.free_port(), state_dir=state))
    try:
        spark = local_session(base, "ecom-etl-bench-stream")
        sizes = [int(s) for s in args.sizes.split(",")]
        lines = real_lines(max(sizes))
        body = ["### process_batch (Delta silver + quarantine, DynamoDB both tables; moto server)", ""]
        emulator_pid = emulator.started_pid(state)
        body += throughput(spark, base, lines, sizes, args.runs, emulator_pid)
        body += sink_split(spark, base, lines, max(sizes), args.runs, emulator_pid)
        body += [
            "",
            f"### End to end: produce -> Kinesis (moto) -> stream job -> visible, {args.seconds}s at a steady rate",
            "",
        ]
        body += end_to_end(spark, base, lines, args.rate, args.seconds, args.trigger)
        text = "\n".join(body)
        if args.dry_run:
            print(f"\nMachine: {machine()}\n\n{text}\n\n(--dry-run: nothing appended)")
        else:
            print(text)
            append_section(
                os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "stream.md"),
                "Streaming benchmark",
                text,
            )
    finally:
        emulator.stop(state_dir=state)


if __name__ == "__main__":
    main()
