"""One data contract on every path: the same hostile lines in a file read by the batch job, sent
by `ecom-etl produce` through the stream job, and POSTed to the API get the same fate."""

import json
from datetime import datetime

import pytest
from chispa import assert_df_equality

from ecom_etl.api.post_body import PROBLEM, check_line
from ecom_etl.core import contract, csv_records
from ecom_etl.core.schema import CLEAN_COLUMNS, HEADER, RAW_FIELDS, RAW_LINE
from ecom_etl.lake.batch import run_batch
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.storage import Storage
from ecom_etl.local import emulator
from ecom_etl.stream.producer import kinesis_entries, produce
from ecom_etl.stream.runner import run_stream
from tests.builders import fresh_names

LINES = {
    "good": b"536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom",
    "seven-fields": b"536370,22728,ALARM CLOCK,24,2010-12-01 08:45:00,3.75,12583.0",
    "nine-fields": b"536371,22728,ALARM CLOCK,24,2010-12-01 08:45:00,3.75,12583.0,France,EXTRA",
    "sign-sign": b"536372,22728,X,+-3,2010-12-01 08:45,1,,UK",
    "exponent": b"536373,22728,X,1e3,2010-12-01 08:45,1,,UK",
    "nan-price": b"536374,22728,X,1,2010-12-01 08:45,NaN,,UK",
    "price-signs": b"536375,22728,X,1,2010-12-01 08:45,+-+5,,UK",
    "four-decimals": b"536376,22728,X,1,2010-12-01 08:45,1.2345,,UK",
    "word-date": b"536377,22728,X,1,yesterday,1,,UK",
    "impossible-date": b"536378,22728,X,1,2011-02-30 10:00,1,,UK",
    "year-zero": b"536379,22728,X,1,0000-01-01 10:00,1,,UK",
    "iso-offset": b"536380,22728,X,1,2011-06-30T23:59:01.5+02:00,1,,UK",
    "us-date": b"536381,22728,X,1,12/1/2010 8:26,1,17850,UK",
    "blanks": b" , ,  ,  , , , , ",
    "quotes": b'536382,22041,"RECORD FRAME 7"" SINGLE,SIZE ",48,2010-12-01 12:27:00,2.1,16210.0,United Kingdom',
    "line-break": b'536383,22041,"TWO\nLINES",48,2010-12-01 12:27:00,2.1,16210.0,United Kingdom',
    "non-ascii": "536384,22001,CAFÉ – ÄÖÜ ✓,6,2010-12-01 08:26:00,2.55,17850.0,Österreich".encode(),
    "latin-1": "536385,22001,CAFÉ,6,2010-12-01 08:26:00,2.55,17850.0,France".encode("latin-1"),
    "spaces": b"  536386 , 85123a ,  WHITE HEART ,  6 , 2010-12-01 08:26:00 , 2.55 , 17850.0 , United Kingdom ",
    "whitespace-only": b"   ",
    "lowercase": b"c536387,85123a,x,-1,2010-12-01 08:26:00,2.55,17850.00,uk",
    "big-quantity": b"536388,22728,X,1234567890,2010-12-01 08:45,1,,UK",
    # Python upper-cases U+2C5F, Java 17 does not: rule 2 changes ASCII letters only, on every engine.
    "glagolitic": "glagⱟ1,85123aⱟ,X,1,2010-12-01 08:45,1,,UK".encode(),
    "last-microsecond": b"536390,22728,X,1,9999-12-31T23:59:59.999999Z,1,,UK",
}
KEPT = [RAW_LINE, *RAW_FIELDS, "reasons"]  # the quarantine's columns that do not name the path

pytestmark = pytest.mark.slow  # every test here judges its lines against one batch run (`by_batch`)


@pytest.fixture(scope="module")
def hostile_file(tmp_path_factory) -> str:
    """All the lines in one exporter-style file: a byte order mark and CRLF line ends."""
    path = tmp_path_factory.mktemp("hostile") / "hostile.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ",".join(HEADER).encode() + b"\r\n" + b"\r\n".join(LINES.values()) + b"\r\n")
    return str(path)


@pytest.fixture(scope="module")
def by_batch(spark, aws, hostile_file, tmp_path_factory) -> Lake:
    lake = Lake.at(str(tmp_path_factory.mktemp("batch-wh")))
    summary = run_batch(spark, aws, hostile_file, lake.root, progress=lambda _: None, register=False)
    assert summary.reconciles and summary.raw_rows == len(LINES)
    return lake


