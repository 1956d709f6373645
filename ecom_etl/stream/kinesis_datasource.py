"""Kinesis as a Spark 4 Python streaming data source (`pyspark.sql.datasource`), for Glue 6.0.

With it the stream job is a real `readStream` -> `foreachBatch` query: Spark keeps the offset and
commit logs in the checkpoint and replays an uncommitted batch with `readBetweenOffsets` after a
crash. Offsets are, per shard, the sequence number a batch ends at ("" = the shard's start). The
records are read on the driver (a simple reader): micro-batches of a few thousand order lines are
small. Shards are listed when the query starts; resharding needs a restart. Spark 3.5 has no such
API, so there `kinesis_source.micro_batches` plays the same part.
"""

import json
from collections.abc import Iterator

from pyspark.sql.datasource import DataSource, SimpleDataSourceStreamReader

from ecom_etl.aws import apply_settings, client
from ecom_etl.stream.kinesis_source import ShardReader, as_records, list_shards
from ecom_etl.stream.records import PAYLOAD_DDL

NAME = "ecom_kinesis"


def reader_options(stream: str, max_records: int, settings: dict[str, str]) -> dict[str, str]:
    """`settings`: the driver's endpoint and region for the Python process that reads (as JSON:
    option names are case-insensitive to Spark, environment variable names are not)."""
    return {"stream": stream, "maxRecordsPerBatch": str(max_records), "awsSettings": json.dumps(settings)}


class KinesisDataSource(DataSource):
    @classmethod
    def name(cls) -> str:
        return NAME

    def schema(self) -> str:
        return PAYLOAD_DDL

    def simpleStreamReader(self, schema) -> "KinesisStreamReader":
        return KinesisStreamReader(self.options)


class KinesisStreamReader(SimpleDataSourceStreamReader):
    """Spark pickles the reader to the Python process that runs it: the client is made there."""

    def __init__(self, options: dict[str, str]) -> None:
        self.settings = json.loads(options.get("awsSettings", "{}"))
        apply_settings(self.settings)
        self.stream = options["stream"]
        self.shards = list_shards(self.stream)
        self.per_shard = max(1, int(options.get("maxRecordsPerBatch", "10000")) // max(1, len(self.shards)))
        self._readers: dict[str, ShardReader] | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_readers": None}

    @property
    def readers(self) -> dict[str, ShardReader]:
        if self._readers is None:
            apply_settings(self.settings)
            kinesis = client("kinesis")
            self._readers = {shard: ShardReader(self.stream, shard, kinesis) for shard in self.shards}
        return self._readers

    def initialOffset(self) -> dict:
        return {shard: "" for shard in self.shards}

    def read(self, start: dict) -> tuple[Iterator[tuple], dict]:
        end, rows = dict(start), []
        for shard, reader in self.readers.items():
            raw = reader.read(start.get(shard) or None, self.per_shard)
            if raw:
                end[shard] = raw[-1]["SequenceNumber"]
                rows += as_records(self.stream, shard, raw)
        return iter(rows), end

    def readBetweenOffsets(self, start: dict, end: dict) -> Iterator[tuple]:
        rows = []
        for shard, reader in self.readers.items():
            if end.get(shard, "") != start.get(shard, ""):
                rows += as_records(self.stream, shard, reader.read(start.get(shard) or None, 10**9, until=end[shard]))
        return iter(rows)
