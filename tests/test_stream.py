"""The streaming job against the emulator: produce, the stream job (killed and resumed), DynamoDB,
checkpoints that belong to one stream, poison lines, and the emulator under concurrent producers."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime

import pytest
from chispa import assert_df_equality

from ecom_etl.core.schema import HEADER
from ecom_etl.errors import EtlInputError
from ecom_etl.lake.batch import run_batch
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.storage import Storage
from ecom_etl.local import emulator
from ecom_etl.settings import Settings
from ecom_etl.stream import dynamo
from ecom_etl.stream.producer import kinesis_entries, produce
from ecom_etl.stream.runner import run_stream
from tests.builders import fresh_names

pytestmark = pytest.mark.slow  # every test here runs streams against the emulator

STREAM_LINES = 6_000  # three micro-batches of the stream job below


def quiet(_: str) -> None:
    pass


@pytest.fixture
def names(aws) -> Settings:
    """Fresh resources per test: the emulator slows down as one stream grows."""
    settings = fresh_names(aws)
    emulator.create_resources(settings, shards=2)
    return settings


@pytest.fixture(scope="session")
def order_lines_csv(spark, tmp_path_factory, generated) -> str:
    """6,000 real order lines in one CSV (generated lines where the real data set is absent)."""
    from conftest import REAL_DATA

    source = os.path.abspath(REAL_DATA) if os.path.isdir(REAL_DATA) else generated
    path = tmp_path_factory.mktemp("stream-input") / "lines.csv"
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(HEADER) + "\n")
        written = 0
        for name in sorted(os.listdir(source)):
            with open(os.path.join(source, name), encoding="utf-8") as fh:
                next(fh)
                for line in fh:
                    out.write(line)
                    written += 1
                    if written == STREAM_LINES:
                        return str(path)
    return str(path)


def scan_count(settings: Settings, table: str) -> int:
    pages = settings.client("dynamodb").get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(page["Count"] for page in pages)


def partition(settings: Settings, table: str, keys: tuple[str, str], value: str) -> list[dict]:
    """Every item under one partition key, page after page."""
    items, start = [], None
    while True:
        page, start = dynamo.query_page(settings, table, keys, value, 1000, start)
        items += page
        if start is None:
            return items


def stream_job(settings: Settings, warehouse: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecom_etl.cli",
            "stream",
            "--endpoint-url",
            settings.endpoint_url,
            "--stream",
            settings.stream,
            "--customers-table",
            settings.customers_table,
            "--invoices-table",
            settings.invoices_table,
            "--warehouse",
            warehouse,
            "--trigger",
            "200ms",
            "--max-records",
            "2500",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def put(settings: Settings, *payloads: bytes) -> None:
    records = [{"Data": p, "PartitionKey": "bad"} for p in payloads]
    settings.client("kinesis").put_records(StreamName=settings.stream, Records=records)


def test_killed_stream_job_resumes_with_nothing_lost_and_nothing_twice(spark, names, order_lines_csv, tmp_path):
    """A kill -9 of the stream job mid-batch: the restarted job replays that batch, and silver equals the batch
    job's."""
    sent = produce(names, kinesis_entries(Storage(names), order_lines_csv))
    bad = [b"not json at all", b'["a", "list"]', json.dumps({"csv": "536999,X,,two,2011-01-01 10:00,1,,UK"}).encode()]
    put(names, *bad)
    assert sent == STREAM_LINES
    lake = Lake.at(str(tmp_path / "stream-wh"))
    checkpoint = lake.checkpoint(names.stream)

    first = stream_job(names, lake.root)
    deadline = time.monotonic() + 240
    planned = [os.path.join(checkpoint, "offsets", name) for name in ("1", "1.json")]  # Spark's log, the adapter's
    while not any(map(os.path.exists, planned)):  # batch 0 done, batch 1 under way
        assert first.poll() is None, first.stdout.read()
        assert time.monotonic() < deadline, "the stream job made no progress"
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert not os.path.exists(os.path.join(checkpoint, "commits", "1"))  # killed mid-batch

    second = stream_job(names, lake.root, "--stop-when-idle")
    output, _ = second.communicate(timeout=300)
    assert second.returncode == 0, output
    assert "batch 1:" in output and "COUNTS DO NOT ADD UP" not in output  # the interrupted batch was replayed

    expected = Lake.at(str(tmp_path / "batch-wh"))
    summary = run_batch(spark, names, order_lines_csv, expected.root, progress=quiet, register=False)
    silver = spark.read.format("delta").load(lake.silver)
    # The same lines through the batch job and through the stream give identical silver rows.
    assert_df_equality(silver, spark.read.format("delta").load(expected.silver), ignore_row_order=True)
    assert silver.count() == summary.silver_rows

    quarantine = spark.read.format("delta").load(lake.quarantine)
    assert quarantine.count() == summary.quarantined_rows + len(bad)
    raw_lines = {r.raw_line for r in quarantine.where("array_contains(reasons, 'malformed_record')").collect()}
    assert {"not json at all", '["a", "list"]'} <= raw_lines
    assert quarantine.where("raw_quantity = 'two'").first().reasons == ["quantity_not_integer"]

    assert scan_count(names, names.invoices_table) == summary.silver_rows
    invoices = silver.select("customer_id", "invoice_no").distinct().count()
    assert scan_count(names, names.customers_table) == invoices
    # The stream job rebuilt gold itself, at the silver version it ended with.
    gold = spark.read.format("delta").load(lake.gold("revenue_monthly"))
    assert gold.count() == spark.read.format("delta").load(expected.gold("revenue_monthly")).count()