def rows(spark, path: str, columns=None):
    frame = spark.read.format("delta").load(path)
    return frame.select(*(columns or frame.columns))


def test_the_stream_cleans_every_line_as_the_batch_job_does(spark, aws, hostile_file, by_batch, tmp_path):
    """The same hostile lines through the stream job and the batch job end in the same silver and quarantine."""
    stream = fresh_names(aws)
    emulator.create_resources(stream, shards=1)
    assert produce(stream, kinesis_entries(Storage(stream), hostile_file)) == len(LINES)
    lake = Lake.at(str(tmp_path / "stream-wh"))
    run_stream(spark, stream, lake, str(tmp_path / "cp"), 0.1, stop_when_idle=True, progress=lambda _: None)
    assert_df_equality(rows(spark, lake.silver), rows(spark, by_batch.silver), ignore_row_order=True)
    assert_df_equality(
        rows(spark, lake.quarantine, KEPT), rows(spark, by_batch.quarantine, KEPT), ignore_row_order=True
    )
    kept = {r.invoice_no for r in rows(spark, by_batch.silver).collect()}  # as the contract says
    assert kept == {"536365", "536380", "536381", "536382", "536383", "536384", "536386", "C536387", "GLAGⱟ1", "536390"}


def test_the_api_rules_give_every_kept_line_the_values_spark_stores(spark, by_batch):
    """The API judges a line with contract.clean_line; silver holds what Spark made of it. Value
    for value the same, so an id the API accepts is the id silver and DynamoDB hold and GET finds."""
    judged = set()
    for text in LINES.values():
        record = csv_records.one_record(text)
        cleaned = contract.clean_line(dict(zip(HEADER, record.fields)))
        if not record.reasons and not cleaned.reasons:
            judged.add(tuple(cleaned.values[c] for c in CLEAN_COLUMNS))
    assert {tuple(r) for r in rows(spark, by_batch.silver, list(CLEAN_COLUMNS)).collect()} == judged


def test_the_lakes_other_readers_read_the_times_spark_wrote(spark, by_batch):
    """delta-rs, Athena and Redshift Spectrum read silver too. Parquet's INT96 (Spark's default)
    made delta-rs refuse 9999-12-31 ("would lose data") and a plain Parquet reader show 1816."""
    import deltalake
    import pyarrow.parquet as pq

    written = {
        (r.invoice_no, r.invoice_ts) for r in rows(spark, by_batch.silver, ["invoice_no", "invoice_ts"]).collect()
    }
    assert ("536390", datetime(9999, 12, 31, 23, 59, 59, 999999)) in written
    table = deltalake.DeltaTable(by_batch.silver)
    by_delta = table.to_pyarrow_table(columns=["invoice_no", "invoice_ts"]).to_pylist()
    by_parquet = [
        r for f in table.file_uris() for r in pq.read_table(f, columns=["invoice_no", "invoice_ts"]).to_pylist()
    ]
    for read in (by_delta, by_parquet):
        assert {(r["invoice_no"], r["invoice_ts"].replace(tzinfo=None)) for r in read} == written


def _reasons_of(problems: list[str]) -> set[str]:
    messages = {f"{field}: {message}": reason for reason, (field, message) in PROBLEM.items()}
    return {messages[p.split(".", 1)[1]] for p in problems}


@pytest.mark.parametrize(
    "case", [c for c in LINES if c not in ("seven-fields", "nine-fields", "latin-1", "whitespace-only")]
)
def test_the_api_accepts_exactly_the_lines_the_batch_job_keeps(spark, by_batch, case):
    """A JSON line can only carry eight fields of text; for those, a 202 means silver and a 400
    names the fields of the reasons the quarantine gives."""
    record = csv_records.one_record(LINES[case])
    entry, problems = check_line(0, dict(zip(HEADER, record.fields)))
    quarantined = (
        rows(spark, by_batch.quarantine)
        .where(
            " AND ".join(
                f"{c} <=> {json.dumps(v)}" if v is not None else f"{c} IS NULL"
                for c, v in zip(RAW_FIELDS, record.fields)
            )
        )
        .collect()
    )
    if quarantined:
        (row,) = quarantined
        assert entry is None and _reasons_of(problems) == set(row.reasons), problems
    else:
        assert entry is not None and problems == []
