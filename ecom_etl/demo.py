"""`ecom-etl demo` (`make demo`): the whole platform on this machine, in one command.

The local AWS emulator, the batch job on the built-in data, a slice of new order lines POSTed to
the API and carried by Kinesis through the streaming job, the dashboard, and the API left running
until Ctrl-C (or `make demo-stop`). One SparkSession serves every step.
"""

import json
import os
import signal
import threading
import time
import urllib.request

from ecom_etl.aws import Names, use_endpoint
from ecom_etl.io import Lake
from ecom_etl.stream import emulator

PID_FILE = os.path.join(emulator.STATE_DIR, "demo.pid")
STREAM_SLICE_ROWS = 2_000
STREAM_SEED = 2011  # not the built-in data's seed: these are new lines


def _post_lines(api_url: str, lines: list[dict], progress) -> int:
    """POST the lines to /orders in requests of 500 (the API's limit), as a client would."""
    sent = 0
    for start in range(0, len(lines), 500):
        body = json.dumps({"lines": lines[start:start + 500]}).encode("utf-8")
        request = urllib.request.Request(f"{api_url}/orders", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            sent += json.load(response)["accepted"]
        progress(f"  POSTed {sent:,} of {len(lines):,} lines")
    return sent


def _interrupt(*_) -> None:
    raise KeyboardInterrupt


def _ready_message(report: str, warehouse: str, url: str, api_url: str, example: dict) -> str:
    return f"""
  dashboard     file://{report}
  lake          {Lake.at(warehouse).root}/  (silver, quarantine, gold Delta tables)
  AWS emulator  {url}   (export AWS_ENDPOINT_URL={url} to use it with the aws CLI or boto3)
  order API     {api_url}

  try:
    curl -s {api_url}/invoices/{example['InvoiceNo']}
    curl -s {api_url}/customers/{example['CustomerID'] or 'unknown'}/invoices
    curl -s -X POST {api_url}/orders -H 'Content-Type: application/json' \\
         -d '{{"lines": [{{"InvoiceNo": "599999", "StockCode": "85123A", "Description": "WHITE HANGING HEART",
                       "Quantity": 2, "InvoiceDate": "2011-12-09 12:00:00", "UnitPrice": 2.55,
                       "CustomerID": "17850", "Country": "United Kingdom"}}]}}'
    .venv/bin/ecom-etl sql "SELECT year, month, net_revenue FROM revenue_monthly ORDER BY 1, 2" --warehouse {warehouse}
    .venv/bin/ecom-etl sql "SELECT * FROM top_products_by_season WHERE rank = 1" --warehouse {warehouse}

  the API keeps running: Ctrl-C here or `make demo-stop` ends the demo
"""


def run_demo(spark, warehouse: str, builtin_data: str, builtin_rows: int, generate, report_out: str,
             emulator_port: int, api_port: int, progress) -> None:
    from ecom_etl.pipeline import refresh_gold, run_batch
    from ecom_etl.report import write_report
    from ecom_etl.stream import api
    from ecom_etl.stream.producer import csv_lines
    from ecom_etl.stream.runner import run_stream
    from ecom_etl.stream.server import make_server

    steps = 6
    progress(f"[1/{steps}] starting the local AWS emulator (moto) on 127.0.0.1:{emulator_port}")
    url = emulator.start(emulator_port)
    use_endpoint(url)
    server = None
    try:
        names = Names()
        emulator.create_resources(names, shards=2)
        api.use_names(names)

        progress(f"[2/{steps}] batch job on the built-in data ({builtin_data}/)")
        if not (os.path.isdir(builtin_data) and os.listdir(builtin_data)):
            generate(spark, builtin_rows, builtin_data, 42)
        summary = run_batch(spark, builtin_data, warehouse, progress=progress)
        progress(f"  {summary.raw_rows:,} rows read: {summary.silver_rows:,} kept, {summary.duplicates_dropped:,} "
                 f"duplicates, {summary.quarantined_rows:,} quarantined")

        server = make_server(api_port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        api_url = f"http://127.0.0.1:{server.server_port}"
        progress(f"[3/{steps}] order API on {api_url}: POSTing {STREAM_SLICE_ROWS:,} new order lines")
        slice_dir = os.path.join(os.path.dirname(builtin_data) or ".", "demo-stream")
        if not (os.path.isdir(slice_dir) and os.listdir(slice_dir)):
            generate(spark, STREAM_SLICE_ROWS, slice_dir, STREAM_SEED)
        # The generated slice has deliberately broken lines; the API answers those with 400 and a list
        # of problems (as it would a client), so the demo posts the lines a client would send.
        all_lines = list(csv_lines(slice_dir))[:STREAM_SLICE_ROWS]
        lines = [line for i, line in enumerate(all_lines) if not api.validate_line(i, line)[1]]
        progress(f"  {len(all_lines) - len(lines)} lines the API would refuse are left out")
        _post_lines(api_url, lines, progress)

        progress(f"[4/{steps}] streaming job: Kinesis -> silver, quarantine and DynamoDB (until caught up)")
        checkpoint = os.path.join(Lake.at(warehouse).root, "_checkpoints", names.stream)
        run_stream(spark, names, warehouse, checkpoint, trigger_seconds=1.0, stop_when_idle=True, progress=progress)

        progress(f"[5/{steps}] gold tables refreshed with the streamed lines, then the dashboard")
        refresh_gold(spark, Lake.at(warehouse))
        report = os.path.abspath(write_report(spark, Lake.at(warehouse), report_out))

        progress(f"[6/{steps}] ready")
        print(_ready_message(report, warehouse, url, api_url, lines[0]), flush=True)
        with open(PID_FILE, "w", encoding="utf-8") as fh:
            fh.write(str(os.getpid()))
        signal.signal(signal.SIGTERM, _interrupt)  # `make demo-stop` ends it like Ctrl-C
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.shutdown()
        emulator.stop()
        if os.path.exists(PID_FILE):
            os.remove(PID_FILE)
        progress("demo stopped: API and emulator are down; the lake and the dashboard stay")
