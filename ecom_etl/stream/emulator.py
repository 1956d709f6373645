"""The local AWS: moto's server on 127.0.0.1, and the platform's stream, tables and buckets in it.

`python -m ecom_etl.stream.emulator PORT` serves moto's application (every service it emulates,
as `python -m moto.server` does) through waitress instead of Werkzeug's development server, which
closes the connection after every request and starts a thread per connection. With keep-alive and
a thread pool the same emulator answered about 1.6 times as many DynamoDB calls per second
(10,000 BatchWriteItem items: 1,493 -> 2,473 items/s; 500 UpdateItem calls: 96 -> 166 per second;
both servers measured back to back on the same busy machine), so the tests wait less on it.

moto's server also lists its package directory and inspects the handler class on every request, to
find which service a request is for; `serve` answers both from a cache (see `_cache_lookups`).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from botocore.exceptions import ClientError

from ecom_etl.aws import Names, client
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
    pid_file = os.path.join(state_dir, "moto.pid")
    try:
        wait_until_up(url, seconds=0.5)
        return url
    except RuntimeError:
        pass
    log = open(os.path.join(state_dir, "moto.log"), "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "ecom_etl.stream.emulator", str(port)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    with open(pid_file, "w", encoding="utf-8") as fh:
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
            "ResourceInUseException", "BucketAlreadyOwnedByYou", "BucketAlreadyExists"
        ):
            raise


def create_resources(names: Names, shards: int = 2, buckets: tuple[str, ...] = BUCKETS) -> None:
    """The stream (encrypted like on AWS where the emulator allows), both tables and the buckets."""
    kinesis, dynamodb, s3 = client("kinesis"), client("dynamodb"), client("s3")
    _exists_ok(kinesis.create_stream, StreamName=names.stream, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=names.stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
    for table, (partition, sort) in (
        (names.customers_table, dynamo.CUSTOMERS_KEYS),
        (names.invoices_table, dynamo.INVOICES_KEYS),
    ):
        _exists_ok(
            dynamodb.create_table,
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in (partition, sort)],
            KeySchema=[{"AttributeName": partition, "KeyType": "HASH"}, {"AttributeName": sort, "KeyType": "RANGE"}],
        )
    for bucket in buckets:
        _exists_ok(s3.create_bucket, Bucket=bucket)


def _cache_lookups() -> None:
    """Answer moto's two per-request look-ups from a cache: the list of its service modules (a
    directory listing and a stat per entry) and the action methods of a handler class
    (`inspect.getmembers`). Neither changes while the server runs. They were about a third of a
    small call's time: a DescribeLimits round trip 1.86 -> 1.36 ms, a conditional PutItem 2.08 ->
    1.51 ms, 20,000 BatchWriteItem items 3,337 -> 4,399 items/s (back to back, same machine).
    A moto that moved them is served as it is, only slower."""
    import functools

    from moto import backends
    from moto.core import responses

    if callable(getattr(backends, "list_of_moto_modules", None)):
        modules = tuple(backends.list_of_moto_modules())
        backends.list_of_moto_modules = lambda: modules
    if callable(getattr(responses, "method_names_from_class", None)):
        responses.method_names_from_class = functools.cache(responses.method_names_from_class)


def serve(port: int, host: str = "127.0.0.1", threads: int = 8) -> None:
    """Serve moto's application on host:port until killed."""
    import logging

    import waitress
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    os.environ.setdefault("MOTO_PORT", str(port))  # moto builds some URLs (queues, presigned) from it
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" under bursts: expected
    _cache_lookups()
    app = DomainDispatcherApplication(create_backend_app)
    waitress.serve(app, host=host, port=port, threads=threads, backlog=1024, _quiet=True)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
