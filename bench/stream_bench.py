"""Streaming benchmark (not a test): process_batch throughput, and end-to-end latency through the
emulator at a steady produce rate. Appends to bench/results/stream.md.

    .venv/bin/python bench/stream_bench.py [--rate 1000] [--seconds 60] [--trigger 5]
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

from common import REAL_DATA, append_section, median, percentile

from ecom_etl.aws import Names, client, use_endpoint
from ecom_etl.io import Lake
from ecom_etl.pipeline import StageTimer
from ecom_etl.runtime import local_session
from ecom_etl.stream import emulator
from ecom_etl.stream.process import process_batch
from ecom_etl.stream.producer import csv_lines
from ecom_etl.stream.runner import run_stream
from ecom_etl.stream.wire import line_to_record


def real_lines(n: int) -> list[dict]:
    if not os.path.isdir(REAL_DATA):
        sys.exit(f"the real data set is needed at {REAL_DATA}")
    out = []
    for line in csv_lines(os.path.abspath(REAL_DATA)):
        out.append(line)
        if len(out) == n:
            return out
    return out


def fresh_names(shards: int = 1) -> Names:
    suffix = uuid.uuid4().hex[:8]
    names = Names(f"bench-{suffix}", f"bench-customers-{suffix}", f"bench-invoices-{suffix}")
    emulator.create_resources(names, shards=shards, buckets=())
    return names


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux's /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sink_split(spark, lines: list[dict], size: int, runs: int, emulator_pid: int) -> list[str]:
    """Where process_batch's time goes: the Delta part alone, then each DynamoDB table alone, with the
    CPU the emulator and this (client) process spent on it: the emulator serves every call in one
    Python process, so its CPU is a floor under the batch's time that no client change moves."""
    from datetime import datetime

    from ecom_etl.pipeline import clean_and_load
    from ecom_etl.stream import dynamo
    from ecom_etl.stream.records import records_to_raw

    payloads = [(line_to_record(l).decode(), f"kinesis:bench/0/{i}") for i, l in enumerate(lines[:size])]
    delta = []
    for run in range(runs + 1):
        lake = Lake.at(tempfile.mkdtemp(prefix="bench-lake-"))
        frame = spark.createDataFrame(payloads, "payload string, source string")
        started = time.perf_counter()
        clean_and_load(spark, records_to_raw(frame), lake, datetime.now(UTC), txn=("bench", 0))
        if run:
            delta.append(time.perf_counter() - started)
    silver = [r.asDict() for r in spark.read.format("delta").load(lake.silver).collect()]
    writes = {
        "invoices (BatchWriteItem)": lambda names, db: dynamo.batch_put(
            names.invoices_table, (dynamo.invoice_item(line) for line in silver), db
        ),
        "customers (conditional PutItem)": lambda names, db: dynamo.put_customers(names.customers_table, silver, db),
    }
    measured = {label: [] for label in writes}  # (wall s, emulator CPU s, client CPU s, items) per run
    for _ in range(runs):
        names, db = fresh_names(), client("dynamodb")
        for label, write in writes.items():
            wall, server, own = time.perf_counter(), cpu_seconds(emulator_pid), time.process_time()
            items = write(names, db)
            measured[label].append(
                (time.perf_counter() - wall, cpu_seconds(emulator_pid) - server, time.process_time() - own, items)
            )
    rows = [f"| {size:,}, Delta sinks only (clean_and_load) | {median(delta):.1f} | {size / median(delta):,.0f} | |"]
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


def throughput(spark, lines: list[dict], sizes: list[int], runs: int, emulator_pid: int) -> list[str]:
    """Records/s of process_batch per batch size (median of `runs`), each run into a fresh lake and tables."""
    rows = ["| batch size | median s | records/s | stages (median run) |", "|---:|---:|---:|---|"]
    for size in sizes:
        payloads = [(line_to_record(l).decode(), f"kinesis:bench/0/{i}") for i, l in enumerate(lines[:size])]
        timings = []
        for run in range(runs + 1):  # the first run warms the JVM up and is not counted
            names, lake = fresh_names(), Lake.at(tempfile.mkdtemp(prefix="bench-lake-"))
            frame = spark.createDataFrame(payloads, "payload string, source string")
            timer = StageTimer()
            started, server = time.perf_counter(), cpu_seconds(emulator_pid)
            process_batch(spark, frame, 0, lake, names, "bench", timer)
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


