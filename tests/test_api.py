"""The order API served locally (the Lambda handlers over HTTP) against the emulator."""

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal

import pytest

from ecom_etl.api import handlers
from ecom_etl.api.post_body import nesting_depth
from ecom_etl.api.server import make_server
from ecom_etl.lake.layout import Lake
from ecom_etl.local import emulator
from ecom_etl.stream import dynamo
from ecom_etl.stream.runner import run_stream
from tests.builders import fresh_names

GOOD = {
    "InvoiceNo": "580001",
    "StockCode": "85123A",
    "Description": "WHITE HEART",
    "Quantity": 2,
    "InvoiceDate": "2011-12-01 10:15:00",
    "UnitPrice": 2.55,
    "CustomerID": "17850",
    "Country": "France",
}


@pytest.fixture
def names(aws):
    settings = fresh_names(aws)
    emulator.create_resources(settings, shards=1)
    return settings


@pytest.fixture
def api(names):
    server = make_server(names, port=0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()  # shutdown() waits a poll
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def request(url: str, body: bytes | None = None) -> tuple[int, dict]:
    try:
        headers = {"Content-Type": "application/json"} if body else {}
        with urllib.request.urlopen(urllib.request.Request(url, body, headers, method="POST" if body else "GET")) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post(api: str, *lines) -> tuple[int, dict]:
    return request(f"{api}/orders", json.dumps({"lines": list(lines)}).encode())


def queued(names) -> list:
    from ecom_etl.stream.kinesis_source import readers

    return [r for reader in readers(names).values() for r in reader.read(None, 10**6)]


@pytest.mark.slow
def test_post_then_get_returns_the_line_once_the_stream_processed_it(spark, names, api, tmp_path):
    """The only path from a POST to a GET: API, Kinesis, the stream job and DynamoDB, end to end."""
    line = {
        **GOOD,
        "InvoiceNo": "C580001",
        "StockCode": "85123a",
        "Quantity": -2,
        "InvoiceDate": "2011-12-01T10:15:00",
        "CustomerID": "",
    }
    status, answer = post(api, line)
    assert (status, answer["accepted"]) == (202, 1)
    assert request(f"{api}/invoices/C580001")[0] == 404  # not processed yet

    run_stream(
        spark,
        names,
        Lake.at(str(tmp_path / "wh")),
        str(tmp_path / "cp"),
        trigger_seconds=0.1,
        stop_when_idle=True,
        progress=lambda _: None,
    )
    status, invoice = request(f"{api}/invoices/c580001")
    assert status == 200 and invoice["total"] == "-5.100"
    (item,) = invoice["lines"]
    assert (item["StockCode"], item["Quantity"], item["UnitPrice"], item["CustomerID"]) == (
        "85123A",
        -2,
        "2.550",
        "unknown",
    )
    assert item["LineKey"].startswith("85123A#")
    status, customer = request(f"{api}/customers/unknown/invoices")
    assert status == 200 and customer["invoices"] == [
        {"InvoiceNo": "C580001", "InvoiceDate": "2011-12-01 10:15:00", "Country": "France"}
    ]


@pytest.mark.one_stack
@pytest.mark.parametrize(
    "body, problem",
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps({"lines": []}).encode(), "non-empty list"),
        (json.dumps({"lines": [GOOD] * 501}).encode(), "more than the limit of 500"),
        (b'{"lines": [' + b"[" * 1000 + b"]" * 1000 + b"]}", "nested deeper than"),
        (b'{"lines": [{"InvoiceNo": "caf\xe9"}]}', "not valid UTF-8"),
        (b'{"lines": [{"InvoiceNo": "\\ud800"}]}', "lone surrogate"),
    ],
    ids=["invalid-json", "not-an-object", "no-lines", "too-many-lines", "deep", "latin-1", "surrogate"],
)
def test_bad_post_bodies_are_refused_whole(names, api, body, problem):
    status, answer = request(f"{api}/orders", body)
    assert status == 400 and any(problem in p for p in answer["problems"]), answer
    assert queued(names) == []


@pytest.mark.one_stack
@pytest.mark.parametrize(
    "text, depth",
    [
        (json.dumps({"lines": [{"Description": "[[[[ {{{{"}]}), 3),
        (json.dumps({"lines": [{"Description": 'a quote " [[[[ and a backslash \\'}]}), 3),
        (json.dumps([["\\"], "[[", {'\\"': ["]]"]}]), 3),
        ('"' + '\\"' * 100 + "[[[[", 0),  # a string never closed holds the rest: invalid JSON, not deep
    ],
    ids=["brackets-in-strings", "escaped-quote-and-backslash", "escaped-backslash-before-quote", "unclosed-string"],
)
def test_the_nesting_scan_skips_strings_as_json_reads_them(text, depth):
    assert nesting_depth(text) == depth


