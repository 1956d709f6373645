"""The lake on S3 (the emulator's), as on AWS: s3:// input and lake, two writers that lose nothing."""

import os
import shutil
import subprocess
import sys
import threading
import uuid
from datetime import datetime

import pytest

from ecom_etl import cli
from ecom_etl.lake.batch import run_batch
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.storage import Storage
from ecom_etl.local import emulator
from ecom_etl.stream.producer import kinesis_entries, produce
from ecom_etl.stream.runner import run_stream
from tests.builders import fresh_names

pytestmark = pytest.mark.slow  # every test here runs jobs against the emulator's S3

DAYS = 12  # generated days uploaded as raw files


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def buckets(platform):
    """Fresh raw and lake buckets in the emulator that holds the platform (its Delta log store table)."""
    aws = platform
    raw, lake = f"raw-{uuid.uuid4().hex[:8]}", f"lake-{uuid.uuid4().hex[:8]}"
    for bucket in (raw, lake):
        aws.client("s3").create_bucket(Bucket=bucket)
    return raw, lake


def upload(aws, files: list[str], bucket: str, prefix: str) -> None:
    for path in files:
        aws.client("s3").upload_file(path, bucket, f"{prefix}/{os.path.basename(path)}")


def deltalake_rows(aws, uri: str) -> list[tuple]:
    """Every row of a Delta table on the emulator's S3, read by another Delta reader (delta-rs)."""
    import deltalake

    options = {
        "AWS_ENDPOINT_URL": aws.endpoint_url,
        "AWS_ACCESS_KEY_ID": aws.credentials[0],
        "AWS_SECRET_ACCESS_KEY": aws.credentials[1],
        "AWS_REGION": aws.region,
        "AWS_ALLOW_HTTP": "true",
    }
    table = deltalake.DeltaTable(uri, storage_options=options).to_pyarrow_table()
    drop = [c for c in ("source", "quarantine_id", "ingested_at") if c in table.column_names]
    return sorted(tuple(map(_wall_clock, row.values())) for row in table.drop_columns(drop).to_pylist())


def _wall_clock(value):
    """delta-rs hands timestamps back in UTC, Spark without a zone: the same instant."""
    return value.replace(tzinfo=None) if isinstance(value, datetime) and value.tzinfo else value


def spark_rows(spark, path: str) -> list[tuple]:
    frame = spark.read.format("delta").load(path)
    frame = frame.drop(*[c for c in ("source", "quarantine_id", "ingested_at") if c in frame.columns])
    return sorted(tuple(r) for r in frame.collect())


