"""Requests as an attacker or a careless client sends them, to the Lambda handlers (called with the
proxy events API Gateway builds) and to the local server (over a socket of 127.0.0.1) alike: each is
answered, with its status and a JSON body naming the problem.

No AWS: every case is refused before a call to it (the settings point at a port where nothing
listens, so a case that got through would fail). Each exchange waits at most CLIENT_SECONDS.
"""

import base64
import http.client
import io
import json
import socket
import threading
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode

import pytest

from ecom_etl.api.server import make_server, route
from ecom_etl.settings import Settings

pytestmark = pytest.mark.one_stack  # no Spark, no Delta, no Glue stack: runs on the Glue 5.1 leg only

OFFLINE = Settings().at("http://127.0.0.1:9")
CLIENT_SECONDS = 30  # far beyond any answer here; only a request that stalls the API reaches it
READ_SECONDS = 2  # the test server's read timeout: a body not in by then is refused
JSON = {"Content-Type": "application/json"}
# The nesting scan once matched each quote of this body against the rest of it: 7.5 s at 48 KB.
WORST_BODY = b'"' + b'\\"' * (1024 * 1024 // 2 - 1)
TOO_LARGE = "body: larger than the limit of 1,048,576 bytes"

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
GOOD_BODY = json.dumps({"lines": [GOOD]}).encode()


def forged(key: dict) -> str:
    """A next_token as a client could make one: URL-safe base64 of a DynamoDB key's JSON."""
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def page(path: str, **query: str) -> str:
    return f"{path}?{urlencode(query)}"


CUSTOMER = "/customers/17850/invoices"
INVOICE = "/invoices/536365"
LIMIT = "limit: must be a whole number from 1 to 1000"
TOKEN = "next_token: not a token of this list"


class Case(NamedTuple):
    method: str
    path: str
    body: bytes
    status: int
    problem: str
    headers: dict = JSON


CASES = {
    "escaped-quotes-1-MiB": Case("POST", "/orders", WORST_BODY, 400, "not valid JSON (Unterminated string"),
    "a-field-twice": Case(
        "POST",
        "/orders",
        GOOD_BODY.replace(b'"Quantity": 2', b'"Quantity": "x", "Quantity": 5'),
        400,
        'the key "Quantity" appears twice',
    ),
    "lines-twice": Case("POST", "/orders", b'{"lines": [], ' + GOOD_BODY[1:], 400, 'the key "lines" appears twice'),
    "text-plain": Case(
        "POST", "/orders", GOOD_BODY, 415, "Content-Type: must be application/json", {"Content-Type": "text/plain"}
    ),
    "no-content-type": Case("POST", "/orders", GOOD_BODY, 415, "Content-Type: must be application/json", {}),
    "over-the-limit": Case("POST", "/orders", b" " * 2 * 1024 * 1024, 413, TOO_LARGE),
    "json-with-charset": Case(
        "POST", "/orders", b'{"lines": []}', 400, "non-empty list", {"content-type": "Application/JSON; charset=utf-8"}
    ),
    "limit-zero": Case("GET", page(CUSTOMER, limit="0"), b"", 400, LIMIT),
    "limit-a-word": Case("GET", page(INVOICE, limit="ten"), b"", 400, LIMIT),
    "limit-too-large": Case("GET", page(INVOICE, limit="1001"), b"", 400, LIMIT),
    "unknown-parameter": Case("GET", page(INVOICE, page="2"), b"", 400, "page: unknown query parameter"),
    "token-not-base64": Case("GET", page(CUSTOMER, next_token="!!"), b"", 400, TOKEN),
    "token-cut": Case(
        "GET", page(CUSTOMER, next_token=forged({"CustomerID": "17850", "InvoiceNo": "536365"})[:-1]), b"", 400, TOKEN
    ),
    "token-of-another-customer": Case(
        "GET", page(CUSTOMER, next_token=forged({"CustomerID": "12346", "InvoiceNo": "536365"})), b"", 400, TOKEN
    ),
    "token-of-the-other-table": Case(
        "GET", page(CUSTOMER, next_token=forged({"InvoiceNo": "536365", "LineKey": "A#0"})), b"", 400, TOKEN
    ),
    "token-key-too-long": Case(
        "GET", page(INVOICE, next_token=forged({"InvoiceNo": "536365", "LineKey": "A" * 1025})), b"", 400, TOKEN
    ),
}


def lambda_answer(case: Case) -> tuple[int, dict]:
    """The case as API Gateway hands it to the route's Lambda handler."""
    path, _, query = case.path.partition("?")
    handler, parameters = route(case.method, path)
    event = {
        "httpMethod": case.method,
        "path": path,
        "pathParameters": parameters or None,
        "queryStringParameters": dict(parse_qsl(query)) or None,
        "headers": dict(case.headers),
        "requestContext": {"requestId": "test"},
        "body": case.body.decode("utf-8"),
        "isBase64Encoded": False,
    }
    answer = handler(event, None, OFFLINE)
    assert answer["headers"]["Content-Type"] == "application/json"
    return answer["statusCode"], json.loads(answer["body"])


@pytest.fixture(scope="module")
def server():
    api = make_server(OFFLINE, port=0, read_seconds=READ_SECONDS)
    threading.Thread(target=api.serve_forever, args=(0.05,), daemon=True).start()  # shutdown() waits a poll
    yield api.server_port
    api.shutdown()
    api.server_close()


def server_answer(port: int, case: Case) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_SECONDS)
    try:
        connection.request(case.method, case.path, body=case.body, headers=case.headers)
        answer = connection.getresponse()
        assert answer.getheader("Content-Type") == "application/json"
        assert answer.getheader("Server") == "ecom-etl-api"  # no Python version
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def names_the_problem(answer: dict, problem: str) -> bool:
    return any(problem in text for text in answer.get("problems", []) + [answer.get("message", "")])


