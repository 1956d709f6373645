"""Kinesis as a Spark 4 Python streaming data source (`pyspark.sql.datasource`).

With it the stream job is a real `readStream` -> `foreachBatch` query: Spark keeps the offset and
commit logs in the checkpoint and replays an uncommitted batch with `readBetweenOffsets` after a
crash. Offsets are, per shard, the sequence number a batch ends at ("" = the shard's start). The
records are read on the driver (a simple reader): micro-batches of a few thousand order lines are
small. Shards are listed when the query starts; resharding needs a restart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict

from pyspark.sql.datasource import DataSource, SimpleDataSourceStreamReader

from ecom_etl.settings import Settings
from ecom_etl.stream.kinesis_source import ShardReader, as_payloads, list_shards
from ecom_etl.stream.records import PAYLOAD_DDL

NAME = "ecom_kinesis"


def reader_options(settings: Settings, max_records: int) -> dict[str, str]:
    """The Settings travel to the reader's Python process as an option (JSON)."""
    return {"settings": json.dumps(asdict(settings)), "maxRecordsPerBatch": str(max_records)}


class KinesisDataSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        return PAYLOAD_DDL

    def simpleStreamReader(self, schema: object) -> KinesisStreamReader:
        return KinesisStreamReader(self.options)


class KinesisStreamReader(SimpleDataSourceStreamReader):
    """Spark pickles the reader to the Python process that runs it: the client is made there."""

    def __init__(self, options: dict[str, str]) -> None:
        values = json.loads(options["settings"])
        values["credentials"] = tuple(values["credentials"]) if values.get("credentials") else None
        self.settings = Settings(**values)
        self.shards = list_shards(self.settings)
        self.per_shard = max(1, int(options.get("maxRecordsPerBatch", "10000")) // max(1, len(self.shards)))
        self._readers: dict[str, ShardReader] | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_readers": None}

    @property
    def readers(self) -> dict[str, ShardReader]:
        if self._readers is None:
            kinesis = self.settings.client("kinesis")
            self._readers = {shard: ShardReader(self.settings.stream, shard, kinesis) for shard in self.shards}
        return self._readers

    def initialOffset(self) -> dict:
        return dict.fromkeys(self.shards, "")

    def read(self, start: dict) -> tuple[Iterator[tuple], dict]:
        end, rows = dict(start), []
        for shard, reader in self.readers.items():
            raw = reader.read(start.get(shard) or None, self.per_shard)
            if raw:
                end[shard] = raw[-1]["SequenceNumber"]
                rows += as_payloads(self.settings.stream, shard, raw)
        return iter(rows), end

    def readBetweenOffsets(self, start: dict, end: dict) -> Iterator[tuple]:
        rows = []
        for shard, reader in self.readers.items():
            if end.get(shard, "") != start.get(shard, ""):
                found = reader.read(start.get(shard) or None, 10**9, until=end[shard])
                rows += as_payloads(self.settings.stream, shard, found)
        return iter(rows)
