"""One SparkSession for the whole test run: local[2], two shuffle partitions, no UI."""

import os
import time

import pytest

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
