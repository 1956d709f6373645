"""The batch job's CSV reader (the JVM's, java/ecom/csv) and the Python one (csv_records) read every
file alike: generated hostile files, read in pieces of a few bytes so that every piece boundary
case comes up, must give the same records, reasons, raw text and sources. An example holds up
to twelve files, read in one Spark job: the files, not the jobs, are what finds a difference."""

import gzip
import io
import os
import tempfile
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecom_etl.core import csv_records
from ecom_etl.lake import sources
from ecom_etl.lake.storage import Storage
from ecom_etl.settings import Settings

HEADER = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
HEADERS = [
    HEADER,
    b"\xef\xbb\xbf" + HEADER,
    b' invoiceno ,"STOCKCODE",description,quantity,invoicedate,unitprice,customerid,country',
]
GOOD = b"536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom"
# Pieces of text that matter to a CSV reader: separators, quotes (paired, doubled, stray), every line
# break, blanks, UTF-8, bytes that are not UTF-8 (a lone lead byte, a cut sequence, an encoded
# surrogate, an overlong form), a byte order mark where it is no BOM, NUL.
TOKENS = [
    b",",
    b'"',
    b'""',
    b'"a,b"',
    b"\n",
    b"\r\n",
    b"\r",
    b" ",
    b"\t",
    b"x",
    b"17850.0",
    "é€😀".encode(),
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xed\xa0\x80",
    b"\xc0\xaf",
    b"\xef\xbb\xbf",
    b"\x00",
    GOOD,
]
LINE_BREAKS = [b"\n", b"\r\n", b"\r"]

line = st.one_of(
    st.just(GOOD),
    st.lists(st.sampled_from(TOKENS), max_size=12).map(b"".join),
    st.lists(st.sampled_from([b"a", b'"q,""x""\ny"', b"", b" ", b"\xe9"]), min_size=1, max_size=10).map(b",".join),
)
body = st.lists(st.tuples(line, st.sampled_from(LINE_BREAKS)), max_size=12).map(
    lambda lines: b"".join(text + end for text, end in lines)
)
a_file = st.tuples(st.sampled_from(HEADERS), st.sampled_from(LINE_BREAKS), body, st.booleans(), st.booleans())


def python_records(name: str, data: bytes) -> Counter:
    return Counter((r.fields, r.raw_line, name, r.reasons) for r in csv_records.file_records(name, io.BytesIO(data)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files=st.lists(a_file, min_size=1, max_size=12), split=st.sampled_from([7, 16, 64, 1 << 20]))
def test_the_jvm_reader_reads_every_file_as_the_python_reader_does(spark, files, split):
    settings_ = Settings()
    storage = Storage(settings_)
    with tempfile.TemporaryDirectory() as folder:
        expected: Counter = Counter()
        for i, (header, end, text, last_break, zipped) in enumerate(files):
            data = header + end + (text if last_break else text.rstrip(b"\r\n"))
            name = os.path.join(folder, f"{i}.csv" + (".gz" if zipped else ""))
            stored = gzip.compress(data) if zipped else data
            with open(name, "wb") as fh:
                fh.write(stored)
            expected += python_records(name, stored)
        inputs = sources.inspect(storage, sources.find_input(storage, folder))
        rows = sources.Reader(spark, settings_, lambda _: None, split=split).run(inputs, lambda r: r.collect())
    got = Counter((tuple(r[:8]), r.raw_line, r.source, tuple(r.read_reasons)) for r in rows)
    assert got == expected
