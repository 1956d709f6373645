"""The whole real data set (541,909 rows); skipped where ../shared is absent, as on a user's machine."""

import pytest

from ecom_etl.lake.batch import run_batch
from ecom_etl.lake.layout import Lake
from ecom_etl.lake.quality import GATE_ARGUMENTS, Gate
from ecom_etl.local.template import default_arguments

pytestmark = pytest.mark.slow  # the whole real data set through the batch job


def test_all_real_rows_are_accounted_for(spark, aws, real_data_dir, tmp_path):
    """The real data set's counts and gold tables, the numbers the contract is judged by."""
    lake = Lake.at(str(tmp_path / "wh"))
    gate = Gate.from_arguments(default_arguments("batch", GATE_ARGUMENTS))
    real = f"{real_data_dir}/*.csv"
    summary = run_batch(spark, aws, real, lake.root, progress=lambda _: None, register=False, gate=gate)
    silver = spark.read.format("delta").load(lake.silver).count()
    quarantined = spark.read.format("delta").load(lake.quarantine).count()
    assert summary.raw_rows == 541_909
    assert silver + summary.duplicates_dropped + quarantined == 541_909
    assert (silver, summary.duplicates_dropped, quarantined) == (536_641, 5_268, 0)  # the data set's README
    assert summary.gate_breaches == [] and summary.exit_code == 0  # the real data passes the template's gate
    assert summary.reconciles and summary.silver_rows == silver == summary.silver_source_rows
    assert summary.gold_rows["revenue_daily"] == 305 and summary.gold_rows["revenue_monthly"] == 13
    # 135,080 raw rows lack a CustomerID; some of them are among the exact duplicates.
    assert 130_000 < summary.unknown_customer_rows <= 135_080
