"""`ecom-etl demo` (`make demo`): the whole platform on this machine, in one command.

The local AWS emulator with the platform's stack deployed; the built-in data uploaded to the raw
bucket and loaded by the batch job into the lake bucket, as on AWS; the order API and the stream
job running side by side; a slice of new order lines POSTed to the API and streamed into the lake,
DynamoDB and gold; the dashboard. The API and the stream job keep running until Ctrl-C (or
`make demo-stop`), so a line POSTed later shows up in GET a few seconds after.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request

from ecom_etl.lake.storage import Storage
from ecom_etl.local import emulator
from ecom_etl.progress import Progress
from ecom_etl.settings import Settings

STREAM_SLICE_ROWS = 2_000
STREAM_SEED = 2011
STREAM_FIRST_INVOICE = 700_000  # the streamed lines are new invoices, not the built-in data's
STEPS = 6


def _request(url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode("utf-8") if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def post_lines(api_url: str, lines: list[dict], progress: Progress) -> int:
    """POST the lines to /orders in requests of 500 (the API's limit), as a client would."""
    sent = 0
    for start in range(0, len(lines), 500):
        status, answer = _request(f"{api_url}/orders", {"lines": lines[start : start + 500]})
        if status != 202:
            raise RuntimeError(f"the API answered {status}: {answer}")
        sent += answer["accepted"]
        progress(f"      POSTed {sent:,} of {len(lines):,} lines")
    return sent


def wait_for_invoice(api_url: str, invoice: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while _request(f"{api_url}/invoices/{invoice}")[0] != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"invoice {invoice} did not reach the API within {seconds:.0f}s")
        time.sleep(1)


def ready_message(report: str, lake_root: str, url: str, api_url: str, example: dict) -> str:
    return f"""
  dashboard     file://{report}
  lake          {lake_root}/  (silver, quarantine, gold Delta tables)
  AWS emulator  {url}   (export AWS_ENDPOINT_URL={url} to use it with the aws CLI or boto3)
  order API     {api_url}   (the stream job runs beside it: a POSTed line shows up in GET within seconds)

  try:
    curl -s {api_url}/invoices/{example["InvoiceNo"]}
    curl -s {api_url}/customers/{example["CustomerID"]}/invoices
    curl -s -X POST {api_url}/orders -H 'Content-Type: application/json' \\
         -d '{{"lines": [{{"InvoiceNo": "799999", "StockCode": "85123A", "Description": "WHITE HANGING HEART",
                       "Quantity": 2, "InvoiceDate": "2011-12-09 12:00:00", "UnitPrice": 2.55,
                       "CustomerID": "{example["CustomerID"]}", "Country": "United Kingdom"}}]}}'
    curl -s {api_url}/invoices/799999
    export AWS_ENDPOINT_URL={url}
    .venv/bin/ecom-etl sql "SELECT year, month, net_revenue FROM revenue_monthly ORDER BY 1, 2" --warehouse {lake_root}
    .venv/bin/ecom-etl sql "SELECT * FROM top_products_by_season WHERE rank = 1" --warehouse {lake_root}

  Ctrl-C here or `make demo-stop` ends the demo (API, stream job, emulator)
"""


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def run_demo(
    warehouse: str | None,
    report_out: str,
    emulator_port: int,
    api_port: int,
    progress: Progress,
    *,
    data_dir: str,
    slice_dir: str,
    state_dir: str,
) -> None:
    """`data_dir` holds the built-in data and `slice_dir` the lines to POST (each generated when
    empty); `state_dir` the emulator's and the demo's pid files."""
    from ecom_etl.api.server import make_server
    from ecom_etl.lake.batch import run_batch
    from ecom_etl.lake.layout import Lake
    from ecom_etl.local.generate import BUILTIN_ROWS, BUILTIN_SEED, generated_once
    from ecom_etl.report.collect import write_report
    from ecom_etl.runtime.session import local_session
    from ecom_etl.stream.runner import run_stream

    progress(f"[1/{STEPS}] the local AWS emulator (moto) on 127.0.0.1:{emulator_port}, with the platform's stack")
    url = emulator.start(emulator_port, state_dir)
    pid_file = os.path.join(state_dir, "demo.pid")
    settings = Settings.from_environment().at(url)
    server, stopped, streaming = None, threading.Event(), None
    try:
        resources = emulator.deploy_platform(settings, "ecom", 2, progress)
        storage, lake = Storage(settings), Lake.at(warehouse or f"s3://{resources['LakeBucket']}/lake")
        spark = local_session(settings, "ecom-etl demo")

        raw = f"s3://{resources['RawBucket']}/orders/"
        progress(f"[2/{STEPS}] the built-in data uploaded to {raw}, then the batch job into {lake.root}")
        storage.upload_deliveries(generated_once(spark, data_dir, BUILTIN_ROWS, BUILTIN_SEED, progress), raw)
        summary = run_batch(
            spark, settings, raw, lake.root, progress=lambda m: progress(f"      batch: {m}"), register=True
        )
        progress(
            f"      {summary.raw_rows:,} rows read: {summary.silver_rows:,} kept, {summary.duplicates_dropped:,} "
            f"duplicates, {summary.quarantined_rows:,} quarantined"
        )

        progress(f"[3/{STEPS}] order API and stream job, side by side")
        server = make_server(settings, api_port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api_url = f"http://127.0.0.1:{server.server_port}"

        def stream() -> None:
            run_stream(
                spark,
                settings,
                lake,
                lake.checkpoint(settings.stream),
                trigger_seconds=1.0,
                progress=lambda m: progress(f"      stream: {m}"),
                gold_seconds=5.0,
                stopped=stopped,
            )

        streaming = threading.Thread(target=stream, daemon=True)
        streaming.start()

        progress(f"[4/{STEPS}] POSTing {STREAM_SLICE_ROWS:,} new order lines to {api_url}/orders")
        generated_once(spark, slice_dir, STREAM_SLICE_ROWS, STREAM_SEED, progress, STREAM_FIRST_INVOICE)
        lines = client_lines(storage, slice_dir)[:STREAM_SLICE_ROWS]
        post_lines(api_url, lines, progress)
        wait_for_invoice(api_url, lines[-1]["InvoiceNo"])

        progress(f"[5/{STEPS}] the dashboard")
        report = os.path.abspath(write_report(spark, lake, storage, report_out))

        progress(f"[6/{STEPS}] ready")
        example = next(line for line in lines if line["CustomerID"])
        print(ready_message(report, lake.root, url, api_url, example), flush=True)
        with open(pid_file, "w", encoding="utf-8") as fh:
            fh.write(str(os.getpid()))
        signal.signal(signal.SIGTERM, _interrupt)  # `make demo-stop` ends it like Ctrl-C
        while streaming.is_alive():
            streaming.join(1.0)
        raise RuntimeError("the stream job stopped")
    except KeyboardInterrupt:
        pass
    finally:
        stopped.set()
        if streaming is not None:
            streaming.join(60)
        if server is not None:
            server.shutdown()
        emulator.stop(state_dir)
        if os.path.exists(pid_file):
            os.remove(pid_file)
        progress(
            "demo stopped: API, stream job and emulator are down; report.html stays, "
            "a lake on the emulator's S3 went with it"
        )


def client_lines(storage: Storage, slice_dir: str) -> list[dict]:
    """The slice's lines a client would send: the generated files' deliberately broken lines
    (which the API would refuse with 400) left out."""
    from ecom_etl.core import contract
    from ecom_etl.core.csv_records import file_records

    out = []
    for file in storage.list_files(slice_dir):
        with storage.open(file.uri) as stream:
            for record in file_records(file.uri, stream):
                line = dict(zip(contract.HEADER, record.fields))
                if not record.reasons and not contract.clean_line(line).reasons:
                    out.append(line)
    return out
