"""How a load computes its parsed lines once and counts what passes: staged or cached.

A batch run stages the parsed lines as a Delta table (written once, read column by column by each
insert; the raw columns kept only where a line is quarantined; Delta because on S3 a plain Parquet
write renames every file it writes, by copying it) and counts with observations of
the passes it makes anyway. A micro-batch is small: its lines are cached, and counted by
aggregating the cache (an observation would never be filled when a replayed write is skipped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import functions as F

from ecom_etl.cleaning import REASONS_COLUMN
from ecom_etl.progress import StageTimer
from ecom_etl.schema import RAW_FIELDS, RAW_LINE
from ecom_etl.storage import Storage

Counts = Callable[[], dict[str, int]]


class Materializer(Protocol):
    def counter(self, frame: DataFrame, aggregates: list[Column]) -> tuple[DataFrame, Counts]:
        """(the frame to use, a function giving the aggregates over it once it has been computed)."""

    def lines(self, parsed: DataFrame, stage: StageTimer) -> contextmanager:
        """The parsed lines, computed once for the block."""

    def distinct(self, frame: DataFrame) -> contextmanager:
        """The de-duplicated lines for the block (read by the silver write and the side sink)."""


class Staged:
    """A batch run's parsed lines at `path` for the run, removed afterwards."""

    def __init__(self, storage: Storage, path: str) -> None:
        self.storage, self.path = storage, path

    def counter(self, frame: DataFrame, aggregates: list[Column]) -> tuple[DataFrame, Counts]:
        observation = Observation()
        return frame.observe(observation, *aggregates), lambda: observation.get

    @contextmanager
    def lines(self, parsed: DataFrame, stage: StageTimer) -> Iterator[DataFrame]:
        quarantined = F.size(REASONS_COLUMN) > 0
        slim = parsed.select(
            *[F.when(quarantined, F.col(c)).alias(c) if c in RAW_FIELDS + (RAW_LINE,) else c for c in parsed.columns]
        )
        try:
            with stage("parse and clean"):
                slim.write.format("delta").mode("overwrite").save(self.path)
            yield parsed.sparkSession.read.format("delta").load(self.path)
        finally:
            self.storage.delete_tree(self.path)

    @contextmanager
    def distinct(self, frame: DataFrame) -> Iterator[DataFrame]:
        yield frame  # computed by the silver write itself, which observes it


class Cached:
    """A micro-batch's lines and distinct lines kept in memory for the block."""

    def counter(self, frame: DataFrame, aggregates: list[Column]) -> tuple[DataFrame, Counts]:
        return frame, lambda: frame.agg(*aggregates).first().asDict()

    @contextmanager
    def lines(self, parsed: DataFrame, stage: StageTimer) -> Iterator[DataFrame]:
        with self._cached(parsed, stage, "parse and clean") as lines:
            yield lines

    @contextmanager
    def distinct(self, frame: DataFrame) -> Iterator[DataFrame]:
        with self._cached(frame, StageTimer(), "deduplicate") as cached:
            yield cached

    @staticmethod
    @contextmanager
    def _cached(frame: DataFrame, stage: StageTimer, name: str) -> Iterator[DataFrame]:
        frame.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            with stage(name):
                frame.count()
            yield frame
        finally:
            frame.unpersist()
