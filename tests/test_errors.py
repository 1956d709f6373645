"""Spark failures caused by bad input become one readable line."""

import pytest

from ecom_etl.errors import explain


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
def test_access_denied_names_the_read_or_the_write_that_failed():
    denied = "org.apache.hadoop.fs.s3a.AWSS3IOException: {what} on s3a://{where}: AccessDenied (403 Forbidden)"
    lake, raw = "s3://lake/wh", "s3://raw/orders/"
    writing = Exception(denied.format(what="PUT 0", where="lake/wh/silver/order_lines/part-0.parquet"))
    assert (
        str(explain(writing, raw, lake))
        == "access denied writing the lake: s3a://lake/wh/silver/order_lines/part-0.parquet"
    )
    reading = Exception(denied.format(what="GET", where="raw/orders/2011-01-04.csv"))
    assert str(explain(reading, raw, lake)) == "access denied reading the input: s3a://raw/orders/2011-01-04.csv"


@pytest.mark.one_stack
def test_unknown_failures_are_not_disguised_as_input_errors():
    assert explain(Exception("java.lang.OutOfMemoryError: Java heap space")) is None
