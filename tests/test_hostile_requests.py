"""Requests as an attacker or a careless client sends them, to the Lambda handlers (called with the
proxy events API Gateway builds) and to the local server (over a socket of 127.0.0.1) alike: each is
answered, with its status and a JSON body naming the problem.

No AWS: every case is refused before a call to it (the settings point at a port where nothing
listens, so a case that got through would fail). Each exchange waits at most CLIENT_SECONDS.
"""

import http.client
import json
import threading
from typing import NamedTuple

import pytest

from ecom_etl.settings import Settings
from ecom_etl.stream.server import make_server, route

OFFLINE = Settings().at("http://127.0.0.1:9")
CLIENT_SECONDS = 30  # far beyond any answer here; only a request that stalls the API reaches it
JSON = {"Content-Type": "application/json"}
# The nesting scan once matched each quote of this body against the rest of it: 7.5 s at 48 KB.
WORST_BODY = b'"' + b'\\"' * (1024 * 1024 // 2 - 1)


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
    "json-with-charset": Case(
        "POST", "/orders", b'{"lines": []}', 400, "non-empty list", {"content-type": "Application/JSON; charset=utf-8"}
    ),
}


def lambda_answer(case: Case) -> tuple[int, dict]:
    """The case as API Gateway hands it to the route's Lambda handler."""
    handler, parameters = route(case.method, case.path)
    event = {
        "httpMethod": case.method,
        "path": case.path,
        "pathParameters": parameters or None,
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
    api = make_server(OFFLINE, port=0)
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
