"""The batch job end to end: generated files -> Delta tables, reruns, new files, files as exporters
write them, bad input, and counts that can fail."""

import gzip
import json
import os
import shutil
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from ecom_etl import cli
from ecom_etl.core.schema import GOLD_TABLES, QUARANTINE_COLUMNS, SILVER_COLUMNS, TOP_PRODUCTS_COLUMNS
from ecom_etl.lake import delta, load
from ecom_etl.lake.batch import run_batch
from ecom_etl.lake.layout import Lake
from ecom_etl.local.generate import write_csv_by_day
from tests.builders import GENERATED_ROWS as ROWS
from tests.builders import GENERATED_SEED

pytestmark = pytest.mark.slow  # every test here runs the batch job

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
GOOD = "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom"


def quiet(_: str) -> None:
    pass


def table(spark, path, drop=()):
    return spark.read.format("delta").load(path).drop(*drop)


def snapshot(spark, lake: Lake) -> dict:
    """Every table's rows, for comparing two lakes (ingest time aside)."""
    return {name: table(spark, path, drop=["ingested_at"]) for name, path in lake.tables().items()}


def assert_same_lake(spark, actual: Lake, expected: Lake, without=("source", "quarantine_id")):
    """The same rows in every table; the quarantine's `source` (and the id made from it) names the
    file, which differs between two copies of one input."""
    want = snapshot(spark, expected)
    for name, rows in snapshot(spark, actual).items():
        drop = [c for c in without if c in rows.columns]
        assert_df_equality(
            rows.drop(*drop),
            want[name].drop(*drop),
            ignore_row_order=True,
            ignore_column_order=True,
            ignore_nullable=True,
        )


def history(spark, lake: Lake) -> dict[str, int]:
    return {name: spark.sql(f"DESCRIBE HISTORY delta.`{path}`").count() for name, path in lake.tables().items()}