def test_a_replayed_batch_writes_nothing_twice(spark, names, tmp_path):
    """The same micro-batch processed twice commits nothing the second time."""
    from ecom_etl.stream.process import process_batch

    lake = Lake.at(str(tmp_path / "wh"))
    line = b"1,A,X,2,2011-01-01 10:00,1.25,17850.0,UK"
    records = spark.createDataFrame(
        [(json.dumps({"csv": line.decode()}).encode(), "kinesis:s/0/1"), (b"{broken", "kinesis:s/0/2")],
        "payload binary, source string",
    )
    first = process_batch(spark, records, 0, lake, names, "test-app")
    versions = {
        t: spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for t, p in (("s", lake.silver), ("q", lake.quarantine))
    }
    again = process_batch(spark, records, 0, lake, names, "test-app")
    assert (first.new_silver_rows, first.new_quarantined_rows, first.mismatches()) == (1, 1, [])
    assert (again.new_silver_rows, again.new_quarantined_rows, again.mismatches()) == (0, 0, [])
    assert {
        t: spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for t, p in (("s", lake.silver), ("q", lake.quarantine))
    } == versions
    (row,) = spark.read.format("delta").load(lake.silver).collect()
    assert (row.customer_id, str(row.unit_price), row.quantity) == ("17850", "1.250", 2)
    assert scan_count(names, names.invoices_table) == 1 and scan_count(names, names.customers_table) == 1


def test_a_customer_item_ends_as_the_invoices_earliest_line_in_any_order(names):
    """The customers table keeps an invoice's earliest line whatever order the batches come in."""

    def line(minute: int, country: str) -> dict:
        return {
            "customer_id": "17850",
            "invoice_no": "536365",
            "invoice_ts": datetime(2010, 12, 1, 8, minute),
            "country": country,
        }

    early, tie, late = line(26, "United Kingdom"), line(26, "France"), line(27, "EIRE")
    for order in ([late, early, tie], [tie, late, early, late]):  # a later batch, a replay, a tie on time
        table = names.named(customers_table=f"{names.customers_table}-{len(order)}")
        emulator.create_table(table.client("dynamodb"), table.customers_table, dynamo.CUSTOMERS_KEYS)
        for batch in order:
            assert dynamo.put_customers(table, [batch]) == 1
        assert partition(table, table.customers_table, dynamo.CUSTOMERS_KEYS, "17850") == [
            {"CustomerID": "17850", "InvoiceNo": "536365", "InvoiceDate": "2010-12-01 08:26:00", "Country": "France"}
        ]


def test_a_checkpoint_of_a_recreated_stream_is_refused_until_reset(spark, names, tmp_path):
    """A checkpoint of a deleted and recreated stream is refused until reset."""
    lake = Lake.at(str(tmp_path / "wh"))
    checkpoint = str(tmp_path / "cp")
    produce(names, [{"Data": b'{"csv":"1,A,X,1,2011-01-01 10:00,1,,UK"}', "PartitionKey": "1"}])
    assert run_stream(spark, names, lake, checkpoint, 0.1, stop_when_idle=True, progress=quiet) >= 1
    kinesis = names.client("kinesis")
    kinesis.delete_stream(StreamName=names.stream)
    kinesis.get_waiter("stream_not_exists").wait(StreamName=names.stream, WaiterConfig={"Delay": 0.2})
    time.sleep(1.1)  # a new creation time
    emulator.create_resources(names, shards=2)
    produce(names, [{"Data": b'{"csv":"2,A,X,1,2011-01-01 10:00,1,,UK"}', "PartitionKey": "2"}])
    with pytest.raises(EtlInputError, match=r"belongs to stream .* --reset-checkpoint"):
        run_stream(spark, names, lake, checkpoint, 0.1, stop_when_idle=True, progress=quiet)
    run_stream(spark, names, lake, checkpoint, 0.1, stop_when_idle=True, progress=quiet, reset_checkpoint=True)
    assert {r.invoice_no for r in spark.read.format("delta").load(lake.silver).collect()} == {"1", "2"}


