"""A CSV file larger than 2 GiB (Spark's limit for a file read whole) loads in pieces, read by
several tasks, with every count reconciled: a quarantined line past the 2 GiB mark is read again
from its stretch alone."""

import pytest

from ecom_etl.lake.batch import run_batch
from ecom_etl.lake.layout import Lake

pytestmark = pytest.mark.slow  # writes and reads 2.2 GB

HEADER = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\r\n"
BLOCK = 1 << 26  # 64 MiB of empty lines between the groups of order lines (empty lines hold no record)
GROUPS = 36  # 36 x 64 MiB: 2.25 GiB


def lines(group: int) -> bytes:
    return b"".join(
        f"{600000 + group},A{i},THING {i},{i + 1},2011-0{1 + group % 9}-0{1 + i % 9} 10:00,1.5,17850.0,UK\r\n".encode()
        for i in range(3)
    )


def test_a_csv_file_over_2_gib_loads_in_pieces_and_reconciles(spark, aws, tmp_path):
    """Only a file past 2 GiB (Spark's limit for one binary row) shows the JVM reader splits any file."""
    path = tmp_path / "export.csv"
    with open(path, "wb") as out:
        out.write(HEADER)
        for group in range(GROUPS):
            out.write(lines(group))
            out.write(b"\n" * BLOCK)
        out.write(b"only,three,fields\r\n")  # quarantined (malformed), past the 2 GiB mark
        out.write(lines(GROUPS))
    size = path.stat().st_size
    assert size > 2**31 + 2**27
    try:
        lake = Lake.at(str(tmp_path / "wh"))
        summary = run_batch(spark, aws, str(path), lake.root, progress=lambda _: None, register=False)
    finally:
        path.unlink()
    assert summary.reconciles, summary.problems
    assert (summary.raw_rows, summary.silver_rows, summary.quarantined_rows) == (
        3 * (GROUPS + 1) + 1,
        3 * (GROUPS + 1),
        1,
    )
    (bad,) = spark.read.format("delta").load(lake.quarantine).collect()
    assert bad.reasons[0] == "malformed_record" and bad.raw_line == "only,three,fields"
