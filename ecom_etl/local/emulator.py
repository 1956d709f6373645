"""The local AWS: moto's server on 127.0.0.1, and the platform's stream, tables and buckets in it.

`python -m ecom_etl.local.emulator PORT` serves moto's application (every service it emulates,
as `python -m moto.server` does) through waitress, which keeps connections open and answers from
a thread pool, instead of Werkzeug's development server.

moto's models are not safe for concurrent requests: under concurrent PutRecords two records got
the same sequence number and one was lost, and a conditional write could pass its check beside
another. The emulator therefore handles one request at a time (its work is Python under one
interpreter lock anyway); waitress's threads still read and write the sockets concurrently.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from ecom_etl.progress import Progress
from ecom_etl.settings import Settings, environment_with
from ecom_etl.stream import dynamo

DEFAULT_PORT = 4566
LOCAL_BUCKETS = ("ecom-raw", "ecom-lake")  # the raw and lake buckets of the stack `local up` deploys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=2)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the AWS emulator did not answer at {url}") from None
            time.sleep(0.2)


def start(port: int, state_dir: str) -> str:
    """Start moto's server in the background (if not already running); returns its URL."""
    url = f"http://127.0.0.1:{port}"
    os.makedirs(state_dir, exist_ok=True)
    try:
        wait_until_up(url, seconds=0.5)
        return url
    except RuntimeError:
        pass
    with open(os.path.join(state_dir, "moto.log"), "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ecom_etl.local.emulator", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=environment_with(MOTO_PORT=str(port)),  # moto builds some URLs (queues, presigned) from it
        )
    with open(os.path.join(state_dir, "moto.pid"), "w", encoding="utf-8") as fh:
        fh.write(str(proc.pid))
    with open(os.path.join(state_dir, "moto.url"), "w", encoding="utf-8") as fh:
        fh.write(url)
    wait_until_up(url)
    return url


def running_url(state_dir: str) -> str | None:
    """The URL of the emulator `start` ran from `state_dir`, if it answers."""
    try:
        with open(os.path.join(state_dir, "moto.url"), encoding="utf-8") as fh:
            url = fh.read().strip()
        wait_until_up(url, seconds=0.5)
        return url
    except (FileNotFoundError, RuntimeError):
        return None


def started_pid(state_dir: str) -> int | None:
    """The process id of the emulator `start` ran from `state_dir`, if any."""
    try:
        with open(os.path.join(state_dir, "moto.pid"), encoding="utf-8") as fh:
            return int(fh.read().strip())
    except FileNotFoundError:
        return None


def stop(state_dir: str) -> bool:
    """Stop the emulator started by `start`; False if none was running."""
    pid = started_pid(state_dir)
    if pid is None:
        return False
    os.remove(os.path.join(state_dir, "moto.pid"))
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def _exists_ok(call: Callable[..., object], *args: object, **kwargs: object) -> None:
    try:
        call(*args, **kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in (
            "ResourceInUseException",
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise


def create_table(dynamodb: Any, name: str, keys: tuple[str, str]) -> None:
    partition, sort = keys
    _exists_ok(
        dynamodb.create_table,
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in keys],
        KeySchema=[{"AttributeName": partition, "KeyType": "HASH"}, {"AttributeName": sort, "KeyType": "RANGE"}],
    )


def create_resources(settings: Settings, shards: int = 2) -> None:
    """A stream and the two serving tables under the settings' names (tests and benchmarks make
    fresh ones; everything else comes from the platform's stack, `deploy_platform`)."""
    kinesis, dynamodb = settings.client("kinesis"), settings.client("dynamodb")
    _exists_ok(kinesis.create_stream, StreamName=settings.stream, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=settings.stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    create_table(dynamodb, settings.customers_table, dynamo.CUSTOMERS_KEYS)
    create_table(dynamodb, settings.invoices_table, dynamo.INVOICES_KEYS)


def deploy_platform(settings: Settings, stack: str, shards: int, progress: Progress) -> dict[str, str]:
    """The platform's stack on the emulator, deployed once with the local bucket names; returns
    the physical names of its resources by logical id (OrdersStream, LakeBucket, ...)."""
    from ecom_etl.local.deploy import deploy

    cfn = settings.client("cloudformation")
    try:
        status = cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except cfn.exceptions.ClientError:
        status = None
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        parameters = {"RawBucketName": LOCAL_BUCKETS[0], "LakeBucketName": LOCAL_BUCKETS[1], "ShardCount": str(shards)}
        deploy(settings, stack, parameters, progress, poll=0.5)
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
    return {
        r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
        for page in pages
        for r in page["StackResourceSummaries"]
    }


class OneAtATime:
    """A WSGI application that serves one request at a time (see the module's docstring)."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


def serve(port: int, host: str = "127.0.0.1", threads: int = 8) -> None:
    """Serve moto's application on host:port until killed."""
    import logging

    import waitress
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" under bursts: expected
    app = OneAtATime(DomainDispatcherApplication(create_backend_app))
    waitress.serve(app, host=host, port=port, threads=threads, backlog=1024, _quiet=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