def end_to_end(spark, lines: list[dict], rate: int, seconds: int, trigger: float) -> list[str]:
    """Produce at `rate` records/s for `seconds`; latency = visible in silver and DynamoDB - put."""
    names, lake = fresh_names(shards=1), Lake.at(tempfile.mkdtemp(prefix="bench-lake-"))
    checkpoint = tempfile.mkdtemp(prefix="bench-cp-")
    put_at: dict[str, float] = {}
    visible_at: dict[str, float] = {}
    total = rate * seconds
    kinesis = client("kinesis")

    def producer() -> None:
        started, sent = time.monotonic(), 0
        tick = max(1, rate // 10)
        while sent < total:
            batch = [lines[(sent + i) % len(lines)] for i in range(min(tick, total - sent))]
            now = time.monotonic()
            result = kinesis.put_records(
                StreamName=names.stream,
                Records=[{"Data": line_to_record(l), "PartitionKey": l["InvoiceNo"]} for l in batch],
            )
            for r in result["Records"]:
                put_at[r["SequenceNumber"]] = now
            sent += len(batch)
            time.sleep(max(0.0, sent / rate - (time.monotonic() - started)))

    import ecom_etl.stream.runner as runner

    original = runner.process_batch

    def timed(spark_, frame, batch_id, *args, **kwargs):
        result = original(spark_, frame, batch_id, *args, **kwargs)
        done = time.monotonic()
        for (source,) in frame.select("source").collect():
            visible_at[source.rsplit("/", 1)[1]] = done
        return result

    runner.process_batch = timed
    thread = threading.Thread(target=producer)
    started = time.monotonic()
    thread.start()
    stop = threading.Event()

    def consume() -> None:
        deadline = time.monotonic() + seconds * 5 + 120
        while (not stop.is_set() or len(visible_at) < total) and time.monotonic() < deadline:
            run_stream(
                spark,
                names,
                lake.root,
                checkpoint,
                trigger,
                max_records=100_000,
                stop_when_idle=True,
                progress=lambda m: print(m, flush=True),
            )
            if len(visible_at) >= total:
                return

    consumer = threading.Thread(target=consume)
    consumer.start()
    thread.join()
    stop.set()
    consumer.join()
    runner.process_batch = original
    elapsed = time.monotonic() - started
    latencies = [visible_at[s] - put_at[s] for s in put_at if s in visible_at]
    return [
        "| produce rate | records | trigger | end-to-end records/s | latency p50 | latency p95 | p95 / trigger |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {rate:,}/s | {len(latencies):,} | {trigger:g}s | {len(latencies) / elapsed:,.0f} | "
        f"{percentile(latencies, 50):.1f}s | {percentile(latencies, 95):.1f}s | {percentile(latencies, 95) / trigger:.1f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--trigger", type=float, default=5.0)
    parser.add_argument("--sizes", default="5000,20000,50000")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    # The emulator in its own process, as `ecom-etl local up` runs it: it does not share our GIL.
    state = tempfile.mkdtemp(prefix="bench-moto-")
    use_endpoint(emulator.start(emulator.free_port(), state_dir=state))
    spark = local_session("ecom-etl-bench-stream")
    sizes = [int(s) for s in args.sizes.split(",")]
    lines = real_lines(max(sizes))
    body = ["### process_batch (Delta silver + quarantine, DynamoDB both tables; moto server)", ""]
    emulator_pid = emulator.started_pid(state)
    body += throughput(spark, lines, sizes, args.runs, emulator_pid)
    body += sink_split(spark, lines, max(sizes), args.runs, emulator_pid)
    body += [
        "",
        f"### End to end: produce -> Kinesis (moto) -> stream job -> visible, {args.seconds}s at a steady rate",
        "",
    ]
    body += end_to_end(spark, lines, args.rate, args.seconds, args.trigger)
    text = "\n".join(body)
    print(text)
    append_section(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "stream.md"), "Streaming benchmark", text
    )
    emulator.stop(state_dir=state)


if __name__ == "__main__":
    main()
