"""Runs side by side in one driver (two threads on one session): each in a session of its own, and
two batch runs on one lake at once."""

import threading

import pytest
from pyspark.sql import functions as F

from ecom_etl.core.schema import GOLD_TABLES, QUARANTINE_DDL, SILVER_PARTITIONS
from ecom_etl.lake import delta, gold, ingestion
from ecom_etl.lake.batch import run_batch
from ecom_etl.lake.layout import Lake
from ecom_etl.settings import Settings
from tests.builders import silver_line, silver_lines

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"
SHARED = "700000,22423,REGENCY CAKESTAND,1,2010-12-05 10:00:00,12.75,13047.0,United Kingdom"  # in both inputs


def good(invoice: int, day: str) -> str:
    return f"{invoice},85123A,WHITE HEART,6,{day} 08:26:00,2.55,17850.0,United Kingdom"


def bad(invoice: int) -> str:
    return f"{invoice},85123A,WHITE HEART,6,2010.12.01 08:26,2.55,17850.0,United Kingdom"  # date unparseable


# Both inputs fall in the same months (the same silver partitions) and each has a line to
# quarantine: every table a run writes is written by both. A's first line comes twice.
A = [good(700001, "2010-12-01"), good(700001, "2010-12-01"), good(700002, "2010-12-02"), good(700003, "2011-01-04")]
A += [SHARED, bad(700004)]
B = [good(700011, "2010-12-01"), good(700012, "2010-12-03"), good(700013, "2011-01-05"), SHARED, bad(700014)]


def write_input(folder, lines: list[str]) -> str:
    folder.mkdir()
    (folder / "day.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    return str(folder)


def seeded_lake(spark, root: str) -> Lake:
    """A lake that has silver (one line of December 2010), quarantine and the files' log, as after
    an earlier run: both runs MERGE into each."""
    lake = Lake.at(root)
    seed = silver_lines(spark, silver_line("700020", "85123A", 6, "2.55", "2010-12-09 08:26:00"))
    seed.write.format("delta").partitionBy(*SILVER_PARTITIONS).save(lake.silver)
    delta.create_empty(spark, QUARANTINE_DDL, lake.quarantine)
    delta.create_empty(spark, ingestion.INGESTED_DDL, lake.ingested_files)
    return lake


def test_a_runs_own_session_has_the_settings_its_caller_was_given_and_keeps_its_own(spark):
    """On Glue the contract's settings are set on the running session (runtime.session.configure),
    not in the Spark conf a new session starts from: a run's own session still has them, and what
    a run sets there (a MERGE's commit metadata, shuffle partitions) reaches no other run."""
    caller = spark.newSession()
    caller.conf.set("spark.sql.session.timeZone", "Asia/Tokyo")  # as configure sets a setting at run time
    own = delta.own_session(caller)
    assert own.conf.get("spark.sql.session.timeZone") == "Asia/Tokyo"
    own.conf.set("spark.sql.shuffle.partitions", "7")
    own.conf.set(delta.USER_METADATA, "{}")
    assert caller.conf.get("spark.sql.shuffle.partitions") != "7"
    assert caller.conf.get(delta.USER_METADATA, None) is None


def side_by_side(monkeypatch, module, name: str) -> threading.Barrier:
    """Each thread's n-th call of module.name waits for the other thread's: the two runs' inserts
    into one table start at the same moment, the worst case for Delta's optimistic concurrency."""
    meet = threading.Barrier(2, timeout=120)
    real = getattr(module, name)

    def met(*args, **kwargs):
        meet.wait()
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, met)
    return meet


@pytest.mark.slow
def test_two_batch_runs_at_once_on_one_lake_keep_every_line_once_and_both_reconcile(spark, tmp_path, monkeypatch):
    """Only this shows two runs committing to one lake at once: silver, quarantine, the files' log
    and gold are each written by both, every line of both inputs is in silver once, each run's
    counts are of its own commits, and gold is built from silver as both left it."""
    inputs = [write_input(tmp_path / "a", A), write_input(tmp_path / "b", B)]
    lake = seeded_lake(spark, str(tmp_path / "wh"))
    meet = side_by_side(monkeypatch, delta, "insert_new")
    start, summaries, failures = threading.Barrier(2, timeout=60), {}, {}

    def run(path: str) -> None:
        start.wait()
        try:
            summaries[path] = run_batch(spark, Settings(), path, lake.root, progress=lambda _: None, register=False)
        except Exception as exc:  # named by the assertion below
            failures[path] = exc
            meet.abort()  # the other run stops waiting for this one

    threads = [threading.Thread(target=run, args=(path,)) for path in inputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == {}
    a, b = (summaries[path] for path in inputs)
    # (read, kept, duplicates, quarantined), as the inputs above hold them
    assert (a.raw_rows, a.silver_rows, a.duplicates_dropped, a.quarantined_rows) == (6, 4, 1, 1)
    assert (b.raw_rows, b.silver_rows, b.duplicates_dropped, b.quarantined_rows) == (5, 4, 0, 1)
    for summary in (a, b):
        assert summary.problems == [] and summary.exit_code == 0
        assert summary.silver_source_rows == summary.silver_rows  # Delta's count of this run's own commit
        assert summary.new_quarantined_rows == summary.quarantine_source_rows == 1

    silver = spark.read.format("delta").load(lake.silver)
    kept = sorted(r.invoice_no for r in silver.collect())
    assert kept == ["700000", "700001", "700002", "700003", "700011", "700012", "700013", "700020"]
    assert a.new_silver_rows + b.new_silver_rows == len(kept) - 1  # the shared line inserted by one run
    quarantine = spark.read.format("delta").load(lake.quarantine)
    assert sorted(r.raw_invoice_no for r in quarantine.collect()) == ["700004", "700014"]
    ingested = spark.read.format("delta").load(lake.ingested_files)
    assert sorted(r.uri.rsplit("/", 2)[-2] for r in ingested.collect()) == ["a", "b"]

    version = delta.data_version(spark, lake.silver)
    built = {name: gold.built_from(spark, lake.gold(name))[0] for name in GOLD_TABLES}
    assert built == dict.fromkeys(GOLD_TABLES, version)
    net = silver.agg(F.sum("line_amount")).first()[0]
    assert spark.read.format("delta").load(lake.gold("revenue_daily")).agg(F.sum("net_revenue")).first()[0] == net