def test_one_oversized_line_among_good_ones_is_quarantined_and_the_job_goes_on(spark, names, tmp_path):
    """A line DynamoDB cannot hold (a 3,000-character invoice number) once blocked every later
    batch; now it is quarantined with its reason and every other line reaches silver and DynamoDB."""
    good = [f"{600000 + i},85123A,WHITE HEART,1,2011-01-01 10:00,2.55,17850.0,UK" for i in range(1000)]
    poison = "9" * 3000 + ",85123A,WHITE HEART,1,2011-01-01 10:00,2.55,17850.0,UK"
    entries = [
        {"Data": json.dumps({"csv": line}).encode(), "PartitionKey": line[:10]}
        for line in good[:500] + [poison] + good[500:]
    ]
    produce(names, entries)
    lake = Lake.at(str(tmp_path / "wh"))
    run_stream(spark, names, lake, str(tmp_path / "cp"), 0.1, max_records=400, stop_when_idle=True, progress=quiet)
    assert spark.read.format("delta").load(lake.silver).count() == 1001  # valid for silver: kept there too
    (bad,) = spark.read.format("delta").load(lake.quarantine).collect()
    assert bad.reasons == ["dynamodb_key_too_large"] and len(bad.raw_invoice_no) == 3000
    assert scan_count(names, names.invoices_table) == 1000
    assert len(partition(names, names.customers_table, dynamo.CUSTOMERS_KEYS, "17850")) == 1000
    produce(names, [{"Data": json.dumps({"csv": good[0].replace("600000", "700000")}).encode(), "PartitionKey": "7"}])
    run_stream(spark, names, lake, str(tmp_path / "cp"), 0.1, stop_when_idle=True, progress=quiet)
    assert partition(names, names.invoices_table, dynamo.INVOICES_KEYS, "700000")  # later lines still get through


def test_a_micro_batchs_counts_reach_cloudwatch_and_a_breach_does_not_stop_the_job(spark, names, tmp_path):
    """A streamed micro-batch's counts read back from the emulator's CloudWatch; over the gate, the job goes on."""
    from ecom_etl.lake.quality import Gate
    from tests.test_quality import metrics

    good = [f"{600000 + i},85123A,WHITE HEART,1,2011-01-01 10:00,2.55,17850.0,UK" for i in range(3)]
    lines = [*good, good[0], "600009,85123A,WHITE HEART,1,2011.01.01 10:00,2.55,17850.0,UK"]
    produce(
        names, [{"Data": json.dumps({"csv": line}).encode(), "PartitionKey": str(i)} for i, line in enumerate(lines)]
    )
    lake, job, said = Lake.at(str(tmp_path / "wh")), f"stream-{uuid.uuid4().hex[:8]}", []
    gate = Gate(max_quarantined_share=0.1)
    run_stream(
        spark,
        names,
        lake,
        str(tmp_path / "cp"),
        0.1,
        stop_when_idle=True,
        progress=said.append,
        gate=gate,
        metrics_job=job,
    )
    assert spark.read.format("delta").load(lake.silver).count() == 3  # the job went on and wrote the good lines
    assert any("quality gate failed: quarantined 20 % of the lines read (1 of 5)" in line for line in said), said
    found = metrics(names, job)
    assert found.pop("RunSeconds") > 0 and found.pop("QuarantinedShare") == pytest.approx(0.2)
    assert found == {
        "LinesRead": 5,
        "LinesKept": 3,
        "Duplicates": 1,
        "LinesQuarantined": 1,
        "SinkRejected": 0,
        "Reconciles": 1,
        "GateBreached": 1,
        "QuarantinedByReason/invoice_date_unparseable": 1,
    }


@pytest.mark.one_stack
def test_the_emulator_keeps_every_acknowledged_record_of_concurrent_producers(aws):
    """20 threads x 100 PutRecords calls of 10 records into one shard: every acknowledged record is
    read back once (moto numbers a shard's records from its largest number so far, so two
    concurrent calls once got the same number and one record was lost)."""
    names = fresh_names(aws)  # the template's table names would collide with the platform's stack
    emulator.create_resources(names, shards=1)
    acknowledged: list[str] = []
    lock = threading.Lock()

    def producer(n: int) -> None:
        kinesis = names.client("kinesis")
        for i in range(100):
            records = [{"Data": f"{n}-{i}-{k}".encode(), "PartitionKey": f"{n}-{i}-{k}"} for k in range(10)]
            answer = kinesis.put_records(StreamName=names.stream, Records=records)
            with lock:
                acknowledged.extend((r["ShardId"], r["SequenceNumber"]) for r in answer["Records"] if "ShardId" in r)

    threads = [threading.Thread(target=producer, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    from ecom_etl.stream.kinesis_source import readers

    read = [(shard, r["SequenceNumber"]) for shard, reader in readers(names).items() for r in reader.read(None, 10**9)]
    assert len(acknowledged) == 20_000 and len(set(acknowledged)) == 20_000
    assert sorted(read) == sorted(acknowledged)
