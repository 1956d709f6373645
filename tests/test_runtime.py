"""The local SparkSession is built from the settings it is given."""

import os
import sys

import pytest
from pyspark.sql import SparkSession

from ecom_etl.core.schema import HEADER
from ecom_etl.errors import EtlInputError
from ecom_etl.lake.batch import run_batch
from ecom_etl.runtime.session import _starting_environment, local_session
from ecom_etl.settings import Settings


def test_a_batch_run_leaves_its_callers_session_the_active_one(spark, tmp_path):
    """A run works in a session of its own; the next local_session must not get that one."""
    (tmp_path / "in").mkdir()
    line = "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom"
    (tmp_path / "in" / "day.csv").write_text(",".join(HEADER) + "\n" + line + "\n")
    summary = run_batch(spark, Settings(), str(tmp_path / "in"), str(tmp_path / "wh"), progress=print, register=False)
    assert summary.silver_rows == 1
    assert SparkSession.getActiveSession() is spark


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