@pytest.mark.one_stack
def test_every_problem_of_every_line_is_listed_and_nothing_is_queued(names, api):
    good = {**GOOD, "Quantity": 1, "UnitPrice": "1.5"}
    lines = [
        good,
        {**good, "Quantity": "1.5", "UnitPrice": "cheap"},
        {**good, "StockCode": " ", "Colour": "red"},
        "x",
        {**good, "Quantity": "+-3", "UnitPrice": "NaN", "InvoiceDate": "yesterday"},
    ]
    status, answer = post_raw(api, lines)
    assert status == 400
    assert answer["problems"] == [
        "lines[1].Quantity: must be an integer (at most 9 digits)",
        "lines[1].UnitPrice: must be a decimal number with at most 3 decimal places",
        "lines[2].Colour: unknown field",
        "lines[2].StockCode: required",
        "lines[3]: must be an object",
        "lines[4].Quantity: must be an integer (at most 9 digits)",
        "lines[4].UnitPrice: must be a decimal number with at most 3 decimal places",
        "lines[4].InvoiceDate: must be a date and time, e.g. 2011-12-09 12:00:00",
    ]
    assert queued(names) == []  # nothing partial: the good line was not queued either


def post_raw(api: str, lines: list) -> tuple[int, dict]:
    return request(f"{api}/orders", json.dumps({"lines": lines}).encode())


@pytest.mark.one_stack
@pytest.mark.parametrize(
    "field, value, problem",
    [
        ("InvoiceNo", "9" * 3000, "InvoiceNo: too large for DynamoDB"),
        ("StockCode", "S" * 1500, "StockCode: too large for DynamoDB"),
        ("Description", "D" * 500_000, "too large for DynamoDB (dynamodb_item_too_large)"),
    ],
)
def test_a_line_a_sink_cannot_hold_is_refused_with_its_field_named(names, api, field, value, problem):
    status, answer = post(api, {**GOOD, field: value})
    assert status == 400 and any(problem in p for p in answer["problems"]), answer
    assert queued(names) == []


