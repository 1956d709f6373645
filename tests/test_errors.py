"""Spark failures caused by bad input become one readable line (the S3 path, where Spark checks headers)."""

from ecom_etl.errors import explain


def test_header_mismatch_names_the_file():
    spark35 = (
        "An error occurred while calling o71.collectToPython.\n: org.apache.spark.SparkException: Job aborted: "
        "java.lang.IllegalArgumentException: CSV header does not conform to the schema.\n Header: Inv, StockCode\n"
        " Schema: InvoiceNo, StockCode\nExpected: InvoiceNo but found: Inv\nCSV file: s3a://raw/2011-01-04.csv\n\tat org..."
    )
    assert str(explain(Exception(spark35))) == "unexpected CSV header in the input s3a://raw/2011-01-04.csv"
    spark41 = (
        "[FAILED_READ_FILE.NO_HINT] Encountered error while reading file s3a://raw/x.csv.  SQLSTATE: KD001\n"
        "Caused by: java.lang.IllegalArgumentException: Number of column in CSV header is not equal to number of fields"
    )
    assert str(explain(Exception(spark41))) == "unexpected CSV header in the input s3a://raw/x.csv"


def test_unknown_failures_are_not_disguised_as_input_errors():
    assert explain(Exception("java.lang.OutOfMemoryError: Java heap space")) is None
