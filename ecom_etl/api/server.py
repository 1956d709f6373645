"""Serve the API's Lambda handlers on 127.0.0.1 with API Gateway proxy events, for local use.

Whatever a client sends, it answers as API Gateway in front of Lambda would, and in JSON: a body
needs one Content-Length of digits (a chunked body is refused with 411, never read as the next
request); a body over the limit is refused with 413 before it is read (before it is sent, when the
client asks first with `Expect: 100-continue`); a body not in within the read timeout ends with
408. After a refusal the connection is closed, so nothing of the request is taken for the next one.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

from ecom_etl.api import handlers
from ecom_etl.settings import Settings

# (method, API Gateway resource path, handler): the same routes as the template's API.
ROUTES = (
    ("POST", "/orders", handlers.post_orders),
    ("GET", "/customers/{id}/invoices", handlers.get_customer_invoices),
    ("GET", "/invoices/{invoice_no}", handlers.get_invoice),
)
READ_SECONDS = 10.0  # a request line, a header, and then a whole body must each arrive within this
DRAIN_BYTES = 16 * 1024 * 1024  # of a refused body, read and dropped so the client reads the 413
_LENGTH = re.compile(r"[0-9]{1,10}")  # int() would take "-5", "+5", " 5", "5_0" and non-ASCII digits


def _pattern(resource_path: str) -> re.Pattern:
    return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", resource_path) + "/?$")


_MATCHERS = [(method, _pattern(path), handler) for method, path, handler in ROUTES]


def route(method: str, path: str) -> tuple[Callable, dict[str, str]] | None:
    """The handler of a request and its path parameters (decoded, as API Gateway passes them)."""
    for route_method, pattern, handler in _MATCHERS:
        found = pattern.match(path)
        if found and route_method == method:
            return handler, {k: unquote(v) for k, v in found.groupdict().items()}
    return None


class ApiRequestHandler(BaseHTTPRequestHandler):
    server_version = "ecom-etl-api"
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway
    default_request_version = "HTTP/1.1"  # no HTTP/0.9: an answer without a status line is no answer
    settings: Settings
    timeout = READ_SECONDS  # socketserver sets it on the connection: no read waits longer

    def version_string(self) -> str:
        return self.server_version  # http.server would add the Python version

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a malformed request line, an unknown method, a line too long)
        in JSON like every other answer, not its HTML page."""
        self._answer(handlers.response(code, {"message": message or HTTPStatus(code).phrase}), close=True)

    def handle_expect_100(self) -> bool:
        """A client that asks before sending a body (curl does above 1 MiB) is refused before it sends it."""
        refusal = self._refusal()
        if refusal:
            self._answer(refusal, close=True)
            return False
        return super().handle_expect_100()

    def _refusal(self) -> dict | None:
        """The answer the headers alone earn, before any of the body is read."""
        if "Transfer-Encoding" in self.headers:
            return handlers.response(411, {"message": "Content-Length: required (a chunked body is not accepted)"})
        lengths = set(self.headers.get_all("Content-Length", []))
        if len(lengths) > 1 or not all(_LENGTH.fullmatch(length) for length in lengths):
            return handlers.response(400, {"message": "Content-Length: must be one whole number of bytes"})
        if lengths and int(lengths.pop()) > handlers.MAX_BODY_BYTES:
            return handlers.response(413, {"problems": [handlers.TOO_LARGE]})
        return None

    def _receive(self, length: int, keep: bool = True) -> bytes:
        """Up to `length` bytes of body, all of it within the read timeout: each read waits only for
        what is left of it, so a client cannot hold the connection with a byte at a time. Fewer bytes
        when the client stops sending; TimeoutError when the time is up."""
        deadline = time.monotonic() + self.timeout
        chunks, left = [], length
        try:
            while left:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self.connection.settimeout(remaining)
                chunk = self.rfile.read1(min(left, 64 * 1024))
                if not chunk:
                    break
                left -= len(chunk)
                if keep:
                    chunks.append(chunk)
        finally:
            self.connection.settimeout(self.timeout)
        return b"".join(chunks)

    def _drain(self) -> None:
        """Read and drop a refused body (up to DRAIN_BYTES, within the read timeout): a client that sends
        a body whole before it reads would find the connection reset instead of the answer."""
        try:
            self._receive(min(int(self.headers["Content-Length"]), DRAIN_BYTES), keep=False)
        except OSError:  # TimeoutError too: the connection is closed either way
            pass

    def _body(self) -> bytes | None:
        """The request's body, or None once a refusal has been answered."""
        refusal = self._refusal()
        if refusal:
            self._answer(refusal, close=True)
            if refusal["statusCode"] == 413:
                self._drain()
            return None
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = self._receive(length)
        except TimeoutError:
            message = f"request timeout: the body did not arrive within {self.timeout:g} s"
            self._answer(handlers.response(408, {"message": message}), close=True)
            return None
        if len(body) < length:
            self._answer(handlers.response(400, {"message": "body: shorter than its Content-Length"}), close=True)
            return None
        return body

    def _answer(self, result: dict, close: bool = False) -> None:
        payload = result["body"].encode("utf-8")
        self.send_response(result["statusCode"])
        for name, value in result.get("headers", {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _dispatch(self, method: str) -> None:
        body = self._body()
        if body is None:
            return
        path, _, query = self.path.partition("?")
        found = route(method, path)
        if found:
            handler, parameters = found
            event = {
                "httpMethod": method,
                "path": path,
                "pathParameters": parameters or None,
                "queryStringParameters": dict(parse_qsl(query, keep_blank_values=True)) or None,
                "headers": dict(self.headers),
                "requestContext": {"requestId": uuid.uuid4().hex},
                "body": body,
                "isBase64Encoded": False,
            }
            self._answer(handler(event, None, self.settings))
        else:
            self._answer(handlers.response(404, {"message": f"no route {method} {path}"}))

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, fmt: str, *args) -> None:
        print(json.dumps({"request": self.requestline, "status": args[1] if len(args) > 1 else None}), flush=True)


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the listen backlog: bursts of clients wait instead of being reset


def make_server(
    settings: Settings, port: int = 8080, host: str = "127.0.0.1", read_seconds: float = READ_SECONDS
) -> ApiServer:
    handler = type("Handler", (ApiRequestHandler,), {"settings": settings, "timeout": read_seconds})
    return ApiServer((host, port), handler)