def test_a_batch_run_on_s3_gives_the_tables_of_the_same_run_on_folders(
    capsys, spark, aws, generated, buckets, tmp_path
):
    """The same run on s3:// (the emulator) and on folders gives the same tables; sql and report read S3."""
    raw, lake_bucket = buckets
    days = sorted(os.path.join(generated, n) for n in os.listdir(generated))[:DAYS]
    folder = tmp_path / "deliveries"
    folder.mkdir()
    for path in days:
        shutil.copy(path, folder)
    endpoint = ["--endpoint-url", aws.endpoint_url]
    assert cli.main(["local", "upload", str(folder), "--to", f"s3://{raw}/orders/", *endpoint]) == 0
    objects = aws.client("s3").list_objects_v2(Bucket=raw)["Contents"]
    assert sorted(o["Key"] for o in objects) == [
        f"orders/ingest_date={os.path.basename(p)[:-4]}/{os.path.basename(p)}" for p in days
    ]
    on_s3 = Lake(f"s3://{lake_bucket}/lake")
    summary = run_batch(spark, aws, f"s3://{raw}/orders/", on_s3.root, database="s3lake", progress=quiet)
    assert summary.files_new == DAYS and summary.reconciles and summary.silver_source_rows == summary.silver_rows
    local = local_run(spark, aws, days, tmp_path)
    for name, location in on_s3.tables().items():
        assert deltalake_rows(aws, location) == spark_rows(spark, local.tables()[name]), name
    tables = aws.client("glue").get_tables(DatabaseName="s3lake")["TableList"]
    assert {t["StorageDescriptor"]["Location"] for t in tables} == set(on_s3.tables().values())

    # A new object is the only one the next run reads; ecom-etl sql and report read the S3 lake.
    upload(
        aws,
        [sorted(os.path.join(generated, n) for n in os.listdir(generated))[DAYS]],
        raw,
        "orders/ingest_date=2026-12-01",
    )
    again = run_batch(spark, aws, f"s3://{raw}/orders/", on_s3.root, database="s3lake", progress=quiet)
    assert (again.files_new, again.files_skipped) == (1, DAYS)
    assert (
        cli.main(
            ["sql", "SELECT count(*) AS n FROM order_lines", "--warehouse", on_s3.root, "--format", "csv", *endpoint]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines() == ["n", str(summary.silver_rows + again.new_silver_rows)]
    assert cli.main(["report", "--warehouse", on_s3.root, "--out", str(tmp_path / "r.html"), *endpoint]) == 0


def test_two_writers_claiming_one_commit_one_wins_and_the_other_is_told(spark, aws, buckets):
    """The log store head-on: two stores write version 0 of one table at the same moment."""
    _, lake_bucket = buckets
    jvm = spark._jvm
    conf = spark._jsc.hadoopConfiguration()
    log = f"s3a://{lake_bucket}/race-{uuid.uuid4().hex[:6]}/_delta_log"
    path = jvm.org.apache.hadoop.fs.Path(f"{log}/00000000000000000000.json")
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def commit(writer: str) -> None:
        store = jvm.ecom.delta.DynamoDBLogStore(conf)
        actions = jvm.java.util.ArrayList()
        actions.add(f'{{"commitInfo":{{"writer":"{writer}"}}}}')
        start.wait()
        try:
            store.write(path, actions.iterator(), False, conf)
            outcomes.append(f"won:{writer}")
        except Exception as exc:
            outcomes.append("lost:FileAlreadyExists" if "FileAlreadyExistsException" in str(exc) else f"error:{exc}")

    threads = [threading.Thread(target=commit, args=(w,)) for w in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(o.split(":")[0] for o in outcomes) == ["lost", "won"], outcomes
    winner = next(o.split(":")[1] for o in outcomes if o.startswith("won"))
    body = aws.client("s3").get_object(Bucket=lake_bucket, Key=path.toUri().getPath().lstrip("/"))["Body"].read()
    assert f'"writer":"{winner}"'.encode() in body


def local_run(spark, aws, files: list[str], tmp_path) -> Lake:
    """The same files loaded by the same job into a lake on local folders."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for path in files:
        os.symlink(path, inbox / os.path.basename(path))
    lake = Lake.at(str(tmp_path / "local-wh"))
    run_batch(spark, aws, str(inbox), lake.root, progress=quiet, register=False)
    return lake


def test_the_batch_and_stream_jobs_write_one_s3_silver_at_once_and_lose_nothing(
    spark, aws, generated, buckets, tmp_path
):
    """A batch run (its own driver, a subprocess) and the stream job commit to the same tables at
    the same time, twice: silver's history has no gap, and it holds exactly the lines of both
    inputs, as read by another Delta reader (delta-rs)."""
    raw, lake_bucket = buckets
    lake = Lake(f"s3://{lake_bucket}/shared-{uuid.uuid4().hex[:6]}")
    stream = fresh_names(aws)
    emulator.create_resources(stream, shards=1)
    days = sorted(os.path.join(generated, n) for n in os.listdir(generated))[40:60]
    for round_ in range(2):
        batch_days, stream_days = days[10 * round_ : 10 * round_ + 5], days[10 * round_ + 5 : 10 * round_ + 10]
        upload(aws, batch_days, raw, f"shared/round-{round_}")
        for day in stream_days:
            produce(stream, kinesis_entries(Storage(stream), day))
        batch = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ecom_etl.cli",
                "batch",
                "--input",
                f"s3://{raw}/shared/round-{round_}/",
                "--warehouse",
                lake.root,
                "--endpoint-url",
                aws.endpoint_url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        run_stream(
            spark, stream, lake, f"{lake.root}/_checkpoints/s", 0.1, max_records=25, stop_when_idle=True, progress=quiet
        )
        output, _ = batch.communicate(timeout=600)
        assert batch.returncode == 0, output[-3000:]
    versions = sorted(r.version for r in spark.sql(f"DESCRIBE HISTORY delta.`{lake.silver}`").collect())
    assert versions == list(range(len(versions))) and len(versions) >= 6
    expected = local_run(spark, aws, days, tmp_path)
    assert deltalake_rows(aws, lake.silver) == spark_rows(spark, expected.silver)
