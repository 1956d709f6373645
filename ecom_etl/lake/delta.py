"""Delta writes of the lake: insert-only MERGE, overwrite, and what each commit says it did.

Row counts come from Delta's own commit metrics, not from reading the table again, so they are a
count independent of the ones the load observes on its way in.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from delta.tables import DeltaTable
from pyspark.sql import DataFrame, SparkSession

T = TypeVar("T")
CONFLICT_ATTEMPTS = 6  # a commit that lost a race to another writer is run again
USER_METADATA = "spark.databricks.delta.commitInfo.userMetadata"
TXN_APP_ID, TXN_VERSION = "spark.databricks.delta.write.txnAppId", "spark.databricks.delta.write.txnVersion"
OWN_COMMIT_LOOKBACK = 20  # commits back to look for our own among concurrent writers'.
WRITE = "write"  # the key of a write's id in its commit's user metadata: finds the commit among others'


@dataclass(frozen=True)
class Commit:
    version: int
    operation: str
    metrics: dict[str, int]
    user_metadata: dict


@dataclass(frozen=True)
class Inserted:
    """What an insert committed: the rows its source held and the rows it added. `source_rows` is
    None when nothing was committed (nothing new, or a replay of a transaction the table holds)."""

    source_rows: int | None
    inserted: int


def exists(spark: SparkSession, path: str) -> bool:
    return DeltaTable.isDeltaTable(spark, path)


def last_commit(spark: SparkSession, path: str) -> Commit | None:
    """The table's latest commit, or None when there is no table."""
    if not exists(spark, path):
        return None
    row = (
        DeltaTable.forPath(spark, path)
        .history(1)
        .select("version", "operation", "operationMetrics", "userMetadata")
        .first()
    )
    metrics = {k: int(v) for k, v in (row["operationMetrics"] or {}).items() if v.isdigit()}
    return Commit(row["version"], row["operation"], metrics, parse_metadata(row["userMetadata"]))


def parse_metadata(text: str | None) -> dict:
    """A commit's user metadata, written by us as a JSON object ({} for anything else)."""
    try:
        meta = json.loads(text) if text else {}
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def version(spark: SparkSession, path: str) -> int | None:
    commit = last_commit(spark, path)
    return None if commit is None else commit.version


MAINTENANCE = ("OPTIMIZE", "VACUUM START", "VACUUM END")
HISTORY_OF_DATA = 50  # commits searched back for the last one that changed data


def data_version(spark: SparkSession, path: str) -> int | None:
    """The table's latest version that changed its data (maintenance commits do not)."""
    if not exists(spark, path):
        return None
    history = DeltaTable.forPath(spark, path).history(HISTORY_OF_DATA).select("version", "operation").collect()
    changed = [r["version"] for r in history if r["operation"] not in MAINTENANCE]
    return max(changed) if changed else min(r["version"] for r in history)


def own_session(spark: SparkSession) -> SparkSession:
    """A new session for one run alone, with the settings `spark` has now (those the runtime set
    on it too: Glue's session gets the contract's from runtime.session.configure).

    What only a session setting can carry (a MERGE's commit metadata and transaction id, the
    shuffle partitions, an adaptive rule left out) is set on such a session, never on one that
    another run in the same driver may use at the same time (the demo's batch run, stream job and
    dashboard share one). A batch run does all its work in its own session: an observation is
    reported only to the session whose query ran it."""
    own = spark.newSession()
    for key in (row[0] for row in spark.sql("SET").collect()):  # the keys: SET hides secret values
        value = spark.conf.get(key)
        if own.conf.get(key, None) != value:
            own.conf.set(key, value)
    return own


@contextmanager
def active_kept(spark: SparkSession) -> Iterator[None]:
    """Within the block a run's own session may become the thread's active one (PySpark makes a
    session active when it creates a DataFrame); afterwards `spark` is again, so that what comes
    next (`local_session`, a notebook's next cell) does not pick up a finished run's session."""
    try:
        yield
    finally:
        spark.createDataFrame([], "x int")  # PySpark's only public way to make a session active


@contextmanager
def _merge_settings(spark: SparkSession, meta: dict, txn: tuple[str, int] | None) -> Iterator[None]:
    """A MERGE takes its commit's user metadata and transaction id from its session alone (Delta
    3.3 and 4.2 have no MERGE options): set for the one MERGE, on the caller's own session."""
    settings = {USER_METADATA: json.dumps(meta)}
    if txn is not None:
        settings |= {TXN_APP_ID: txn[0], TXN_VERSION: str(txn[1])}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key in settings:
            spark.conf.unset(key)


def _txn_options(txn: tuple[str, int] | None) -> dict[str, str]:
    """A DataFrame write's transaction: skipped where the table committed (app id, version) = `txn`."""
    return {} if txn is None else {"txnAppId": txn[0], "txnVersion": str(txn[1])}