def test_generator_is_deterministic_per_seed_and_an_invoice_stays_on_one_day(spark, generated, tmp_path):
    """The generated data every other test uses is reproducible and keeps an invoice on one day."""
    again = tmp_path / "again"
    write_csv_by_day(spark, ROWS, str(again), seed=GENERATED_SEED)
    names = sorted(os.listdir(generated))
    assert names == sorted(os.listdir(again)) and len(names) > 300
    for name in names[:: len(names) // 10]:
        assert (again / name).read_bytes() == Path(generated, name).read_bytes()
    days = spark.read.option("header", True).csv(generated).withColumn("day", F.input_file_name())
    days = days.where(F.trim("InvoiceNo") != "")  # the generated lines without an invoice number
    assert days.groupBy("InvoiceNo").agg(F.countDistinct("day").alias("n")).where("n > 1").count() == 0


def test_a_run_reconciles_and_the_tables_hold_what_it_reports(spark, loaded):
    """A run's summary is what its tables hold (every count checked against the table)."""
    summary, lake = loaded
    assert summary.raw_rows > ROWS  # generated duplicates come on top
    assert summary.reconciles and summary.problems == []
    assert summary.duplicates_dropped > 0 and summary.quarantined_rows > 0
    assert summary.silver_source_rows == summary.silver_rows  # Delta's own count of what it read
    assert 0.15 < summary.unknown_customer_rows / summary.silver_rows < 0.35
    silver = table(spark, lake.silver)
    quarantine = table(spark, lake.quarantine)
    assert tuple(silver.columns) == SILVER_COLUMNS and tuple(quarantine.columns) == QUARANTINE_COLUMNS
    assert silver.count() == summary.silver_rows == summary.new_silver_rows
    assert quarantine.count() == summary.quarantined_rows
    assert sum(summary.quarantine_reasons.values()) >= summary.quarantined_rows
    assert silver.groupBy(*silver.columns[:8]).count().where("count > 1").count() == 0
    for name in GOLD_TABLES:
        assert table(spark, lake.gold(name)).count() == summary.gold_rows[name] > 0


def test_a_run_whose_counts_do_not_add_up_fails(capsys, spark, monkeypatch, tmp_path):
    """A silver sink that loses a line: the run's independent counts disagree, the CLI exits 1."""
    path = tmp_path / "day.csv"
    path.write_text(f"{HEADER}\n{GOOD}\n{GOOD.replace('85123A', '22423')}\n{GOOD}\n")
    real = load.write_silver
    dropping = lambda spark, rows, *a: real(spark, rows.where(F.col("stock_code") != "22423"), *a)  # noqa: E731
    monkeypatch.setattr(load, "write_silver", dropping)
    code, out, _ = run_cli(capsys, "batch", "--input", str(path), "--warehouse", str(tmp_path / "wh"))
    assert code == 1
    assert "read = kept + duplicates + quarantined: MISMATCH" in out
    assert "silver's commit read 1 lines, 2 were kept" in out


def test_the_tables_are_registered_in_the_catalog_as_native_delta_tables(aws, loaded):
    """A run registers native Delta tables in the (emulator's) Glue catalog."""
    summary, lake = loaded
    glue = aws.client("glue")
    tables = {t["Name"]: t for t in glue.get_tables(DatabaseName="e2e")["TableList"]}
    assert set(tables) == set(summary.tables) == set(lake.tables())
    silver = tables["order_lines"]
    assert silver["Parameters"]["table_type"] == "DELTA" and silver["StorageDescriptor"]["Location"] == lake.silver
    assert [c["Name"] for c in silver["StorageDescriptor"]["Columns"]] == list(SILVER_COLUMNS)


def test_the_revenue_tables_add_up_to_silver(spark, loaded):
    """Every revenue table's net revenue sums to silver's, to the penny."""
    _, lake = loaded
    net = table(spark, lake.silver).agg(F.sum("line_amount")).first()[0]
    for name in ("revenue_daily", "revenue_weekly", "revenue_monthly", "revenue_quarterly"):
        assert table(spark, lake.gold(name)).agg(F.sum("net_revenue")).first()[0] == net


def test_another_delta_reader_sees_the_same_columns(loaded):
    """delta-rs reads the tables Spark wrote, with their columns and rows."""
    deltalake = pytest.importorskip("deltalake")
    summary, lake = loaded
    silver = deltalake.DeltaTable(lake.silver)
    assert [f.name for f in silver.schema().fields] == list(SILVER_COLUMNS)
    assert silver.to_pyarrow_table().num_rows == summary.silver_rows
    top = deltalake.DeltaTable(lake.gold("top_products_by_season")).to_pyarrow_table()
    assert top.column_names == list(TOP_PRODUCTS_COLUMNS)


def test_a_rerun_reads_nothing_and_writes_nothing(spark, aws, generated, loaded):
    """A rerun over the same files commits nothing to any table."""
    _, lake = loaded
    versions = history(spark, lake)
    again = run_batch(spark, aws, generated, lake.root, database="e2e", progress=quiet)
    assert (again.files_new, again.files_skipped, again.raw_rows) == (0, len(os.listdir(generated)), 0)
    assert (again.new_silver_rows, again.gold_rebuilt, again.reconciles) == (0, [], True)
    assert history(spark, lake) == versions  # no table has a new version


def test_a_new_file_is_the_only_one_read_and_a_changed_file_is_read_again(spark, aws, generated, tmp_path):
    """Incremental loads: a new file alone is read, a changed one again, a full refresh adds nothing twice."""
    days = sorted(os.listdir(generated))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in days[:3]:
        shutil.copy(os.path.join(generated, name), inbox / name)
    lake = Lake.at(str(tmp_path / "wh"))
    first = run_batch(spark, aws, str(inbox), lake.root, progress=quiet, register=False)
    shutil.copy(os.path.join(generated, days[3]), inbox / days[3])
    second = run_batch(spark, aws, str(inbox), lake.root, progress=quiet, register=False)
    lines = len((inbox / days[3]).read_text(encoding="utf-8").splitlines()) - 1
    assert (first.files_new, second.files_new, second.files_skipped) == (3, 1, 3)
    assert second.raw_rows == lines and second.reconciles
    assert second.gold_rebuilt == list(GOLD_TABLES) and second.silver_version == first.silver_version + 1
    with open(inbox / days[0], "a", encoding="utf-8") as fh:
        fh.write(GOOD.replace("536365", "599999") + "\n")
    third = run_batch(spark, aws, str(inbox), lake.root, progress=quiet, register=False)
    assert (third.files_new, third.new_silver_rows) == (1, 1)
    full = run_batch(spark, aws, str(inbox), lake.root, progress=quiet, register=False, full_refresh=True)
    assert (full.files_new, full.files_skipped, full.new_silver_rows) == (4, 0, 0)


def test_loading_days_in_two_runs_gives_the_same_lake_as_loading_all_at_once(spark, aws, generated, tmp_path, loaded):
    """Two runs of half the days give the lake of one run of all (MERGE and gold are order-independent)."""
    _, all_at_once = loaded
    lake = Lake.at(str(tmp_path / "wh"))
    runs = [
        run_batch(spark, aws, os.path.join(generated, g), lake.root, progress=quiet, register=False)
        for g in ("2010-*", "2011-*")
    ]
    assert all(run.new_silver_rows > 0 and run.gold_rebuilt for run in runs)
    assert_same_lake(spark, lake, all_at_once, without=())


# --- files as exporters write them -----------------------------------------------------------------


def test_files_as_exporters_write_them_load_like_plain_csv(spark, aws, tmp_path):
    """BOM, header case and spaces, CRLF, gzip, a quoted line break, Latin-1 bytes, an empty file and
    a header-only file: one run, each line where the contract puts it."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "bom-crlf.csv").write_bytes(
        b"\xef\xbb\xbf" + f" invoiceno,STOCKCODE,{HEADER.split(',', 2)[2]}\r\n{GOOD}\r\n".encode()
    )
    quoted = '536477,22041,"RECORD FRAME 7"" SINGLE\nSIZE",48,2010-12-01 12:27:00,2.1,16210.0,United Kingdom'
    (inbox / "quoted.csv.gz").write_bytes(gzip.compress(f"{HEADER}\n{quoted}\n".encode()))
    latin1 = "536480,22001,CAFÉ AU LAIT,6,2010-12-01 08:26:00,2.55,17850.0,France"
    (inbox / "latin1.csv").write_bytes(f"{HEADER}\n".encode() + latin1.encode("latin-1") + b"\n")
    (inbox / "empty.csv").write_bytes(b"")
    (inbox / "header-only.csv").write_text(HEADER + "\n")
    lake = Lake.at(str(tmp_path / "wh"))
    summary = run_batch(spark, aws, str(inbox), lake.root, progress=quiet, register=False)
    assert (summary.files_new, summary.raw_rows, summary.silver_rows, summary.quarantined_rows) == (5, 3, 2, 1)
    silver = {r.invoice_no: r.description for r in table(spark, lake.silver).collect()}
    assert silver == {"536365": "WHITE HEART", "536477": 'RECORD FRAME 7" SINGLE\nSIZE'}
    (bad,) = table(spark, lake.quarantine).collect()
    assert bad.reasons == ["not_utf8"] and bad.raw_description == "CAF\\xc9 AU LAIT"


def test_an_input_without_data_lines_finishes_with_zero_counts(spark, aws, tmp_path):
    """Empty and header-only files finish with zero counts and a run that reconciles."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "empty.csv").write_bytes(b"")
    (inbox / "header.csv").write_text(HEADER + "\n")
    summary = run_batch(spark, aws, str(inbox), str(tmp_path / "wh"), progress=quiet, register=False)
    assert (summary.raw_rows, summary.silver_rows, summary.quarantined_rows, summary.reconciles) == (0, 0, 0, True)


# --- bad input: one line on stderr, a non-zero exit, nothing written ---------------------------------


@pytest.fixture(autouse=True)
def _cli_on_the_sessions_emulator(monkeypatch, emulator_url):
    """A command run in the tests' process reuses their SparkSession, which is on the emulator's S3."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator_url)


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
    """Each unusable input path is one line and exit 2 from the CLI, with nothing written."""
    code, _, err = run_cli(capsys, "batch", "--input", make_input(tmp_path), "--warehouse", str(tmp_path / "wh"))
    assert code == 2
    assert_one_line_error(err, *words)
    assert not (tmp_path / "wh").exists()


@pytest.mark.parametrize(
    "content, words",
    [
        (
            b"Invoice,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n1,2,3,4,5,6,7,8\n",
            ["unexpected CSV header", "bad.csv", "InvoiceNo", "Invoice"],
        ),
        (b"InvoiceNo,StockCode,Quantity\n1,2,3\n", ["unexpected CSV header", "bad.csv"]),
        (gzip.compress(b"\x00\x01binary"), ["unexpected CSV header", "bad.csv"]),
    ],
    ids=["renamed-column", "missing-columns", "binary-file"],
)
def test_a_file_with_the_wrong_header_fails_the_run_and_writes_nothing(
    capsys, spark, generated, tmp_path, content, words
):
    """One wrong header among good files stops the run before anything is written."""
    data = tmp_path / "in"
    data.mkdir()
    first = sorted(os.listdir(generated))[0]
    shutil.copy(os.path.join(generated, first), data / first)
    (data / "bad.csv").write_bytes(content)
    code, _, err = run_cli(capsys, "batch", "--input", str(data), "--warehouse", str(tmp_path / "wh"))
    assert code == 2
    assert_one_line_error(err, *words)
    assert not (tmp_path / "wh" / "silver").exists()


def truncated_gzip(folder: Path, size: int) -> str:
    """A gzip file cut short: the first `size` bytes of the compressed lines of 30,000 invoices."""
    lines = (GOOD.replace("536365", str(536365 + i)).replace(",6,", f",{i % 97},") for i in range(30_000))
    whole = gzip.compress(("\n".join([HEADER, *lines]) + "\n").encode())
    assert len(whole) > size + 10_000
    (folder / "cut.csv.gz").write_bytes(whole[:size])
    return str(folder)


def a_file(path: Path) -> str:
    path.write_text("x")
    return str(path)


def symlink_loop(folder: Path) -> str:
    (folder / "a.csv").symlink_to(folder / "b.csv")
    (folder / "b.csv").symlink_to(folder / "a.csv")
    return str(folder)


@pytest.mark.parametrize(
    "make_input, words",
    [
        (lambda d: truncated_gzip(d, 15), ["cut.csv.gz", "not complete gzip data"]),
        (lambda d: truncated_gzip(d, 70_000), ["cut.csv.gz", "not complete gzip data"]),
        (symlink_loop, ["cannot read", "a.csv", "symbolic links"]),
    ],
    ids=["gzip-cut-in-its-header", "gzip-cut-after-64-KB", "symlink-loop"],
)
def test_input_that_cannot_be_read_is_named_in_one_line(capsys, spark, tmp_path, make_input, words):
    """A file that breaks while Spark reads it (cut gzip, symlink loop) is named in one line; nothing is committed."""
    folder = tmp_path / "in"
    folder.mkdir()
    code, _, err = run_cli(capsys, "batch", "--input", make_input(folder), "--warehouse", str(tmp_path / "wh"))
    assert code == 2
    assert_one_line_error(err, *words)
    assert not delta.exists(spark, str(tmp_path / "wh" / "silver" / "order_lines"))  # nothing committed


@pytest.mark.parametrize(
    "make_warehouse, words",
    [
        (lambda d: a_file(d / "wh"), ["warehouse", "wh", "is a file"]),
        (lambda d: a_file(d / "file") + "/wh", ["warehouse", "Not a directory"]),
    ],
    ids=["warehouse-is-a-file", "warehouse-under-a-file"],
)
def test_a_warehouse_that_cannot_be_written_is_named_before_spark_reads(capsys, spark, tmp_path, make_warehouse, words):
    """An unwritable warehouse is named before any Spark work."""
    day = tmp_path / "day.csv"
    day.write_text(f"{HEADER}\n{GOOD}\n")
    code, _, err = run_cli(capsys, "batch", "--input", str(day), "--warehouse", make_warehouse(tmp_path))
    assert code == 2
    assert_one_line_error(err, *words)


def test_broken_rows_inside_a_good_file_are_quarantined_not_fatal(capsys, spark, tmp_path):
    """Broken records inside a good file go to the quarantine and the run exits 0 with its counts."""
    rows = [
        GOOD,
        GOOD,
        "536366,22423,TOO FEW,6",
        "536367,22423,X,1,2010-12-01 09:00,1,,UK,EXTRA",
        '"unclosed,quote',
        "",
    ]
    path = tmp_path / "day.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows))
    summary_file = tmp_path / "s.json"
    gate_off = ["--max-quarantined-share", "1", "--max-reason-shares", ""]  # 3 of 5 lines: over the template's gate
    code, out, _ = run_cli(
        capsys,
        "batch",
        "--input",
        str(path),
        "--warehouse",
        str(tmp_path / "wh"),
        "--summary-json",
        str(summary_file),
        *gate_off,
    )
    assert code == 0
    summary = json.loads(summary_file.read_text())
    assert (
        summary["raw_rows"],
        summary["silver_rows"],
        summary["duplicates_dropped"],
        summary["quarantined_rows"],
    ) == (5, 1, 1, 3)
    assert summary["reconciles"] and summary["quarantine_reasons"]["malformed_record"] == 3
    assert "read = kept + duplicates + quarantined: ok" in out


def test_the_gold_tables_redshift_reads_have_their_symlink_manifests(loaded):
    """infra/redshift/load_gold.sql reads these tables through the manifests each gold build writes."""
    import re

    from ecom_etl.lake.gold import SPECTRUM_TABLES
    from ecom_etl.local.checkout import ROOT as REPO_ROOT

    _, lake = loaded
    sql = (REPO_ROOT / "infra" / "redshift" / "load_gold.sql").read_text()
    assert set(re.findall(r"lake/gold/(\w+)/_symlink_format_manifest/", sql)) == set(SPECTRUM_TABLES)
    for name in SPECTRUM_TABLES:
        manifest = Path(lake.gold(name), "_symlink_format_manifest", "manifest").read_text().split()
        assert manifest and all(line.startswith("file:") and line.endswith(".parquet") for line in manifest)
