"""Spark failures caused by bad input become one readable line."""

import pytest

from ecom_etl import cli
from ecom_etl.errors import EtlError, EtlInputError, EtlWriteError, explain


@pytest.mark.one_stack
def test_an_input_error_raised_in_a_spark_worker_comes_back_as_its_own_line():
    spark_text = (
        "An exception was thrown from the Python worker. Please see the stack trace below.\n"
        'Traceback (most recent call last):\n  File "sources.py", line 80, in _file_rows\n'
        "ecom_etl.errors.EtlInputError: s3://raw/x.csv: unexpected CSV header 'Inv,StockCode', "
        "expected 'InvoiceNo,...'\n"
        "\tat org.apache.spark.api.python.BasePythonRunner..."
    )
    assert str(explain(Exception(spark_text))) == (
        "s3://raw/x.csv: unexpected CSV header 'Inv,StockCode', expected 'InvoiceNo,...'"
    )


@pytest.mark.one_stack
def test_a_missing_path_or_bucket_is_named():
    spark41 = "[PATH_NOT_FOUND] Path does not exist: s3a://raw/2011-01-04.csv. SQLSTATE: 42K03"
    assert str(explain(Exception(spark41))) == "input path does not exist s3a://raw/2011-01-04.csv"
    s3 = "java.io.FileNotFoundException: No such file or directory; NoSuchBucket: The specified bucket does not exist"
    assert str(explain(Exception(s3))).startswith("no such bucket")


@pytest.mark.one_stack
def test_access_denied_is_a_write_error_on_the_lake_and_an_input_error_on_the_input():
    denied = "org.apache.hadoop.fs.s3a.AWSS3IOException: {what} on s3a://{where}: AccessDenied (403 Forbidden)"
    lake, raw = "s3://lake/wh", "s3://raw/orders/"
    writing = explain(
        Exception(denied.format(what="PUT 0", where="lake/wh/silver/order_lines/part-0.parquet")), raw, lake
    )
    assert type(writing) is EtlWriteError
    assert str(writing) == "access denied writing the lake: s3a://lake/wh/silver/order_lines/part-0.parquet"
    reading = explain(Exception(denied.format(what="GET", where="raw/orders/2011-01-04.csv")), raw, lake)
    assert type(reading) is EtlInputError
    assert str(reading) == "access denied reading the input: s3a://raw/orders/2011-01-04.csv"
    gone = explain(Exception("NoSuchBucket: The specified bucket does not exist: s3a://lake/wh/_delta_log"), raw, lake)
    assert type(gone) is EtlWriteError
    elsewhere = explain(Exception(denied.format(what="GET", where="other/x")), raw, lake)
    assert type(elsewhere) is EtlError  # neither the input nor the lake: not called an input error
    assert str(elsewhere) == "access denied: s3a://other/x"


@pytest.mark.one_stack
def test_the_cli_exits_2_for_an_input_error_and_1_for_a_write_error(monkeypatch, capsys):
    def failing(error: Exception) -> None:
        def run(args: object) -> int:
            raise error

        monkeypatch.setattr("ecom_etl.cli.sql.run", run)

    failing(EtlWriteError("access denied writing the lake: s3a://lake/x"))
    assert cli.main(["sql", "--warehouse", "w", "select 1"]) == 1
    assert capsys.readouterr().err == "ecom-etl: error: access denied writing the lake: s3a://lake/x\n"
    failing(EtlInputError("input path does not exist x"))
    assert cli.main(["sql", "--warehouse", "w", "select 1"]) == 2
    capsys.readouterr()
    failing(
        RuntimeError(
            "An error occurred while calling o81.load.\n: [PATH_NOT_FOUND] Path does not exist: s3a://raw/x.csv."
        )
    )
    assert cli.main(["sql", "--warehouse", "w", "select 1"]) == 2
    assert capsys.readouterr().err == "ecom-etl: error: input path does not exist s3a://raw/x.csv\n"


@pytest.mark.one_stack
def test_unknown_failures_are_not_disguised_as_input_errors():
    assert explain(Exception("java.lang.OutOfMemoryError: Java heap space")) is None
