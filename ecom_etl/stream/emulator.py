"""The local AWS: moto's server on 127.0.0.1, and the platform's stream, tables and buckets in it.

`python -m ecom_etl.stream.emulator PORT` serves moto's application (every service it emulates,
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

from botocore.exceptions import ClientError

from ecom_etl import delta_log_store
from ecom_etl.settings import Settings, environment_with
from ecom_etl.stream import dynamo

STATE_DIR = ".ecom-etl"
DEFAULT_PORT = 4566
BUCKETS = ("ecom-raw", "ecom-lake")


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


def start(port: int = DEFAULT_PORT, state_dir: str = STATE_DIR) -> str:
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
            [sys.executable, "-m", "ecom_etl.stream.emulator", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=environment_with(MOTO_PORT=str(port)),  # moto builds some URLs (queues, presigned) from it
        )
    with open(os.path.join(state_dir, "moto.pid"), "w", encoding="utf-8") as fh:
        fh.write(str(proc.pid))
    wait_until_up(url)
    return url


def started_pid(state_dir: str = STATE_DIR) -> int | None:
    """The process id of the emulator `start` ran from `state_dir`, if any."""
    try:
        with open(os.path.join(state_dir, "moto.pid"), encoding="utf-8") as fh:
            return int(fh.read().strip())
    except FileNotFoundError:
        return None


def stop(state_dir: str = STATE_DIR) -> bool:
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


def _exists_ok(call, *args, **kwargs) -> None:
    try:
        call(*args, **kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in (
            "ResourceInUseException",
            "BucketAlreadyOwnedByYou",
            "BucketAlreadyExists",
        ):
            raise


def create_table(dynamodb, name: str, keys: tuple[str, str], ttl: str | None = None) -> None:
    partition, sort = keys
    _exists_ok(
        dynamodb.create_table,
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in keys],
        KeySchema=[{"AttributeName": partition, "KeyType": "HASH"}, {"AttributeName": sort, "KeyType": "RANGE"}],
    )
    if ttl:
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})


def create_resources(settings: Settings, shards: int = 2, buckets: tuple[str, ...] = BUCKETS) -> None:
    """The stream, the serving tables, the Delta log store's table and the buckets."""
    kinesis, dynamodb, s3 = settings.client("kinesis"), settings.client("dynamodb"), settings.client("s3")
    _exists_ok(kinesis.create_stream, StreamName=settings.stream, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=settings.stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    create_table(dynamodb, settings.customers_table, dynamo.CUSTOMERS_KEYS)
    create_table(dynamodb, settings.invoices_table, dynamo.INVOICES_KEYS)
    create_table(dynamodb, settings.delta_log_table, delta_log_store.KEYS, ttl=delta_log_store.TTL_ATTRIBUTE)
    for bucket in buckets:
        _exists_ok(s3.create_bucket, Bucket=bucket)


class OneAtATime:
    """A WSGI application that serves one request at a time (see the module's docstring)."""

    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
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
