"""Table maintenance: OPTIMIZE compacts the small files that micro-batch MERGEs leave behind, VACUUM
removes the files no version within the retention needs.

The retention (7 days, Delta's default) is longer than any stream may lag behind the tables and
keeps a week of time travel. OPTIMIZE changes no data: gold, which follows silver's data version,
is not rebuilt for it.
"""

from __future__ import annotations

from delta.tables import DeltaTable
from pyspark.sql import SparkSession

from ecom_etl.lake import delta
from ecom_etl.lake.layout import Lake
from ecom_etl.progress import Progress, quiet

RETENTION_HOURS = 168


def maintain(
    spark: SparkSession, lake: Lake, retention_hours: int = RETENTION_HOURS, progress: Progress = quiet
) -> dict[str, dict[str, int]]:
    """OPTIMIZE the appended tables, VACUUM every table; returns, per table, the files compacted
    away and the files vacuumed."""
    appended = {lake.silver, lake.quarantine, lake.ingested_files}
    done: dict[str, dict[str, int]] = {}
    for name, path in {**lake.tables(), "_ingested_files": lake.ingested_files}.items():
        if not delta.exists(spark, path):
            continue
        table = DeltaTable.forPath(spark, path)
        compacted = 0
        if path in appended:
            metrics = table.optimize().executeCompaction().select("metrics.numFilesRemoved").first()
            compacted = int(metrics[0] or 0)
        table.vacuum(retention_hours)
        vacuumed = delta.last_commit(spark, path).metrics.get("numDeletedFiles", 0)
        done[name] = {"files_compacted": compacted, "files_vacuumed": vacuumed}
        progress(f"      {name}: {compacted} small files compacted, {vacuumed} old files removed")
    return done
