"""Reading Kinesis shards, and the micro-batch loop of Spark 3.5 (which has no Python streaming
sources; on Spark 4 `kinesis_datasource` gives Spark's own loop the same reads).

Each micro-batch is planned first — `offsets/<batch>.json` holds, per shard, the sequence number
it starts after and the one it ends at — then handed to process_batch, and `commits/<batch>` is
written only after every sink succeeded. A restart replays a planned but uncommitted batch
exactly (same records, same batch id, so Delta's txnVersion skips what was written), then goes on
after the last committed offsets. The logs live in the checkpoint, local or on S3.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ecom_etl.lake.storage import Storage
from ecom_etl.settings import Settings

Payload = tuple[bytes, str]  # (payload, source "kinesis:<stream>/<shard>/<sequence number>")


@dataclass
class OffsetLog:
    """The offset and commit logs of one stream job (Spark 3.5's adapter keeps its own, as Spark's
    checkpoint does for a data source)."""

    storage: Storage
    root: str

    def _ids(self, kind: str) -> list[int]:
        names = self.storage.names(f"{self.root}/{kind}")  # a crash may leave a *.tmp: not written
        return sorted(int(n.split(".")[0]) for n in names if n[:1].isdigit() and not n.endswith(".tmp"))

    def last_planned(self) -> int | None:
        ids = self._ids("offsets")
        return ids[-1] if ids else None

    def is_committed(self, batch_id: int) -> bool:
        return batch_id in self._ids("commits")

    def plan(self, batch_id: int, ranges: dict[str, dict]) -> None:
        self.storage.write_text(f"{self.root}/offsets/{batch_id}.json", json.dumps(ranges, sort_keys=True))

    def planned(self, batch_id: int) -> dict[str, dict]:
        return json.loads(self.storage.read_text(f"{self.root}/offsets/{batch_id}.json") or "{}")

    def commit(self, batch_id: int, stats: dict) -> None:
        self.storage.write_text(f"{self.root}/commits/{batch_id}", json.dumps(stats, sort_keys=True, default=str))

    def positions(self) -> dict[str, str | None]:
        """Per shard, the sequence number the next batch starts after (None: the shard's start)."""
        last = self.last_planned()
        if last is None:
            return {}
        return {shard: r["end"] if r["end"] is not None else r["start"] for shard, r in self.planned(last).items()}


@dataclass
class ShardReader:
    """Reads one shard from a position, GetRecords page by page."""

    stream: str
    shard_id: str
    kinesis: object

    def _iterator(self, after: str | None) -> str:
        kwargs = {"StreamName": self.stream, "ShardId": self.shard_id}
        if after is None:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        else:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=after)
        return self.kinesis.get_shard_iterator(**kwargs)["ShardIterator"]

    def read(self, after: str | None, limit: int, until: str | None = None) -> list[dict]:
        """Up to `limit` records after `after` — or exactly those up to `until`, for a replay."""
        out: list[dict] = []
        iterator = self._iterator(after)
        while iterator and len(out) < limit:
            page = self.kinesis.get_records(ShardIterator=iterator, Limit=min(10_000, limit - len(out)))
            records = page["Records"]
            if until is not None:
                for record in records:
                    out.append(record)
                    if record["SequenceNumber"] == until:
                        return out
            else:
                out += records
            iterator = page.get("NextShardIterator")
            if not records and page.get("MillisBehindLatest", 0) == 0:
                break
        return out


def list_shards(settings: Settings, kinesis: object = None) -> list[str]:
    kinesis = kinesis or settings.client("kinesis")
    pages = kinesis.get_paginator("list_shards").paginate(StreamName=settings.stream)
    return [shard["ShardId"] for page in pages for shard in page["Shards"]]


def readers(settings: Settings) -> dict[str, ShardReader]:
    kinesis = settings.client("kinesis")
    return {shard: ShardReader(settings.stream, shard, kinesis) for shard in list_shards(settings, kinesis)}


def as_payloads(stream: str, shard: str, raw: list[dict]) -> list[Payload]:
    return [(r["Data"], f"kinesis:{stream}/{shard}/{r['SequenceNumber']}") for r in raw]


def micro_batches(
    settings: Settings,
    offsets: OffsetLog,
    max_records: int,
    trigger_seconds: float,
    stop_when_idle: bool = False,
    stopped: threading.Event | None = None,
) -> Iterator[tuple[int, list[Payload], Callable[[dict], None]]]:
    """Yield (batch id, payloads, commit) until `stopped` is set (or, stop_when_idle, until caught up):
    call commit(stats) after the sinks."""
    stopped = stopped or threading.Event()
    shards = readers(settings)
    last = offsets.last_planned()
    if last is not None and not offsets.is_committed(last):  # replay exactly what was planned
        payloads = []
        for shard, r in offsets.planned(last).items():
            if r["end"] is not None:
                payloads += as_payloads(settings.stream, shard, shards[shard].read(r["start"], 10**9, until=r["end"]))
        yield last, payloads, lambda stats, b=last: offsets.commit(b, stats)
    batch_id = 0 if last is None else last + 1
    per_shard = max(1, max_records // max(1, len(shards)))
    while not stopped.is_set():
        started = time.monotonic()
        positions = offsets.positions()
        ranges, payloads = {}, []
        for shard, reader in shards.items():
            start = positions.get(shard)
            raw = reader.read(start, per_shard)
            ranges[shard] = {"start": start, "end": raw[-1]["SequenceNumber"] if raw else None}
            payloads += as_payloads(settings.stream, shard, raw)
        if payloads:
            offsets.plan(batch_id, ranges)
            yield batch_id, payloads, lambda stats, b=batch_id: offsets.commit(b, stats)
            batch_id += 1
        elif stop_when_idle:
            return
        stopped.wait(max(0.0, trigger_seconds - (time.monotonic() - started)))
