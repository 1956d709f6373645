"""A small Kinesis source for Spark 3.5 (no open-source Kinesis source reaches an emulator).

One reader per shard (ListShards, GetShardIterator, GetRecords). Each micro-batch is planned first
— `offsets/<batch>.json` holds, per shard, the sequence number it starts after and the one it ends
at — then handed to process_batch, and `commits/<batch>` is written only after every sink
succeeded. A restart replays a planned but uncommitted batch exactly (same records, same batch id,
so Delta's txnVersion skips what was written), then goes on after the last committed offsets.
"""

import json
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

from ecom_etl.aws import client

Record = tuple[str, str]  # (payload text, source "kinesis:<stream>/<shard>/<sequence number>")


@dataclass
class Checkpoint:
    """The offset and commit logs of one stream job, in a local directory."""

    root: str

    def __post_init__(self) -> None:
        os.makedirs(os.path.join(self.root, "offsets"), exist_ok=True)
        os.makedirs(os.path.join(self.root, "commits"), exist_ok=True)

    def _ids(self, kind: str) -> list[int]:
        names = os.listdir(os.path.join(self.root, kind))  # a crash may leave a *.tmp: not written
        return sorted(int(n.split(".")[0]) for n in names if n[0].isdigit() and not n.endswith(".tmp"))

    def _write(self, path: str, text: str) -> None:
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # atomic: a crash leaves the old state or the new, never half

    def last_planned(self) -> int | None:
        ids = self._ids("offsets")
        return ids[-1] if ids else None

    def is_committed(self, batch_id: int) -> bool:
        return os.path.exists(os.path.join(self.root, "commits", str(batch_id)))

    def plan(self, batch_id: int, ranges: dict[str, dict]) -> None:
        self._write(os.path.join(self.root, "offsets", f"{batch_id}.json"), json.dumps(ranges, sort_keys=True))

    def planned(self, batch_id: int) -> dict[str, dict]:
        with open(os.path.join(self.root, "offsets", f"{batch_id}.json"), encoding="utf-8") as fh:
            return json.load(fh)

    def commit(self, batch_id: int, stats: dict) -> None:
        self._write(os.path.join(self.root, "commits", str(batch_id)), json.dumps(stats, sort_keys=True))

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
    kinesis: object = field(repr=False, default=None)

    def __post_init__(self) -> None:
        self.kinesis = self.kinesis or client("kinesis")

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


def list_shards(stream: str, kinesis=None) -> list[str]:
    kinesis = kinesis or client("kinesis")
    shards, token = [], None
    while True:
        page = kinesis.list_shards(NextToken=token) if token else kinesis.list_shards(StreamName=stream)
        shards += [s["ShardId"] for s in page["Shards"]]
        token = page.get("NextToken")
        if not token:
            return shards


def as_records(stream: str, shard: str, raw: list[dict]) -> list[Record]:
    return [
        (r["Data"].decode("utf-8", errors="backslashreplace"), f"kinesis:{stream}/{shard}/{r['SequenceNumber']}")
        for r in raw
    ]


def micro_batches(
    stream: str, checkpoint: Checkpoint, max_records: int, trigger_seconds: float, stop_when_idle: bool = False
) -> Iterator[tuple[int, list[Record], Callable[[dict], None]]]:
    """Yield (batch id, records, commit) forever (or until idle): call commit(stats) after the sinks."""
    kinesis = client("kinesis")
    readers = {shard: ShardReader(stream, shard, kinesis) for shard in list_shards(stream, kinesis)}
    last = checkpoint.last_planned()
    if last is not None and not checkpoint.is_committed(last):  # replay exactly what was planned
        ranges = checkpoint.planned(last)
        records = []
        for shard, r in ranges.items():
            if r["end"] is not None:
                records += as_records(stream, shard, readers[shard].read(r["start"], 10**9, until=r["end"]))
        yield last, records, lambda stats, b=last: checkpoint.commit(b, stats)
    batch_id = 0 if last is None else last + 1
    per_shard = max(1, max_records // max(1, len(readers)))
    while True:
        started = time.monotonic()
        positions = checkpoint.positions()
        ranges, records = {}, []
        for shard, reader in readers.items():
            start = positions.get(shard)
            raw = reader.read(start, per_shard)
            ranges[shard] = {"start": start, "end": raw[-1]["SequenceNumber"] if raw else None}
            records += as_records(stream, shard, raw)
        if records:
            checkpoint.plan(batch_id, ranges)
            yield batch_id, records, lambda stats, b=batch_id: checkpoint.commit(b, stats)
            batch_id += 1
        elif stop_when_idle:
            return
        time.sleep(max(0.0, trigger_seconds - (time.monotonic() - started)))
