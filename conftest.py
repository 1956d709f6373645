"""One SparkSession and one AWS emulator for the whole test run: local[2], two shuffle partitions,
no UI; the emulator (moto's server) on a free port of 127.0.0.1, reached by URL from boto3 and
Spark (S3A, the Delta log store) alike."""

import os
import time
from collections import Counter

import pytest

from tests.builders import GENERATED_ROWS, GENERATED_SEED

# Spark hands timestamps to Python in the process time zone: make it the session's (UTC).
os.environ["TZ"] = "UTC"
time.tzset()

REAL_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shared", "data", "online-retail", "by-day")


@pytest.fixture(scope="session")
def emulator_url() -> str:
    """Where the emulator answers once a test asks for AWS: a free port chosen now, so that the
    Spark session is built against it (S3A, the Delta log store) without waiting for it to start."""
    from ecom_etl.local import emulator

    return f"http://127.0.0.1:{emulator.free_port()}"


@pytest.fixture(scope="session")
def emulator_state(emulator_url, tmp_path_factory):
    """The emulator, in its own process, from the first test that needs AWS to the end of the run."""
    from ecom_etl.local import emulator

    state = str(tmp_path_factory.mktemp("emulator"))
    emulator.start(int(emulator_url.rsplit(":", 1)[1]), state_dir=state)
    yield state
    emulator.stop(state)


@pytest.fixture(scope="session")
def emulator_pid(emulator_state) -> int:
    from ecom_etl.local import emulator

    return emulator.started_pid(emulator_state)


@pytest.fixture(scope="session")
def aws(emulator_state, emulator_url):
    """Settings pointing at the emulator (an empty AWS: tests make the resources they use)."""
    from ecom_etl.settings import Settings

    return Settings().at(emulator_url)


@pytest.fixture(scope="session")
def platform(aws):
    """The emulator with the platform's stack deployed as `ecom-etl local up` deploys it: the
    stream, tables, the Delta log store's table and the buckets under the template's names."""
    from ecom_etl.local import emulator

    emulator.deploy_platform(aws, "ecom", shards=1, progress=lambda _: None)
    return aws


# Fixtures that run a job, a stream or a deploy: a test that asks for one must be marked slow where
# it is written (`pytest.mark.slow` on the test or its module), which `make test-fast` leaves out.
SLOW_FIXTURES = {"loaded", "generated", "platform", "real_data_dir", "by_batch"}


def pytest_collection_modifyitems(items):
    unmarked = [i.nodeid for i in items if SLOW_FIXTURES & set(i.fixturenames) and i.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError(f"not marked slow but uses one of {sorted(SLOW_FIXTURES)}: {', '.join(unmarked)}")


# Delta's own test session (delta/testing/utils.py) keeps few snapshot partitions and a small log cache.
TEST_SESSION_CONF = {"spark.databricks.delta.delta.log.cacheSize": "3", "delta.log.cacheSize": "3"}


@pytest.fixture(scope="session")
def spark(emulator_url):
    """The session every test shares: local[2], two shuffle partitions, no UI, S3 on the emulator's
    address (the emulator itself starts only for tests that ask for `aws`)."""
    from ecom_etl.runtime.session import local_session
    from ecom_etl.settings import Settings, SparkSettings

    session = local_session(
        Settings().at(emulator_url),
        "ecom-etl-tests",
        SparkSettings(master="local[2]", shuffle_partitions=2, ui=False),
    )
    for key, value in TEST_SESSION_CONF.items():
        session.conf.set(key, value)
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
    from ecom_etl.local.generate import write_csv_by_day

    out = str(tmp_path_factory.mktemp("generated"))
    write_csv_by_day(spark, GENERATED_ROWS, out, seed=GENERATED_SEED)
    return out


@pytest.fixture(scope="session")
def loaded(spark, aws, generated, tmp_path_factory):
    """One batch run over all generated files, registered in the emulator's catalog: (summary, lake)."""
    from ecom_etl.lake.batch import run_batch
    from ecom_etl.lake.layout import Lake

    lake = Lake.at(str(tmp_path_factory.mktemp("warehouse")))
    return run_batch(spark, aws, generated, lake.root, database="e2e", progress=lambda _: None), lake


def pytest_terminal_summary(terminalreporter):
    """Seconds per test module (setup, call and teardown), after the slowest tests: where a leg's
    time goes (bench/results/tests.md)."""
    seconds: Counter = Counter()
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) in ("setup", "call", "teardown"):
                seconds[report.nodeid.split("::")[0]] += report.duration
    if seconds:
        terminalreporter.write_sep("=", "seconds per module")
        for module, total in seconds.most_common():
            terminalreporter.write_line(f"{total:8.1f}s {module}")
