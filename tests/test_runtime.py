"""The local SparkSession is built from the settings it is given."""

import os
import sys

import pytest

from ecom_etl.errors import EtlInputError
from ecom_etl.runtime.session import _starting_environment, local_session
from ecom_etl.settings import Settings


def test_the_active_session_is_reused_for_its_own_settings_and_refused_for_others(spark, emulator_url):
    assert local_session(Settings().at(emulator_url)) is spark
    with pytest.raises(EtlInputError, match=r"fs\.s3a\.endpoint is '[^']+', not 'http://127\.0\.0\.1:1'"):
        local_session(Settings().at("http://127.0.0.1:1"))
    with pytest.raises(EtlInputError, match=r"fs\.s3a\.endpoint is '[^']+', not None"):
        local_session(Settings())  # AWS itself, not the emulator the session writes to
    with pytest.raises(EtlInputError, match=r"ecom\.delta\.log\.table is 'ecom-delta-log', not 'other-log'"):
        local_session(Settings(delta_log_table="other-log").at(emulator_url))


@pytest.mark.one_stack
def test_spark_workers_python_is_set_while_spark_starts_and_not_left_in_the_environment(monkeypatch):
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    monkeypatch.delenv("PYSPARK_SUBMIT_ARGS", raising=False)
    with _starting_environment("/x.jar"):
        assert os.environ["PYSPARK_PYTHON"] == sys.executable
        assert os.environ["PYSPARK_SUBMIT_ARGS"] == "--jars /x.jar pyspark-shell"
    assert "PYSPARK_PYTHON" not in os.environ and "PYSPARK_SUBMIT_ARGS" not in os.environ
    monkeypatch.setenv("PYSPARK_PYTHON", "/chosen/python")
    with _starting_environment(""):
        assert os.environ["PYSPARK_PYTHON"] == "/chosen/python"
        assert "PYSPARK_SUBMIT_ARGS" not in os.environ
    assert os.environ["PYSPARK_PYTHON"] == "/chosen/python"
