"""The streaming path against moto's server on 127.0.0.1: produce, stream job, DynamoDB, API."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest
from chispa import assert_df_equality

from ecom_etl.aws import Names, client
from ecom_etl.io import Lake
from ecom_etl.pipeline import run_batch
from ecom_etl.schema import RAW_COLUMNS
from ecom_etl.stream import emulator
from ecom_etl.stream.api import use_names
from ecom_etl.stream.producer import csv_lines, produce
from ecom_etl.stream.runner import has_streaming_data_sources, run_stream
from ecom_etl.stream.server import make_server

STREAM_LINES = 20_000


@pytest.fixture
def names(aws) -> Names:
    """Fresh resources per test: the emulator slows down as one stream grows."""
    suffix = uuid.uuid4().hex[:8]
    names = Names(f"orders-{suffix}", f"customers-{suffix}", f"invoices-{suffix}")
    emulator.create_resources(names, shards=2, buckets=())
    return names


@pytest.fixture(scope="session")
def order_lines_csv(spark, tmp_path_factory, generated) -> str:
    """20,000 real order lines in one CSV (generated lines where the real data set is absent)."""
    from conftest import REAL_DATA

    source = os.path.abspath(REAL_DATA) if os.path.isdir(REAL_DATA) else generated
    path = tmp_path_factory.mktemp("stream-input") / "lines.csv"
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(RAW_COLUMNS) + "\n")
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


def scan_count(table: str) -> int:
    dynamodb, count, start = client("dynamodb"), 0, None
    while True:
        page = dynamodb.scan(TableName=table, Select="COUNT", **({"ExclusiveStartKey": start} if start else {}))
        count += page["Count"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return count


def stream_job(names: Names, warehouse: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ecom_etl.cli", "stream", "--stream", names.stream, "--customers-table",
         names.customers_table, "--invoices-table", names.invoices_table, "--warehouse", warehouse,
         "--trigger", "200ms", "--max-records", "8000", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_killed_stream_job_resumes_with_nothing_lost_and_nothing_twice(spark, names, order_lines_csv, tmp_path):
    sent = produce(names.stream, csv_lines(order_lines_csv))
    bad = [b"not json at all", b'["a", "list"]', json.dumps({"InvoiceNo": "536999", "StockCode": "X",
           "Quantity": "two", "InvoiceDate": "2011-01-01 10:00", "UnitPrice": "1"}).encode()]
    client("kinesis").put_records(StreamName=names.stream, Records=[{"Data": b, "PartitionKey": "bad"} for b in bad])
    assert sent == STREAM_LINES
    lake = Lake.at(str(tmp_path / "stream-wh"))
    checkpoint = os.path.join(lake.root, "_checkpoints", names.stream)

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
    assert "batch 1:" in output  # the interrupted batch was replayed first

    expected = Lake.at(str(tmp_path / "batch-wh"))
    summary = run_batch(spark, order_lines_csv, expected.root, progress=lambda _: None)
    silver = spark.read.format("delta").load(lake.silver)
    # The same lines through the batch job and through the stream give identical silver rows.
    assert_df_equality(silver, spark.read.format("delta").load(expected.silver), ignore_row_order=True)
    assert silver.count() == summary.silver_rows

    quarantine = spark.read.format("delta").load(lake.quarantine)
    assert quarantine.count() == summary.quarantined_rows + len(bad)
    raw_lines = {r.raw_line for r in quarantine.where("raw_line is not null").collect()}
    assert raw_lines == {"not json at all", '["a", "list"]'}
    assert quarantine.where("raw_quantity = 'two'").first().reasons == ["quantity_not_integer"]

    assert scan_count(names.invoices_table) == summary.silver_rows
    invoices = silver.select("customer_id", "invoice_no").distinct().count()
    assert scan_count(names.customers_table) == invoices


def test_a_replayed_batch_writes_nothing_twice(spark, names, tmp_path):
    from ecom_etl.stream.process import process_batch

    lake = Lake.at(str(tmp_path / "wh"))
    records = spark.createDataFrame(
        [(json.dumps({"InvoiceNo": "1", "StockCode": "A", "Quantity": 2, "InvoiceDate": "2011-01-01 10:00",
                      "UnitPrice": 1.25, "CustomerID": 17850.0, "Country": "UK", "Description": "X"}), "kinesis:s/0/1"),
         ("{broken", "kinesis:s/0/2")],
        "payload string, source string",
    )
    first = process_batch(spark, records, 0, lake, names, "test-app")
    versions = {t: spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for t, p in (("s", lake.silver), ("q", lake.quarantine))}
    again = process_batch(spark, records, 0, lake, names, "test-app")
    assert (first.new_silver_rows, first.new_quarantined_rows) == (1, 1)
    assert (again.new_silver_rows, again.new_quarantined_rows) == (0, 0)
    assert {t: spark.sql(f"DESCRIBE HISTORY delta.`{p}`").count() for t, p in (("s", lake.silver), ("q", lake.quarantine))} == versions
    (line,) = spark.read.format("delta").load(lake.silver).collect()
    assert (line.customer_id, str(line.unit_price), line.quantity) == ("17850", "1.250", 2)
    assert scan_count(names.invoices_table) == 1 and scan_count(names.customers_table) == 1


def test_a_customer_item_ends_as_the_invoices_earliest_line_in_any_order(names):
    from datetime import datetime

    from ecom_etl.stream.dynamo import put_customers, to_python

    def line(minute: int, country: str) -> dict:
        return {"customer_id": "17850", "invoice_no": "536365", "invoice_ts": datetime(2010, 12, 1, 8, minute),
                "country": country}

    early, tie, late = line(26, "United Kingdom"), line(26, "France"), line(27, "EIRE")
    for order in ([late, early, tie], [tie, late, early, late]):  # a later batch, a replay, a tie on time
        table = Names(f"{names.stream}-{len(order)}", f"{names.customers_table}-{len(order)}", names.invoices_table)
        emulator.create_resources(table, shards=1, buckets=())
        for batch in order:
            assert put_customers(table.customers_table, [batch]) == 1
        (item,) = client("dynamodb").scan(TableName=table.customers_table)["Items"]
        assert to_python(item) == {"CustomerID": "17850", "InvoiceNo": "536365",
                                   "InvoiceDate": "2010-12-01 08:26:00", "Country": "France"}


def request(url: str, body: bytes | None = None) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, method="POST" if body else "GET")) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def api(names):
    use_names(names)
    server = make_server(port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_post_then_get_returns_the_line_once_the_stream_processed_it(spark, names, api, tmp_path):
    line = {"InvoiceNo": "C580001", "StockCode": "85123a", "Description": "WHITE HEART", "Quantity": -2,
            "InvoiceDate": "2011-12-01T10:15:00", "UnitPrice": 2.55, "CustomerID": "", "Country": "France"}
    assert request(f"{api}/orders", json.dumps({"lines": [line]}).encode()) == (202, {"accepted": 1})
    assert request(f"{api}/invoices/C580001")[0] == 404  # not processed yet

    run_stream(spark, names, str(tmp_path / "wh"), str(tmp_path / "cp"), trigger_seconds=0.1, stop_when_idle=True,
               progress=lambda _: None)
    # Spark 4: a real readStream query over the Kinesis data source, with Spark's own checkpoint.
    assert (tmp_path / "cp" / ("metadata" if has_streaming_data_sources() else "offsets/0.json")).exists()
    status, invoice = request(f"{api}/invoices/c580001")
    assert status == 200 and invoice["total"] == "-5.100"
    (item,) = invoice["lines"]
    assert (item["StockCode"], item["Quantity"], item["UnitPrice"], item["CustomerID"]) == ("85123A", -2, "2.550", "unknown")
    assert item["LineKey"].startswith("85123A#")
    status, customer = request(f"{api}/customers/unknown/invoices")
    assert status == 200 and customer["invoices"] == [
        {"InvoiceNo": "C580001", "InvoiceDate": "2011-12-01 10:15:00", "Country": "France"}
    ]


@pytest.mark.parametrize(
    "body, problem",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps({"lines": []}).encode(), "non-empty list"),
        (json.dumps({"lines": [{"InvoiceNo": "1"}] * 501}).encode(), "more than the limit of 500"),
        (b'{"lines": ["' + b"x" * (1024 * 1024) + b'"]}', "larger than the limit"),
    ],
    ids=["invalid-json", "not-an-object", "no-lines", "too-many-lines", "oversized"],
)
def test_bad_post_bodies_are_refused_whole(names, api, body, problem):
    status, answer = request(f"{api}/orders", body)
    assert status == 400 and any(problem in p for p in answer["problems"]), answer
    shard = client("kinesis").list_shards(StreamName=names.stream)["Shards"][0]["ShardId"]
    it = client("kinesis").get_shard_iterator(StreamName=names.stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    assert client("kinesis").get_records(ShardIterator=it["ShardIterator"])["Records"] == []


def test_every_problem_of_every_line_is_listed_and_nothing_is_queued(names, api):
    good = {"InvoiceNo": "1", "StockCode": "A", "Quantity": 1, "InvoiceDate": "2011-01-01 10:00", "UnitPrice": "1.5"}
    lines = [good, {**good, "Quantity": "1.5", "UnitPrice": "cheap"}, {**good, "StockCode": " ", "Colour": "red"}, "x"]
    status, answer = request(f"{api}/orders", json.dumps({"lines": lines}).encode())
    assert status == 400
    assert answer["problems"] == [
        "lines[1].Quantity: must be an integer",
        "lines[1].UnitPrice: must be a decimal number",
        "lines[2].Colour: unknown field",
        "lines[2].StockCode: required",
        "lines[3]: must be an object",
    ]
    streams = client("kinesis").describe_stream_summary(StreamName=names.stream)
    assert streams["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE"


def test_unknown_routes_and_missing_items_are_404(api):
    assert request(f"{api}/nothing")[0] == 404
    assert request(f"{api}/customers/99999/invoices")[0] == 404