@pytest.mark.one_stack
def test_a_backend_failure_is_503_without_internal_names(aws, api, names):
    missing = names.named(stream="no-such-stream")
    server = make_server(missing, port=0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()  # shutdown() waits a poll
    try:
        status, answer = post(f"http://127.0.0.1:{server.server_port}", GOOD)
    finally:
        server.shutdown()
    assert status == 503 and set(answer) == {"message", "request_id"}
    assert "no-such-stream" not in json.dumps(answer) and "123456789012" not in json.dumps(answer)


@pytest.mark.one_stack
def test_fifty_concurrent_clients_are_all_answered(api):
    def get(_: int) -> int:
        return request(f"{api}/invoices/nothing-{_}")[0]

    with ThreadPoolExecutor(50) as pool:
        assert list(pool.map(get, range(200))) == [404] * 200


@pytest.mark.one_stack
def test_the_api_builds_its_aws_clients_once_not_per_request(api, monkeypatch):
    """Building a boto3 client costs about 0.1 s of CPU: Lambda's guidance is one per execution environment."""
    import boto3

    built, real = [], boto3.session.Session.client
    monkeypatch.setattr(boto3.session.Session, "client", lambda *a, **k: built.append(a[1:]) or real(*a, **k))
    for n in range(20):
        assert request(f"{api}/invoices/nothing-{n}")[0] == 404
        assert post(api, GOOD)[0] == 202
    assert len(built) <= 2, built  # DynamoDB's and Kinesis's, if no test before built them


@pytest.mark.one_stack
def test_unknown_routes_and_missing_items_are_404(api):
    assert request(f"{api}/nothing")[0] == 404
    assert request(f"{api}/customers/99999/invoices")[0] == 404


# A silver line as the stream job hands it to the DynamoDB sink.
SILVER_LINE = {
    "invoice_no": "C536379",
    "stock_code": "D",
    "description": "Discount",
    "quantity": -1,
    "invoice_ts": datetime(2010, 12, 1, 9, 41),
    "unit_price": Decimal("27.500"),
    "customer_id": "14527",
    "country": "United Kingdom",
    "line_amount": Decimal("-27.500"),
    "is_cancellation": True,
}


@pytest.mark.one_stack
def test_a_get_finds_the_ids_as_the_contract_writes_them(names, api):
    """Silver and the tables hold customer 17850 for 17850.0, and invoice C536379 for c536379: a GET
    with the id as the order line had it finds them."""
    line = SILVER_LINE
    glagolitic = {**line, "invoice_no": "GLAGⱟ1", "is_cancellation": False}  # as Spark stores glagⱟ1
    dynamo.write_lines(names, [line, glagolitic])
    for asked in ("14527", "14527.0", " 14527.00 "):
        status, answer = request(f"{api}/customers/{urllib.parse.quote(asked)}/invoices")
        assert (status, answer.get("CustomerID")) == (200, "14527"), asked
        assert sorted(i["InvoiceNo"] for i in answer["invoices"]) == ["C536379", "GLAGⱟ1"]
    assert request(f"{api}/invoices/c536379")[1]["InvoiceNo"] == "C536379"
    assert request(f"{api}/invoices/{urllib.parse.quote('glagⱟ1')}")[1].get("InvoiceNo") == "GLAGⱟ1"


def pages_of(api: str, path: str, limit: int) -> list[dict]:
    """Every page of a GET, following next_token to the end."""
    answers, query = [], {"limit": limit}
    while True:
        status, answer = request(f"{api}{path}?{urllib.parse.urlencode(query)}")
        assert status == 200, answer
        answers.append(answer)
        if "next_token" not in answer:
            return answers
        query["next_token"] = answer["next_token"]


@pytest.mark.one_stack
def test_the_gets_answer_in_pages_of_at_most_limit_items_each_item_once(names, api):
    """A customer or an invoice of many lines once came back whole, past Lambda's 6 MB answer."""
    lines = [
        {**SILVER_LINE, "invoice_no": f"5800{n % 5}", "stock_code": f"S{n}", "line_amount": Decimal(f"{n}.125")}
        for n in range(12)
    ]
    dynamo.write_lines(names, lines)
    invoice = pages_of(api, "/invoices/58001", limit=2)  # 3 lines: 2, then 1
    assert [len(p["lines"]) for p in invoice] == [2, 1]
    assert [line["StockCode"] for p in invoice for line in p["lines"]] == ["S1", "S11", "S6"]  # LineKey order
    assert all("total" not in p for p in invoice)  # no page holds the whole invoice
    assert pages_of(api, "/invoices/58001", limit=10) == [
        {"InvoiceNo": "58001", "lines": invoice[0]["lines"] + invoice[1]["lines"], "total": "18.375"}
    ]
    customer = pages_of(api, "/customers/14527/invoices", limit=2)
    assert [i["InvoiceNo"] for p in customer for i in p["invoices"]] == [f"5800{n}" for n in range(5)]
    assert [len(p["invoices"]) for p in customer] == [2, 2, 1]


@pytest.mark.one_stack
def test_a_page_ends_before_its_answer_would_pass_lambdas_size_limit(names, api, monkeypatch):
    """DynamoDB returns up to 1 MB a page, and JSON escapes a byte into as many as seven: a page
    stops at the item that would take the answer over the budget, and the next page starts there."""
    monkeypatch.setattr(handlers, "RESPONSE_BYTES", 30_000)
    lines = [{**SILVER_LINE, "stock_code": f"S{n}", "description": '"' * 2000} for n in range(10)]
    dynamo.write_lines(names, lines)  # each about 8,300 bytes of the answer: a quote escaped twice is 4
    invoice = pages_of(api, "/invoices/C536379", limit=10)
    assert [len(p["lines"]) for p in invoice] == [3, 3, 3, 1]
    assert sorted(line["StockCode"] for p in invoice for line in p["lines"]) == sorted(f"S{n}" for n in range(10))


def dynamodb_item_bytes(item: dict) -> int:
    """An item's size by AWS's rules: names and UTF-8 strings in full, a number at most 21 bytes,
    a boolean 1."""
    size = 0
    for name, value in item.items():
        size += len(name.encode("utf-8"))
        if isinstance(value, bool):
            size += 1
        elif isinstance(value, str):
            size += len(value.encode("utf-8"))
        else:
            size += 21
    return size


@pytest.mark.one_stack
def test_the_largest_line_the_item_limit_passes_makes_an_item_dynamodb_holds():
    from ecom_etl.core.contract import DYNAMODB_ITEM_BYTES, KEY_LIMITS, sink_problems
    from ecom_etl.stream.dynamo import invoice_item

    line = {name: "K" * limit for name, limit in KEY_LIMITS.items()}  # every key at its limit
    line.update(
        country="United Kingdom",
        quantity=-123456789,
        unit_price=Decimal("-123456789.125"),
        line_amount=Decimal("15241578765432098.765"),
        invoice_ts=datetime(2011, 12, 9, 12, 50, 0, 123456),
        is_cancellation=False,
    )

    def fits(description_bytes: int) -> bool:
        return not sink_problems({**line, "description": "é" * (description_bytes // 2)})

    low, high = 0, DYNAMODB_ITEM_BYTES  # the largest description that passes, by bisection
    while high - low > 2:
        middle = (low + high) // 2
        low, high = (middle, high) if fits(middle) else (low, middle)
    largest = {**line, "description": "é" * (low // 2)}
    assert fits(low) and not fits(low + 4)
    assert dynamodb_item_bytes(invoice_item(largest)) <= DYNAMODB_ITEM_BYTES
