"""The batch job end to end: generated files -> Delta tables, reruns, a new day, bad input."""

import json
import os

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from ecom_etl import cli
from ecom_etl.generate import write_csv_by_day
from ecom_etl.io import Lake
from ecom_etl.pipeline import run_batch, shuffle_sized_for
from ecom_etl.schema import GOLD_TABLES, QUARANTINE_COLUMNS, SILVER_COLUMNS
from tests.builders import GENERATED_ROWS as ROWS
from tests.builders import GENERATED_SEED


def table(spark, path, drop=()):
    return spark.read.format("delta").load(path).drop(*drop)


def snapshot(spark, lake: Lake) -> dict:
    """Every table's rows, for comparing two lakes (ingest time aside)."""
    return {name: table(spark, path, drop=["ingested_at"]) for name, path in lake.tables().items()}


def assert_same_lake(spark, actual: Lake, expected: Lake):
    want = snapshot(spark, expected)
    for name, rows in snapshot(spark, actual).items():
        assert_df_equality(rows, want[name], ignore_row_order=True, ignore_column_order=True, ignore_nullable=True)


def test_a_big_input_gets_more_shuffle_partitions_for_its_run_only(spark):
    key = "spark.sql.shuffle.partitions"
    floor = spark.conf.get(key)
    with shuffle_sized_for(spark, spark.range(0, 100, 1, numPartitions=1)):
        assert spark.conf.get(key) == floor  # small: the session's setting stays
    with shuffle_sized_for(spark, spark.range(0, 100, 1, numPartitions=30)):
        assert spark.conf.get(key) == "60"
    assert spark.conf.get(key) == floor


