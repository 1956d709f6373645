"""Lambda handlers of the order API (API Gateway proxy integration), also served locally.

POST /orders                      {"lines": [order line, ...]}  -> 202, lines on Kinesis (413, 415, 400)
GET  /customers/{id}/invoices     the customer's invoices        -> 200 / 404, a page at a time
GET  /invoices/{invoice_no}       the invoice's lines            -> 200 / 404, a page at a time

A 202 means every line will be visible to GET: a line is accepted only if the data contract
(contract.clean_line, the rules the stream job applies) keeps it and every sink can hold it;
otherwise the request is refused whole with 400 and each problem named. A GET answers one page of
the partition (`limit`, `next_token`: pages.py), small enough for Lambda's 6 MB answer. Configured by
the environment Lambda gives it (STREAM_NAME, CUSTOMERS_TABLE, INVOICES_TABLE), read once.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Callable
from decimal import Decimal

from ecom_etl.api import pages
from ecom_etl.api.post_body import MAX_BODY_BYTES, TOO_LARGE, parse_orders
from ecom_etl.core import contract
from ecom_etl.settings import Settings
from ecom_etl.stream import dynamo
from ecom_etl.stream.producer import put_records

log = logging.getLogger("ecom_etl.api")
# Lambda returns at most 6 MB, and its proxy answer holds the body as a JSON string, escaped once
# more: a page ends before its items, measured that way, would pass this.
RESPONSE_BYTES = 5 * 1024 * 1024
_settings: Settings | None = None


def settings_from_environment() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings.from_environment()
    return _settings


def response(status: int, body: dict) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, default=_json_default, ensure_ascii=False),
    }


def _json_default(value: object) -> int | str:
    """Counts as JSON numbers; money (anything with a fraction) as exact decimal strings."""
    if isinstance(value, Decimal):
        return int(value) if "." not in str(value) else str(value)
    raise TypeError(type(value).__name__)


def _request_id(event: dict, context: object) -> str:
    return (
        getattr(context, "aws_request_id", None)
        or (event.get("requestContext") or {}).get("requestId")
        or uuid.uuid4().hex
    )


def _body(event: dict) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")


def _media_type(event: dict) -> str:
    """The request's Content-Type without its parameters (`; charset=utf-8`), lower-cased."""
    headers = event.get("headers") or {}
    value = next((v for k, v in headers.items() if k.lower() == "content-type"), None) or ""
    return value.partition(";")[0].strip().lower()


def post_orders(event: dict, context: object = None, settings: Settings | None = None) -> dict:
    settings = settings or settings_from_environment()
    request_id = _request_id(event, context)
    body = _body(event)
    if len(body) > MAX_BODY_BYTES:
        return response(413, {"problems": [TOO_LARGE], "request_id": request_id})
    if _media_type(event) != "application/json":  # the gateway checks a body against the model of its type
        return response(415, {"problems": ["Content-Type: must be application/json"], "request_id": request_id})
    entries, problems = parse_orders(body)
    if problems:
        return response(400, {"problems": problems, "request_id": request_id})
    try:
        for start in range(0, len(entries), 500):
            put_records(settings, entries[start : start + 500])
    except Exception:  # the client retries; exact duplicates collapse in silver
        log.exception(json.dumps({"request_id": request_id, "error": "could not put records"}))
        return response(503, {"message": "could not queue the order lines, try again", "request_id": request_id})
    return response(202, {"accepted": len(entries), "request_id": request_id})


def _path_param(event: dict, name: str) -> str | None:
    value = (event.get("pathParameters") or {}).get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def _read(event: dict, context: object, call: Callable[[], dict]) -> dict:
    request_id = _request_id(event, context)
    try:
        return call()
    except Exception:
        log.exception(json.dumps({"request_id": request_id, "error": "could not read"}))
        return response(503, {"message": "could not read the order data, try again", "request_id": request_id})


def _fitting(items: list[dict]) -> int:
    """How many of the leading items fit one answer (one at least; an item is at most 400 KB): each
    measured as JSON in JSON, every character ASCII-escaped, the most it can take."""
    size = 0
    for count, item in enumerate(items):
        size += len(json.dumps(json.dumps(item, default=_json_default)))
        if count and size > RESPONSE_BYTES:
            return count
    return len(items)


def _page(
    settings: Settings, table: str, keys: tuple[str, str], value: str, page: pages.Page
) -> tuple[list[dict], dict]:
    """The page's items, and {"next_token": ...} when the partition goes on (or the answer was full)."""
    items, last = dynamo.query_page(settings, table, keys, value, page.limit, page.start)
    kept = items[: _fitting(items)]
    if len(kept) < len(items):
        last = {name: kept[-1][name] for name in keys}
    return kept, ({"next_token": pages.token(last)} if last else {})


def get_customer_invoices(event: dict, context: object = None, settings: Settings | None = None) -> dict:
    settings = settings or settings_from_environment()
    asked = _path_param(event, "id")
    if asked is None:
        return response(400, {"problems": ["id: required"]})
    customer = contract.customer_id(asked)  # as the tables hold it: 17850.0 is 17850
    page, problems = pages.requested(event.get("queryStringParameters"), dynamo.CUSTOMERS_KEYS, customer)
    if page is None:
        return response(400, {"problems": problems})

    def read() -> dict:
        items, more = _page(settings, settings.customers_table, dynamo.CUSTOMERS_KEYS, customer, page)
        if not items and page.start is None:
            return response(404, {"message": f"no invoices for customer {customer}"})
        invoices = [
            {"InvoiceNo": i["InvoiceNo"], "InvoiceDate": i["InvoiceDate"], "Country": i["Country"]} for i in items
        ]
        return response(200, {"CustomerID": customer, "invoices": invoices, **more})

    return _read(event, context, read)


def get_invoice(event: dict, context: object = None, settings: Settings | None = None) -> dict:
    settings = settings or settings_from_environment()
    invoice = contract.code(_path_param(event, "invoice_no"))
    if invoice is None:
        return response(400, {"problems": ["invoice_no: required"]})
    page, problems = pages.requested(event.get("queryStringParameters"), dynamo.INVOICES_KEYS, invoice)
    if page is None:
        return response(400, {"problems": problems})

    def read() -> dict:
        items, more = _page(settings, settings.invoices_table, dynamo.INVOICES_KEYS, invoice, page)
        if not items and page.start is None:
            return response(404, {"message": f"invoice {invoice} not found"})
        answer = {"InvoiceNo": invoice, "lines": items, **more}
        if page.start is None and not more:  # the whole invoice: its total
            answer["total"] = str(sum((i["LineAmount"] for i in items), Decimal("0")))
        return response(200, answer)

    return _read(event, context, read)


__all__ = ["MAX_BODY_BYTES", "TOO_LARGE", "get_customer_invoices", "get_invoice", "post_orders", "response"]
