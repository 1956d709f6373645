"""The batch and stream jobs on a Spark standalone cluster (a master and a worker on 127.0.0.1, the
worker's executor in a JVM of its own): the same tables as the same runs in local[2] (the tests'
own session)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ecom_etl.core.schema import HEADER
from ecom_etl.lake.batch import run_batch
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.storage import Storage
from ecom_etl.local import emulator
from ecom_etl.stream.producer import kinesis_entries, produce
from ecom_etl.stream.runner import run_stream
from tests import test_stream
from tests.test_pipeline import assert_same_lake
from tests.test_stream import put, stream_job

pytestmark = pytest.mark.slow  # starts a master, a worker and jobs of its own

names = test_stream.names  # fresh stream and tables

LINES = 400  # four files of generated order lines (broken ones among them)


def spark_class(*args: str, log: Path, env: dict[str, str]) -> subprocess.Popen:
    """One of Spark's daemons from the installed pyspark, in a process group of its own (the worker's
    executors join it), so that stopping it stops them too."""
    from pyspark.find_spark_home import _find_spark_home

    out = log.open("w")
    return subprocess.Popen(
        [os.path.join(_find_spark_home(), "bin", "spark-class"), *args],
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def wait_for(log: Path, text: str, process: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, f"no {text!r} in {log}:\n{log.read_text(errors='replace')[-3000:]}"
        time.sleep(0.5)


def stop(process: subprocess.Popen) -> None:
    """The daemon and whatever it started (the worker's executor JVMs)."""
    for sig, seconds in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=seconds)
            os.killpg(process.pid, 0)  # an executor left in the group: on to SIGKILL
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass


@pytest.fixture
def cluster(tmp_path):
    """A standalone master and one worker (2 cores) on free ports of 127.0.0.1, web UIs on ports of
    their own choosing: the master's URL."""
    env = {
        **os.environ,
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(tmp_path / "logs"),
        "SPARK_WORKER_DIR": str(tmp_path / "work"),
        "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
    }
    port = emulator.free_port()
    url = f"spark://127.0.0.1:{port}"
    started = []

    def daemon(kind: str, *args: str, ready: str) -> None:
        log = tmp_path / f"{kind.lower()}.log"
        started.append(spark_class(f"org.apache.spark.deploy.{kind.lower()}.{kind}", *args, log=log, env=env))
        wait_for(log, ready, started[-1])

    try:
        daemon("Master", "--host", "127.0.0.1", "--port", str(port), "--webui-port", "0", ready="elected leader")
        daemon(
            "Worker",
            *("--host", "127.0.0.1", "--port", "0", "--webui-port", "0", "--cores", "2", "--memory", "2g", url),
            ready="Successfully registered with master",
        )
        yield url
    finally:
        for process in reversed(started):
            stop(process)


@pytest.fixture
def small_input(generated, tmp_path) -> str:
    """LINES generated order lines in four CSV files, and all of them in one (for the stream)."""
    lines = []
    for name in sorted(os.listdir(generated)):
        with open(os.path.join(generated, name), encoding="utf-8") as fh:
            lines += fh.readlines()[1:]
        if len(lines) >= LINES:
            break
    lines = lines[:LINES]
    days = tmp_path / "days"
    days.mkdir()
    header = ",".join(HEADER) + "\n"
    for i in range(4):
        part = lines[i * LINES // 4 : (i + 1) * LINES // 4]
        (days / f"part-{i}.csv").write_text(header + "".join(part), encoding="utf-8")
    return str(days)


def batch_on(master: str, input_path: str, warehouse: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ecom_etl.cli", "batch", "--input", input_path, "--warehouse", warehouse],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "ECOM_ETL_MASTER": master, "SPARK_LOCAL_IP": "127.0.0.1", "ECOM_ETL_DEBUG": "1"},
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stderr


def stream_on(master: str, settings, warehouse: str, monkeypatch) -> str:
    monkeypatch.setenv("ECOM_ETL_MASTER", master)
    monkeypatch.setenv("SPARK_LOCAL_IP", "127.0.0.1")
    monkeypatch.setenv("ECOM_ETL_DEBUG", "1")  # a failure with its Java trace
    job = stream_job(settings, warehouse, "--stop-when-idle")
    output, _ = job.communicate(timeout=600)
    assert job.returncode == 0, output[-4000:]
    return output


def test_the_jobs_on_a_standalone_cluster_write_what_they_write_in_local_mode(
    spark,
    cluster,
    small_input,
    names,
    tmp_path,
    monkeypatch,
):
    """Only here does a job's code run in an executor JVM of its own, which needs the jars and the
    Python the driver was given."""
    on_cluster, local = Lake.at(str(tmp_path / "cluster")), Lake.at(str(tmp_path / "local"))
    batch_on(cluster, small_input, on_cluster.root)
    run_batch(spark, names, small_input, local.root, progress=lambda _: None, register=False)
    assert spark.read.format("delta").load(on_cluster.silver).count() > 0
    assert_same_lake(spark, on_cluster, local)

    sent = produce(names, kinesis_entries(Storage(names), small_input))
    put(names, b"not json at all")
    assert sent == LINES
    on_cluster, local = Lake.at(str(tmp_path / "stream-cluster")), Lake.at(str(tmp_path / "stream-local"))
    output = stream_on(cluster, names, on_cluster.root, monkeypatch)
    assert "COUNTS DO NOT ADD UP" not in output
    run_stream(spark, names, local, local.checkpoint(names.stream), 0.1, stop_when_idle=True, progress=lambda _: None)
    for table in ("silver", "quarantine"):
        actual = spark.read.format("delta").load(getattr(on_cluster, table))
        expected = spark.read.format("delta").load(getattr(local, table))
        assert actual.count() == expected.count() > 0
    assert_same_lake(spark, on_cluster, local)