def test_generator_is_deterministic_per_seed(spark, generated, tmp_path):
    again = tmp_path / "again"
    write_csv_by_day(spark, ROWS, str(again), seed=GENERATED_SEED)
    names = sorted(os.listdir(generated))
    assert names == sorted(os.listdir(again)) and len(names) > 300
    for name in names[:: len(names) // 10]:
        assert (again / name).read_bytes() == open(os.path.join(generated, name), "rb").read()


def test_a_run_reconciles_and_the_tables_hold_what_it_reports(spark, loaded):
    summary, lake = loaded
    assert summary.raw_rows > ROWS  # generated duplicates come on top
    assert summary.reconciles
    assert summary.duplicates_dropped > 0 and summary.quarantined_rows > 0
    assert 0.15 < summary.unknown_customer_rows / summary.silver_rows < 0.35
    silver = table(spark, lake.silver)
    quarantine = table(spark, lake.quarantine)
    assert tuple(silver.columns) == SILVER_COLUMNS and tuple(quarantine.columns) == QUARANTINE_COLUMNS
    assert silver.count() == summary.silver_rows == summary.new_silver_rows
    assert quarantine.count() == summary.quarantined_rows
    assert silver.count() + quarantine.count() + summary.duplicates_dropped == summary.raw_rows
    assert sum(summary.quarantine_reasons.values()) >= summary.quarantined_rows
    assert silver.groupBy(*silver.columns[:8]).count().where("count > 1").count() == 0
    for name in GOLD_TABLES:
        assert table(spark, lake.gold(name)).count() == summary.gold_rows[name] > 0


def test_the_tables_are_registered_in_the_catalog(spark, loaded):
    summary, _ = loaded
    names = {t.name for t in spark.catalog.listTables("e2e")}
    assert names == set(summary.tables)
    assert spark.table("e2e.order_lines").count() == summary.silver_rows


def test_the_revenue_tables_add_up_to_silver(spark, loaded):
    _, lake = loaded
    net = table(spark, lake.silver).agg(F.sum("line_amount")).first()[0]
    for name in ("revenue_daily", "revenue_weekly", "revenue_monthly", "revenue_quarterly"):
        assert table(spark, lake.gold(name)).agg(F.sum("net_revenue")).first()[0] == net


def test_another_delta_reader_sees_the_same_columns(loaded):
    deltalake = pytest.importorskip("deltalake")
    summary, lake = loaded
    silver = deltalake.DeltaTable(lake.silver)
    assert [f.name for f in silver.schema().fields] == list(SILVER_COLUMNS)
    assert silver.to_pyarrow_table().num_rows == summary.silver_rows
    top = deltalake.DeltaTable(lake.gold("top_products_by_season")).to_pyarrow_table()
    assert top.column_names == ["season_year", "season", "rank", "stock_code", "description", "units_net", "revenue_net"]


def test_rerunning_the_same_input_changes_nothing(spark, generated, loaded):
    first, lake = loaded
    before = {name: sorted(rows.collect()) for name, rows in snapshot(spark, lake).items()}
    versions = {name: spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count() for name, path in lake.tables().items()}
    again = run_batch(spark, generated, lake.root, database="e2e", progress=lambda _: None)
    assert (again.new_silver_rows, again.new_quarantined_rows, again.gold_rebuilt) == (0, 0, False)
    assert again.reconciles and again.raw_rows == first.raw_rows
    for name, rows in snapshot(spark, lake).items():
        assert sorted(rows.collect()) == before[name], name
    # Silver, quarantine and gold have no new versions: the rerun wrote nothing at all.
    skipped = {name: spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count() for name, path in lake.tables().items()}
    assert skipped == versions


def test_loading_more_days_later_gives_the_same_lake_as_loading_all_at_once(spark, generated, tmp_path, loaded):
    _, all_at_once = loaded
    lake = Lake.at(str(tmp_path / "wh"))
    quiet = lambda _: None  # noqa: E731
    runs = [run_batch(spark, os.path.join(generated, g), lake.root, progress=quiet) for g in ("2010-*", "2011-*")]
    assert all(run.new_silver_rows > 0 and run.gold_rebuilt for run in runs)
    assert_same_lake(spark, lake, all_at_once)


# --- bad input: one line on stderr, a non-zero exit, nothing written ---------------------------------


def run_cli(capsys, *args) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *words: str):
    lines = [line for line in err.splitlines() if line.startswith("ecom-etl: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "\tat " not in err and "Py4J" not in err
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize(
    "make_input, words",
    [
        (lambda d: str(d / "missing"), ["does not exist", "missing"]),
        (lambda d: str(d / "*.csv"), ["no file matches"]),
        (lambda d: (d / "empty").mkdir() or str(d / "empty"), ["empty"]),
    ],
    ids=["missing-path", "glob-without-match", "empty-directory"],
)
def test_unusable_input_paths(capsys, spark, tmp_path, make_input, words):
    code, _, err = run_cli(capsys, "batch", "--input", make_input(tmp_path), "--warehouse", str(tmp_path / "wh"))
    assert code == 2
    assert_one_line_error(err, *words)
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize(
    "content, words",
    [
        (b"Invoice,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n1,2,3,4,5,6,7,8\n",
         ["unexpected CSV header", "bad.csv", "InvoiceNo", "Invoice"]),
        (b"InvoiceNo,StockCode,Quantity\n1,2,3\n", ["unexpected CSV header", "bad.csv"]),
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xfe\x00binary", ["unexpected CSV header", "bad.csv"]),
    ],
    ids=["renamed-column", "missing-columns", "binary-file"],
)
def test_a_file_with_the_wrong_header_fails_the_run_and_writes_nothing(capsys, spark, generated, tmp_path, content, words):
    data = tmp_path / "in"
    data.mkdir()
    first = sorted(os.listdir(generated))[0]
    (data / first).write_bytes(open(os.path.join(generated, first), "rb").read())
    (data / "bad.csv").write_bytes(content)
    code, _, err = run_cli(capsys, "batch", "--input", str(data), "--warehouse", str(tmp_path / "wh"))
    assert code == 2
    assert_one_line_error(err, *words)
    assert not (tmp_path / "wh" / "silver").exists()


def test_quoted_fields_follow_rfc_4180(spark, tmp_path):
    from ecom_etl.io import read_raw_csv

    path = tmp_path / "day.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        '536477,22041,"RECORD FRAME 7"" SINGLE SIZE ",48,2010-12-01 12:27:00,2.1,16210.0,United Kingdom\n'
        '536381,82567,"AIRLINE LOUNGE,METAL SIGN",2,2010-12-01 09:41:00,2.1,15311.0,United Kingdom\n'
    )
    rows = read_raw_csv(spark, str(path)).select("raw_description", "raw_quantity", "raw_line").collect()
    assert [tuple(r) for r in rows] == [
        ('RECORD FRAME 7" SINGLE SIZE ', "48", None),
        ("AIRLINE LOUNGE,METAL SIGN", "2", None),
    ]


def test_broken_rows_inside_a_good_file_are_quarantined_not_fatal(capsys, spark, tmp_path):
    good = "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom"
    rows = [good, good, "536366,22423,TOO FEW,6", "536367,22423,X,1,2010-12-01 09:00,1,,UK,EXTRA", '"unclosed,quote', ""]
    path = tmp_path / "day.csv"
    path.write_text("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" + "\n".join(rows))
    summary_file = tmp_path / "s.json"
    code, out, _ = run_cli(capsys, "batch", "--input", str(path), "--warehouse", str(tmp_path / "wh"),
                           "--summary-json", str(summary_file))
    assert code == 0
    summary = json.loads(summary_file.read_text())
    assert (summary["raw_rows"], summary["silver_rows"], summary["duplicates_dropped"], summary["quarantined_rows"]) == (5, 1, 1, 3)
    assert summary["reconciles"] and summary["quarantine_reasons"]["malformed_record"] == 3
    assert "read = kept + duplicates + quarantined: ok" in out
