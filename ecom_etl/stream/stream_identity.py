"""A stream checkpoint belongs to one stream instance.

The checkpoint's offsets are sequence numbers of one stream: after the stream is deleted and
created again under the same name, they would skip (or replay) records without a word. So the
checkpoint records the stream's ARN and creation time, and an id of its own, when it is first
used; a job started against another instance stops with one line saying how to start over. The
id also names the job's Delta idempotency app id: a new checkpoint counts batches from 0 again,
and must not be mistaken for batches the old one committed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass

from ecom_etl.errors import EtlInputError
from ecom_etl.lake.storage import Storage
from ecom_etl.settings import Settings

IDENTITY = "ecom-etl-stream.json"


@dataclass(frozen=True)
class StreamIdentity:
    stream: str
    arn: str
    created: str
    checkpoint_id: str

    @property
    def app_id(self) -> str:
        """The Delta txnAppId of this checkpoint's writes."""
        return f"ecom-etl-stream/{self.stream}/{self.checkpoint_id}"


def describe(settings: Settings) -> tuple[str, str]:
    """(ARN, creation time) of the stream the settings name."""
    summary = settings.client("kinesis").describe_stream_summary(StreamName=settings.stream)
    found = summary["StreamDescriptionSummary"]
    return found["StreamARN"], found["StreamCreationTimestamp"].isoformat()


def bind(settings: Settings, storage: Storage, checkpoint: str, reset: bool = False) -> StreamIdentity:
    """The checkpoint's identity, recorded on first use; refuses a checkpoint of another stream."""
    arn, created = describe(settings)
    path = f"{checkpoint.rstrip('/')}/{IDENTITY}"
    if reset:
        storage.delete_tree(checkpoint)
    found = storage.read_text(path)
    if found is None:
        if storage.names(checkpoint):
            raise EtlInputError(
                f"checkpoint {checkpoint} was not made by this job version (no {IDENTITY}); "
                "start over with --reset-checkpoint"
            )
        identity = StreamIdentity(settings.stream, arn, created, uuid.uuid4().hex)
        storage.write_text(path, json.dumps(asdict(identity), indent=2))
        return identity
    identity = StreamIdentity(**json.loads(found))
    if (identity.arn, identity.created) != (arn, created):
        raise EtlInputError(
            f"checkpoint {checkpoint} belongs to stream {identity.arn} created {identity.created}, not to "
            f"{arn} created {created}; its offsets mean nothing here. Start over from the stream's oldest "
            "record with --reset-checkpoint (the lake keeps what was written; rewrites are skipped)"
        )
    return identity
