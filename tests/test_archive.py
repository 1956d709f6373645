"""The stream's archive closes the loop: POST -> Kinesis -> the archive Firehose writes -> the batch
job gives the silver rows the stream job gives."""

import gzip
import json
import threading
import urllib.request
import uuid

import pytest
from chispa import assert_df_equality

from ecom_etl.api.server import make_server
from ecom_etl.lake.batch import run_batch
from ecom_etl.lake.layout import Lake
from ecom_etl.local import emulator
from ecom_etl.stream.kinesis_source import readers
from ecom_etl.stream.runner import run_stream

pytestmark = pytest.mark.slow

LINES = [
    {
        "InvoiceNo": "580100",
        "StockCode": "85123A",
        "Description": "WHITE HANGING HEART",
        "Quantity": 2,
        "InvoiceDate": "2011-12-09 12:00:00",
        "UnitPrice": 2.55,
        "CustomerID": "17850",
        "Country": "United Kingdom",
    },
    {
        "InvoiceNo": "580100",
        "StockCode": "22423",
        "Description": 'REGENCY CAKESTAND, 3 "TIER"\nBOXED',
        "Quantity": 1,
        "InvoiceDate": "2011-12-09 12:00:00",
        "UnitPrice": "12.75",
        "CustomerID": "17850.0",
        "Country": "United Kingdom",
    },
    {
        "InvoiceNo": "C580101",
        "StockCode": "22720",
        "Description": "CAFÉ SET",
        "Quantity": -1,
        "InvoiceDate": "2011-12-09T13:05:00Z",
        "UnitPrice": 4.95,
        "CustomerID": None,
        "Country": "France",
    },
]


def archive_as_firehose_writes_it(settings, bucket: str) -> str:
    """What Firehose (which the emulator does not run) delivers from the stream: the records, each
    ended by a newline (AppendDelimiterToRecord), gzipped, under the template's date prefix."""
    records = [r["Data"] for reader in readers(settings).values() for r in reader.read(None, 10**6)]
    key = f"stream/ingest_date=2011-12-09/{settings.stream}-1-2011-12-09-12-00-00-{uuid.uuid4()}.jsonl.gz"
    body = gzip.compress(b"".join(record + b"\n" for record in records))
    settings.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/stream/"


def test_the_archive_of_posted_lines_loads_into_the_silver_rows_the_stream_job_wrote(spark, aws, tmp_path):
    """Firehose's archive of posted lines, read by the batch job, gives the silver rows the stream job wrote."""
    suffix = uuid.uuid4().hex[:8]
    stream = aws.named(stream=f"orders-{suffix}", customers_table=f"c-{suffix}", invoices_table=f"i-{suffix}")
    emulator.create_resources(stream, shards=1)
    server = make_server(stream, port=0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()  # shutdown() waits a poll
    try:
        body = json.dumps({"lines": LINES}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.server_port}/orders", body, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request) as answer:
            assert answer.status == 202
    finally:
        server.shutdown()

    streamed = Lake.at(str(tmp_path / "streamed"))
    run_stream(spark, stream, streamed, str(tmp_path / "cp"), 0.1, stop_when_idle=True, progress=lambda _: None)
    bucket = f"raw-{suffix}"
    aws.client("s3").create_bucket(Bucket=bucket)
    archive = archive_as_firehose_writes_it(stream, bucket)

    batched = Lake.at(str(tmp_path / "batched"))
    summary = run_batch(spark, aws, archive, batched.root, progress=lambda _: None, register=False)
    assert (summary.files_new, summary.raw_rows, summary.silver_rows, summary.reconciles) == (1, 3, 3, True)
    silver = spark.read.format("delta").load(streamed.silver)
    assert_df_equality(spark.read.format("delta").load(batched.silver), silver, ignore_row_order=True)
    assert {r.description for r in silver.collect()} == {
        "WHITE HANGING HEART",
        'REGENCY CAKESTAND, 3 "TIER"\nBOXED',
        "CAFÉ SET",
    }
    # Streamed lines reach gold without a batch run: the stream job refreshed it.
    days = spark.read.format("delta").load(streamed.gold("revenue_daily")).collect()
    assert [(str(d.invoice_date), str(d.net_revenue)) for d in days] == [("2011-12-09", "12.900")]