def _is_conflict(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return any(
        word in text
        for word in (
            "Concurrent",
            "DELTA_CONCURRENT",
            "ProtocolChanged",
            "MetadataChanged",
            "FileAlreadyExists",
            "DELTA_PATH_EXISTS",
        )
    )


def retried(action: Callable[[], T], attempts: int = CONFLICT_ATTEMPTS) -> T:
    """Run a commit again when another writer committed first (Delta's optimistic concurrency)."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as exc:
            if attempt == attempts or not _is_conflict(exc):
                raise
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")


def partition_predicate(partitions: Sequence[dict], alias: str = "t") -> str:
    """A literal predicate on the partitions the rows fall in, so a MERGE reads only those."""
    if not partitions:
        return "FALSE"
    return (
        "("
        + " OR ".join("(" + " AND ".join(f"{alias}.`{c}` = {v!r}" for c, v in p.items()) + ")" for p in partitions)
        + ")"
    )


def insert_new(
    spark: SparkSession,
    rows: DataFrame,
    path: str,
    keys: Sequence[str],
    partition_by: Sequence[str] = (),
    partitions: Sequence[dict] | None = None,
    txn: tuple[str, int] | None = None,
) -> Inserted:
    """Append the rows whose `keys` are not in the table yet (creating it if needed): reruns add
    nothing. `rows` must be unique on `keys`; `partitions` (the values of `partition_by` the rows
    hold) narrow the MERGE to those partitions; with `txn` = (app id, version) nothing is written
    where the table committed that transaction already (a replayed micro-batch). The MERGE runs in
    `spark`, a session of the caller's own (own_session). Returns what the commit says it did."""
    return retried(lambda: _inserted(spark, path, *_write_new(spark, rows, path, keys, partition_by, partitions, txn)))


def record_new(spark: SparkSession, rows: DataFrame, path: str, keys: Sequence[str]) -> None:
    """insert_new for a log nobody counts (the files a run loaded): no look at the commit after it."""
    retried(lambda: _write_new(spark, rows, path, keys, (), None, None))


def _write_new(
    spark: SparkSession,
    rows: DataFrame,
    path: str,
    keys: Sequence[str],
    partition_by: Sequence[str],
    partitions: Sequence[dict] | None,
    txn: tuple[str, int] | None,
) -> tuple[str, str]:
    """One attempt of insert_new: (the id its commit carries, the commit metric of rows added)."""
    write = uuid.uuid4().hex
    meta = {WRITE: write}
    if not exists(spark, path):
        writer = rows.write.format("delta").mode("append").options(userMetadata=json.dumps(meta), **_txn_options(txn))
        writer.partitionBy(*partition_by).save(path)
        return write, "numOutputRows"
    match = " AND ".join(f"t.`{k}` = s.`{k}`" for k in (*partition_by, *keys))
    if partition_by:
        wanted = (
            partitions
            if partitions is not None
            else [r.asDict() for r in rows.select(*partition_by).distinct().collect()]
        )
        match = f"{partition_predicate(wanted)} AND {match}"
    merge = DeltaTable.forPath(spark, path).alias("t").merge(rows.alias("s"), match).whenNotMatchedInsertAll()
    with _merge_settings(spark, meta, txn):
        merge.execute()
    return write, "numTargetRowsInserted"


def _inserted(spark: SparkSession, path: str, write: str, metric: str) -> Inserted:
    """What the commit of `write` says it did; none when the write committed nothing."""
    metrics = _commit_metrics(spark, path, write)
    if metrics is None:
        return Inserted(None, 0)
    return Inserted(metrics.get("numSourceRows", metrics.get("numOutputRows", 0)), metrics.get(metric, 0))


def _commit_metrics(spark: SparkSession, path: str, write: str) -> dict[str, int] | None:
    """The metrics of the commit of `write` (its id in the commit's user metadata), among the
    latest: other writers may have committed since. None when there is none."""
    history = DeltaTable.forPath(spark, path).history(OWN_COMMIT_LOOKBACK).select("operationMetrics", "userMetadata")
    for row in history.collect():
        if parse_metadata(row["userMetadata"]).get(WRITE) == write:
            return {k: int(v) for k, v in (row["operationMetrics"] or {}).items() if v.isdigit()}
    return None


def create_empty(spark: SparkSession, ddl: str, path: str) -> None:
    """A table with no rows (a commit of its schema alone), unless one is there already: looked at
    again when another writer created it first."""

    def attempt() -> None:
        if not exists(spark, path):
            spark.createDataFrame([], ddl).write.format("delta").mode("append").save(path)

    retried(attempt)


def overwrite(rows: DataFrame, path: str, user_metadata: dict, txn: tuple[str, int]) -> int | None:
    """Replace a (small, derived) table's content, unless the table committed `txn` = (app id,
    version) or a later version of that app already; returns the rows Delta says it wrote, None
    when nothing was written. A conflict with another writer is tried again and sees its
    transaction: a table is never replaced by an older build."""
    write = uuid.uuid4().hex
    meta = json.dumps({**user_metadata, WRITE: write}, sort_keys=True)
    writer = rows.write.format("delta").mode("overwrite").option("overwriteSchema", True)
    retried(lambda: writer.options(userMetadata=meta, **_txn_options(txn)).save(path))
    metrics = _commit_metrics(rows.sparkSession, path, write)
    return None if metrics is None else metrics.get("numOutputRows", 0)
