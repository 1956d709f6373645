"""One SparkSession and one AWS emulator for the whole test run: local[2], two shuffle partitions,
no UI; the emulator (moto's server) on a free port of 127.0.0.1, reached by URL from boto3 and
Spark (S3A, the Delta log store) alike."""

import os
import time

import pytest

from tests.builders import GENERATED_ROWS, GENERATED_SEED

# Spark hands timestamps to Python in the process time zone: make it the session's (UTC).
os.environ["TZ"] = "UTC"
time.tzset()

REAL_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared", "data", "online-retail", "by-day")


@pytest.fixture(scope="session")
def emulator_state(tmp_path_factory):
    """The emulator, in its own process for the session: its state directory."""
    from ecom_etl.stream import emulator

    state = str(tmp_path_factory.mktemp("emulator"))
    emulator.start(emulator.free_port(), state_dir=state)
    yield state
    emulator.stop(state)


@pytest.fixture(scope="session")
def emulator_pid(emulator_state) -> int:
    from ecom_etl.stream import emulator

    return emulator.started_pid(emulator_state)


@pytest.fixture(scope="session")
def aws(emulator_state):
    """Settings pointing at the emulator (an empty AWS: tests make the resources they use)."""
    from ecom_etl.settings import Settings
    from ecom_etl.stream import emulator

    return Settings().at(emulator.running_url(emulator_state))


@pytest.fixture(scope="session")
def platform(aws):
    """The emulator with the platform's stack deployed as `ecom-etl local up` deploys it: the
    stream, tables, the Delta log store's table and the buckets under the template's names."""
    from ecom_etl.stream import emulator

    emulator.deploy_platform(aws, "ecom", shards=1, progress=lambda _: None)
    return aws


# A test is slow (left out by `make test-fast`) when it runs a job, a stream or a deploy: modules and tests that do are
# marked where they are written; a test that needs one of these fixtures is marked here.
SLOW_FIXTURES = {"loaded", "generated", "platform", "by_batch", "real_data_dir"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def spark(aws):
    from ecom_etl.runtime import local_session
    from ecom_etl.settings import SparkSettings

    session = local_session(aws, "ecom-etl-tests", SparkSettings(master="local[2]", shuffle_partitions=2, ui=False))
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
def loaded(spark, aws, generated, tmp_path_factory):
    """One batch run over all generated files, registered in the emulator's catalog: (summary, lake)."""
    from ecom_etl.batch import run_batch
    from ecom_etl.lake import Lake

    lake = Lake.at(str(tmp_path_factory.mktemp("warehouse")))
    return run_batch(spark, aws, generated, lake.root, database="e2e", progress=lambda _: None), lake
