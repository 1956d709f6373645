"""Fault injection: a batch run killed in each stage, a stream sink that fails mid-write, an
emulator that stops answering. After recovery the lake (and DynamoDB) equal a clean run's."""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

from ecom_etl.core.schema import GOLD_TABLES
from ecom_etl.lake.batch import run_batch
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.storage import Storage
from ecom_etl.local import emulator
from ecom_etl.stream import dynamo
from ecom_etl.stream.producer import kinesis_entries, produce
from ecom_etl.stream.runner import run_stream
from tests.builders import fresh_names
from tests.test_pipeline import assert_same_lake

pytestmark = pytest.mark.slow
DAYS = slice(60, 70)


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def inbox(generated, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("fault-inbox")
    for name in sorted(os.listdir(generated))[DAYS]:
        shutil.copy(os.path.join(generated, name), path / name)
    return str(path)


@pytest.fixture(scope="module")
def clean(spark, aws, inbox, tmp_path_factory) -> Lake:
    lake = Lake.at(str(tmp_path_factory.mktemp("clean-wh")))
    run_batch(spark, aws, inbox, lake.root, progress=quiet, register=False)
    return lake


def kill_batch_when(inbox: str, lake: Lake, ready) -> str:
    """Run `ecom-etl batch` in its own process group and kill -9 all of it (Python and Spark's JVM,
    as when a machine dies) when `ready(line)` says so."""
    job = subprocess.Popen(
        [sys.executable, "-m", "ecom_etl.cli", "batch", "--input", inbox, "--warehouse", lake.root],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    seen = []
    for line in job.stderr:
        seen.append(line)
        if ready(line):
            os.killpg(job.pid, signal.SIGKILL)
            break
    job.wait()
    assert job.returncode == -signal.SIGKILL, "".join(seen)
    return "".join(seen)


@pytest.mark.parametrize("stage", ["parse, clean and write silver", "write quarantine"])
def test_a_batch_killed_in_a_stage_heals_on_the_next_run(spark, aws, inbox, clean, tmp_path, stage):
    """A kill -9 of the job's whole process tree (its JVM too) in each stage: nothing is recorded as loaded, the
    rerun heals."""
    lake = Lake.at(str(tmp_path / "wh"))
    kill_batch_when(inbox, lake, lambda line: f"] {stage} ..." in line)
    healed = run_batch(spark, aws, inbox, lake.root, progress=quiet, register=False)
    assert healed.reconciles and healed.files_new == DAYS.stop - DAYS.start  # nothing was recorded as loaded
    assert_same_lake(spark, lake, clean)


def test_a_batch_killed_between_gold_commits_heals_gold_on_the_next_run(spark, aws, inbox, clean, tmp_path):
    """Once the run reported success with stale gold: gold was rebuilt only when lines were new."""
    lake = Lake.at(str(tmp_path / "wh"))

    def committed() -> list[str]:
        first = os.path.join("_delta_log", "00000000000000000000.json")
        return [name for name in GOLD_TABLES if os.path.exists(os.path.join(lake.gold(name), first))]

    def gold_started(line: str) -> bool:
        if "refresh gold ..." not in line:
            return False
        deadline = time.monotonic() + 120
        while not committed():  # the gold tables are written side by side: killed at the first commit
            assert time.monotonic() < deadline
            time.sleep(0.01)
        return True

    kill_batch_when(inbox, lake, gold_started)
    done = committed()
    behind = [name for name in GOLD_TABLES if name not in done]
    assert done and behind  # killed between gold commits
    healed = run_batch(spark, aws, inbox, lake.root, progress=quiet, register=False)
    assert healed.files_new == 0 and healed.gold_rebuilt == behind  # the committed ones are at silver's version
    assert_same_lake(spark, lake, clean)


@pytest.fixture
def stream(aws):
    settings = fresh_names(aws)
    emulator.create_resources(settings, shards=1)
    return settings


def streamed(spark, settings, inbox: str, lake: Lake, checkpoint: str) -> None:
    """The stream job until it has caught up, in micro-batches of at most 40 records."""
    run_stream(spark, settings, lake, checkpoint, 0.1, max_records=40, stop_when_idle=True, progress=quiet)


def assert_same_serving_tables(settings, other) -> None:
    for table, other_table, key in (
        (settings.invoices_table, other.invoices_table, ("InvoiceNo", "LineKey")),
        (settings.customers_table, other.customers_table, ("CustomerID", "InvoiceNo")),
    ):
        scan = settings.resource("dynamodb").Table
        assert sorted(scan(table).scan()["Items"], key=lambda i: tuple(i[k] for k in key)) == sorted(
            scan(other_table).scan()["Items"], key=lambda i: tuple(i[k] for k in key)
        )


def test_a_sink_failing_mid_write_is_written_again_and_nothing_twice(spark, aws, inbox, stream, tmp_path, monkeypatch):
    """A DynamoDB write that fails half done: the replayed batch completes it and writes nothing twice."""
    from ecom_etl.stream.process import DynamoSink

    produce(stream, kinesis_entries(Storage(stream), inbox))
    lake, checkpoint = Lake.at(str(tmp_path / "wh")), str(tmp_path / "cp")
    real, calls = DynamoSink.write, []

    def failing(self, lines):
        calls.append(1)
        if len(calls) != 2:
            return real(self, lines)
        settings = self.settings  # the second batch: its invoices are written, its customers are not

        def invoices_only(rows):
            dynamo.put_invoices(settings, [row.asDict() for row in rows])

        lines.coalesce(1).foreachPartition(invoices_only)
        raise ConnectionError("the table went away mid-batch")

    monkeypatch.setattr(DynamoSink, "write", failing)
    with pytest.raises(Exception, match="went away"):
        streamed(spark, stream, inbox, lake, checkpoint)
    monkeypatch.undo()
    streamed(spark, stream, inbox, lake, checkpoint)  # the same batch again, then the rest

    reference = aws.named(
        stream=f"{stream.stream}-ref",
        customers_table=f"{stream.customers_table}-ref",
        invoices_table=f"{stream.invoices_table}-ref",
    )
    emulator.create_resources(reference, shards=1)
    produce(reference, kinesis_entries(Storage(reference), inbox))
    clean = Lake.at(str(tmp_path / "clean"))
    streamed(spark, reference, inbox, clean, str(tmp_path / "cp-ref"))
    assert_same_lake(spark, lake, clean)
    assert_same_serving_tables(stream, reference)


def test_an_emulator_that_stops_answering_for_a_while_loses_nothing(
    spark, aws, emulator_pid, inbox, stream, clean, tmp_path
):
    """The emulator (all of AWS, locally) is frozen for 5 s in the middle of the stream job."""
    produce(stream, kinesis_entries(Storage(stream), inbox))
    lake = Lake.at(str(tmp_path / "wh"))
    worker = threading.Thread(target=streamed, args=(spark, stream, inbox, lake, str(tmp_path / "cp")))
    worker.start()
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(lake.silver, "_delta_log")):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.kill(emulator_pid, signal.SIGSTOP)
    time.sleep(5)
    os.kill(emulator_pid, signal.SIGCONT)
    worker.join(timeout=300)
    assert not worker.is_alive()
    silver = lambda path: sorted(map(tuple, spark.read.format("delta").load(path).collect()))  # noqa: E731
    assert silver(lake.silver) == silver(clean.silver)
    assert len(stream.resource("dynamodb").Table(stream.invoices_table).scan()["Items"]) == len(silver(clean.silver))
