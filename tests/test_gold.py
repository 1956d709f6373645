"""Refreshing gold from a version of silver."""

import threading
import time

import pytest

from ecom_etl.core.schema import GOLD_TABLES
from ecom_etl.lake import delta, gold
from ecom_etl.lake.layout import Lake
from tests.builders import silver_line, silver_lines


@pytest.mark.slow
def test_the_gold_tables_are_written_one_at_a_time_and_each_records_its_silver_version(spark, tmp_path, monkeypatch):
    """Side by side, the gold overwrites failed now and then on Spark 4.1.1 (a task's broadcast gone,
    exit 50: bench/results/tests.md); one commit at a time, none waits on another's blocks."""
    lake = Lake.at(str(tmp_path))
    silver_lines(
        spark,
        silver_line("1", "A", 2, "1.50", "2011-03-15 10:00:00"),
        silver_line("2", "B", 1, "2.00", "2011-07-01 09:00:00"),
    ).write.format("delta").save(lake.silver)
    writes, in_flight = [], []
    overwrite = delta.overwrite

    def watched(rows, path, *args):
        in_flight.append(path)
        writes.append((path, threading.get_ident(), len(in_flight)))
        time.sleep(0.2)  # room for another write to start, were they side by side
        try:
            return overwrite(rows, path, *args)
        finally:
            in_flight.remove(path)

    monkeypatch.setattr(gold.delta, "overwrite", watched)
    state = gold.refresh_gold(spark, lake)
    assert sorted(p for p, _, _ in writes) == sorted(lake.gold(n) for n in GOLD_TABLES)
    assert {n for _, _, n in writes} == {1}  # never two in flight
    assert len({t for _, t, _ in writes}) == 1  # from the caller's thread
    assert state.silver_version == 0 and state.rebuilt == list(GOLD_TABLES)
    assert all(gold.built_from(spark, lake.gold(n))[0] == 0 for n in GOLD_TABLES)


@pytest.mark.slow
def test_a_refresh_from_an_older_silver_version_leaves_a_newer_build_as_it_is(spark, tmp_path):
    """Refreshes at once (two batch runs, a run and the stream job): the one that read silver before
    the other's commit may write last, and then writes nothing."""
    lake = Lake.at(str(tmp_path))
    for line in (silver_line("1", "A", 2, "1.50", "2011-03-15 10:00:00"), silver_line("2", "B", 1, "2.00")):
        silver_lines(spark, line).write.format("delta").mode("append").save(lake.silver)  # versions 0 and 1
    newer = gold.refresh_gold(spark, lake)
    older = gold.refresh_gold(spark, lake, version=0)
    assert (newer.silver_version, newer.rebuilt, older.rebuilt) == (1, list(GOLD_TABLES), [])
    assert all(gold.built_from(spark, lake.gold(n))[0] == 1 for n in GOLD_TABLES)
    assert older.rows == newer.rows  # the rows of the build that stays
