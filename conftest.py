"""One SparkSession for the whole test run: local[2], two shuffle partitions, no UI."""

import os
import time

import pytest

from tests.builders import GENERATED_ROWS, GENERATED_SEED

# Spark hands timestamps to Python in the process time zone: make it the session's (UTC).
os.environ["TZ"] = "UTC"
time.tzset()

REAL_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared", "data", "online-retail", "by-day")


@pytest.fixture(scope="session")
def spark():
    from ecom_etl.runtime import local_session

    session = local_session("ecom-etl-tests", master="local[2]", shuffle_partitions=2, ui=False)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def real_data_dir() -> str:
    path = os.path.abspath(REAL_DATA)
    if not os.path.isdir(path):
        pytest.skip(f"real data set not present at {path}")
    return path


@pytest.fixture(scope="session")
def generated(spark, tmp_path_factory) -> str:
    """A small generated data set, one CSV per day (made once per test run)."""
    from ecom_etl.generate import write_csv_by_day

    out = str(tmp_path_factory.mktemp("generated"))
    write_csv_by_day(spark, GENERATED_ROWS, out, seed=GENERATED_SEED)
    return out


@pytest.fixture(scope="session")
def loaded(spark, generated, tmp_path_factory):
    """One batch run over all generated files: (summary, lake)."""
    from ecom_etl.io import Lake
    from ecom_etl.pipeline import run_batch

    lake = Lake.at(str(tmp_path_factory.mktemp("warehouse")))
    return run_batch(spark, generated, lake.root, database="e2e", progress=lambda _: None), lake


@pytest.fixture(scope="session")
def aws(tmp_path_factory):
    """The emulator (moto's server) on a free port of 127.0.0.1 in its own process; boto3 (and
    Spark's workers) reach it by URL."""
    from ecom_etl.aws import use_endpoint
    from ecom_etl.stream import emulator

    state = str(tmp_path_factory.mktemp("emulator"))
    url = emulator.start(emulator.free_port(), state_dir=state)
    use_endpoint(url)
    yield url
    emulator.stop(state)
