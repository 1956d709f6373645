"""The one CSV reader (csv_records) and the stream's wire format, without Spark."""

import gzip
import io
import json

import pytest

from ecom_etl.core import csv_records, wire
from ecom_etl.core.csv_records import HeaderError, file_lines, file_records, one_record

pytestmark = pytest.mark.one_stack  # no Spark, no Delta, no Glue stack: runs on the Glue 5.1 leg only

HEADER = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
GOOD = b"536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom"
GOOD_FIELDS = ("536365", "85123A", "WHITE HEART", "6", "2010-12-01 08:26:00", "2.55", "17850.0", "United Kingdom")


def records(data: bytes, name: str = "day.csv") -> list:
    return list(file_records(name, io.BytesIO(data)))


@pytest.mark.parametrize(
    "header",
    [
        HEADER,
        b"\xef\xbb\xbf" + HEADER,  # a UTF-8 byte order mark, as Excel writes
        b" invoiceno , STOCKCODE,description,quantity,invoicedate,unitprice,customerid,country ",
        b'"InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice","CustomerID","Country"',
    ],
    ids=["plain", "bom", "case-and-spaces", "quoted"],
)
def test_the_header_is_found_whatever_its_case_spaces_quoting_or_bom(header):
    assert records(header + b"\n" + GOOD + b"\n") == [csv_records.Record(GOOD_FIELDS, None, ())]


def test_a_wrong_header_names_the_file():
    with pytest.raises(HeaderError, match=r"bad\.csv: unexpected CSV header 'Invoice,StockCode'"):
        records(b"Invoice,StockCode\n1,2\n", "bad.csv")


def test_crlf_cr_and_lf_all_end_a_record_and_empty_lines_hold_none():
    data = HEADER + b"\r\n" + GOOD + b"\r\n\r\n" + GOOD.replace(b"536365", b"536366") + b"\r" + GOOD + b"\n"
    assert [r.fields[0] for r in records(data)] == ["536365", "536366", "536365"]


def test_quoting_follows_rfc_4180_with_line_breaks_inside_a_field():
    line = b'536477,22041,"RECORD FRAME 7"" SINGLE,\r\nSIZE ",48,2010-12-01 12:27:00,2.1,16210.0,United Kingdom'
    (record,) = records(HEADER + b"\n" + line + b"\n")
    assert record.fields[2] == 'RECORD FRAME 7" SINGLE,\r\nSIZE ' and record.reasons == ()


def test_a_record_with_the_wrong_number_of_fields_keeps_its_text_and_its_fields():
    short, long = b"536366,22423,TOO FEW,6", b"536367,22423,X,1,2010-12-01 09:00,1,,UK,EXTRA"
    got = records(HEADER + b"\n" + short + b"\n" + long + b"\n")
    assert got == [
        csv_records.Record(
            ("536366", "22423", "TOO FEW", "6", None, None, None, None), short.decode(), ("malformed_record",)
        ),
        csv_records.Record(
            ("536367", "22423", "X", "1", "2010-12-01 09:00", "1", "", "UK"), long.decode(), ("malformed_record",)
        ),
    ]


def test_bytes_that_are_not_utf8_are_kept_as_escapes_and_marked():
    latin1 = "536365,22001,CAFÉ,6,2010-12-01 08:26:00,2.55,17850.0,France".encode("latin-1")
    got = records(HEADER + b"\n" + latin1 + b"\n" + GOOD + b"\n")
    assert got[0].fields[2] == "CAF\\xc9" and got[0].raw_line == latin1.decode("latin-1").replace("É", "\\xc9")
    assert got[0].reasons == ("not_utf8",)
    assert got[1] == csv_records.Record(GOOD_FIELDS, None, ())  # the other lines of the file are fine


def test_gzip_is_read_like_plain_text_and_empty_files_hold_no_records():
    assert records(gzip.compress(HEADER + b"\n" + GOOD + b"\n"), "day.csv.gz") == records(HEADER + b"\n" + GOOD)
    assert records(b"") == [] and records(HEADER) == [] and records(HEADER + b"\r\n") == []


def test_produce_sends_each_record_exactly_as_written():
    quoted = b'536477,22041,"FRAME\nSIZE",48,2010-12-01 12:27:00,2.1,16210.0,UK'
    got = list(file_lines("day.csv", io.BytesIO(b"\xef\xbb\xbf" + HEADER + b"\r\n" + quoted + b"\r\n" + GOOD)))
    assert [line for line, _ in got] == [quoted, GOOD]


@pytest.mark.parametrize(
    "text, fields, reasons",
    [
        (GOOD, GOOD_FIELDS, ()),
        (GOOD + b"\r\n", GOOD_FIELDS, ()),
        (GOOD + b"\n" + GOOD, (None,) * 8, ("malformed_record",)),  # two records are no record
        (b"", (None,) * 8, ("malformed_record",)),
    ],
)
def test_a_stream_record_is_exactly_one_csv_record(text, fields, reasons):
    record = one_record(text)
    assert (record.fields, record.reasons) == (fields, reasons)


@pytest.mark.parametrize("line", [GOOD, "536365,X,CAFÉ,1,2011-01-01 10:00,1,,FR".encode(), b"caf\xe9,1"])
def test_the_wire_carries_a_line_and_reads_it_back_as_the_file_reader_does(line):
    payload = wire.line_payload(line)
    assert b"\n" not in payload  # one archive line per record
    assert wire.payload_record(payload) == one_record(line)


def test_a_line_too_large_for_kinesis_travels_as_a_marker_that_is_quarantined():
    line = b"536365,85123A," + b"X" * (1024 * 1024) + b",6,2010-12-01 08:26:00,2.55,17850.0,UK"
    payload = wire.line_payload(line)
    assert len(payload) < 10_000 and wire.is_too_large(payload)
    record = wire.payload_record(payload)
    assert record.reasons == ("kinesis_record_too_large",) and record.raw_line.startswith("536365,85123A,XXX")


@pytest.mark.parametrize("payload", [b"not json", b'["a"]', b'{"csv": 1}', b'{"other": "x"}', b"\xff\xfe"])
def test_a_payload_that_is_no_line_of_ours_is_malformed_with_its_text(payload):
    record = wire.payload_record(payload)
    assert record.reasons[0] == "malformed_record" and record.raw_line and record.fields == (None,) * 8


def test_a_glue_json_row_turned_back_into_a_payload_reads_the_same():
    body = json.loads(wire.line_payload(GOOD))
    assert wire.payload_record(json.dumps(body).encode()) == one_record(GOOD)


@pytest.mark.parametrize("value", ["TWO\nLINES", "CR\rONLY", 'QUOTE " INSIDE', "COMMA, INSIDE", "  SPACES  ", ""])
def test_the_api_writes_a_line_the_reader_reads_back_field_for_field(value):
    fields = ("536365", "85123A", value, "6", "2010-12-01 08:26:00", "2.55", "", "United Kingdom")
    text = csv_records.record_text(csv_records.Record(fields, None, ()))
    assert one_record(text.encode()) == csv_records.Record(fields, None, ())