@pytest.mark.parametrize("name", CASES)
def test_the_lambda_handlers_refuse_each_case_naming_its_problem(name):
    case = CASES[name]
    status, answer = lambda_answer(case)
    assert status == case.status and names_the_problem(answer, case.problem), answer


@pytest.mark.parametrize("name", CASES)
def test_the_local_server_refuses_each_case_naming_its_problem(server, name):
    case = CASES[name]
    status, answer = server_answer(server, case)
    assert status == case.status and names_the_problem(answer, case.problem), answer


# Requests only a server sees: the HTTP framing, which API Gateway handles before Lambda. Each is
# refused with the connection closed after one answer, so no byte of it is read as a next request.
def post(headers: str, body: bytes = b"") -> bytes:
    return f"POST /orders HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n{headers}\r\n".encode() + body


FRAMING = {
    "length-not-a-number": (post("Content-Length: ten\r\n", b"{}"), 400, "Content-Length"),
    "length-negative": (post("Content-Length: -5\r\n", b'{"lines": []}'), 400, "Content-Length"),
    "length-signed": (post("Content-Length: +13\r\n", b'{"lines": []}'), 400, "Content-Length"),
    "two-lengths": (post("Content-Length: 2\r\nContent-Length: 13\r\n", b'{"lines": []}'), 400, "Content-Length"),
    "over-the-limit-not-sent": (post("Content-Length: 2097152\r\n", b"{"), 413, TOO_LARGE),
    "over-the-limit-asked-first": (post("Content-Length: 2097152\r\nExpect: 100-continue\r\n"), 413, TOO_LARGE),
    "chunked": (post("Transfer-Encoding: chunked\r\n", b'd\r\n{"lines": []}\r\n0\r\n\r\n'), 411, "Content-Length"),
    "slow-body": (post("Content-Length: 100\r\n", b'{"lines": ['), 408, f"within {READ_SECONDS} s"),
    "shorter-body": (post("Content-Length: 100\r\n", b'{"lines": []}'), 400, "shorter"),
    "malformed-request-line": (b"GARBAGE\r\n\r\n", 400, "Bad request"),
    "unknown-method": (b"BREW /orders HTTP/1.1\r\nHost: test\r\n\r\n", 501, "Unsupported method"),
    "request-line-too-long": (b"GET /" + b"x" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "URI Too Long"),
}


def exchange(port: int, raw: bytes, half_close: bool = False) -> tuple[int, http.client.HTTPMessage, dict, bytes]:
    """Send raw bytes (then end the sending side if asked); read until the server closes: the first
    answer's status, headers and JSON body, and whatever came after it."""
    with socket.create_connection(("127.0.0.1", port), timeout=CLIENT_SECONDS) as connection:
        connection.sendall(raw)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        received = io.BytesIO(b"".join(iter(lambda: connection.recv(65536), b"")))
    _, status, _ = received.readline().decode("latin-1").split(" ", 2)
    headers = http.client.parse_headers(received)
    body = json.loads(received.read(int(headers["Content-Length"])))
    return int(status), headers, body, received.read()


def test_the_local_server_keeps_a_connection_open_after_an_answer_that_is_not_a_refusal(server):
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=CLIENT_SECONDS)
    try:
        for _ in range(2):
            connection.request("GET", "/nothing")
            answer = connection.getresponse()
            assert (answer.status, json.loads(answer.read())) == (404, {"message": "no route GET /nothing"})
    finally:
        connection.close()


@pytest.mark.parametrize("name", FRAMING)
def test_the_local_server_refuses_broken_framing_in_json_and_closes(server, name):
    raw, status, problem = FRAMING[name]
    answered, headers, body, after = exchange(server, raw, half_close=name == "shorter-body")
    assert (answered, headers["Content-Type"], headers["Server"]) == (status, "application/json", "ecom-etl-api")
    assert names_the_problem(body, problem) and after == b"", (body, after)
