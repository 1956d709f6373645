"""Serve the API's Lambda handlers on 127.0.0.1 with API Gateway proxy events, for local use."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

from ecom_etl.settings import Settings
from ecom_etl.stream import api

# (method, API Gateway resource path, handler): the same routes as the template's API.
ROUTES = (
    ("POST", "/orders", api.post_orders),
    ("GET", "/customers/{id}/invoices", api.get_customer_invoices),
    ("GET", "/invoices/{invoice_no}", api.get_invoice),
)


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
    settings: Settings

    def _dispatch(self, method: str) -> None:
        path = urlparse(self.path).path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, api.MAX_BODY_BYTES + 1)) if length else b""
        if length > api.MAX_BODY_BYTES + 1:
            self.close_connection = True  # the rest of an oversized body is not read
        found = route(method, path)
        if found:
            handler, parameters = found
            event = {
                "httpMethod": method,
                "path": path,
                "pathParameters": parameters or None,
                "headers": dict(self.headers),
                "requestContext": {"requestId": uuid.uuid4().hex},
                "body": body,  # cut at limit + 1 bytes: enough for the handler to refuse it
                "isBase64Encoded": False,
            }
            result = handler(event, None, self.settings)
        else:
            result = api.response(404, {"message": f"no route {method} {path}"})
        payload = result["body"].encode("utf-8")
        self.send_response(result["statusCode"])
        for name, value in result.get("headers", {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_message(self, fmt: str, *args) -> None:
        print(json.dumps({"request": self.requestline, "status": args[1] if len(args) > 1 else None}), flush=True)


class ApiServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the listen backlog: bursts of clients wait instead of being reset


def make_server(settings: Settings, port: int = 8080, host: str = "127.0.0.1") -> ApiServer:
    handler = type("Handler", (ApiRequestHandler,), {"settings": settings})
    return ApiServer((host, port), handler)
