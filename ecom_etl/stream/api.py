"""Lambda handlers of the order API (API Gateway proxy integration), also served locally.

POST /orders                      {"lines": [order line, ...]}  -> 202, lines on Kinesis
GET  /customers/{id}/invoices     the customer's invoices        -> 200 / 404
GET  /invoices/{invoice_no}       the invoice's lines            -> 200 / 404

Configuration from the environment: STREAM_NAME, CUSTOMERS_TABLE, INVOICES_TABLE.
"""

import base64
import json
import os
from decimal import Decimal, InvalidOperation

from ecom_etl.aws import Names, client
from ecom_etl.schema import RAW_COLUMNS
from ecom_etl.stream import dynamo
from ecom_etl.stream.wire import MAX_RECORDS_PER_CALL, line_to_record, partition_key, put_records

MAX_BODY_BYTES = 1024 * 1024
MAX_LINES = MAX_RECORDS_PER_CALL
REQUIRED_TEXT = ("InvoiceNo", "StockCode", "InvoiceDate")
OPTIONAL_TEXT = ("Description", "CustomerID", "Country")


# Environment variable -> the Names field it sets (the template's Lambda Environment has these).
ENVIRONMENT = {"STREAM_NAME": "stream", "CUSTOMERS_TABLE": "customers_table", "INVOICES_TABLE": "invoices_table"}


def names() -> Names:
    default = Names()
    return Names(**{field: os.environ.get(var, getattr(default, field)) for var, field in ENVIRONMENT.items()})


def use_names(chosen: Names) -> None:
    """Set the environment the handlers read, as the Lambda configuration does on AWS."""
    os.environ.update({var: getattr(chosen, field) for var, field in ENVIRONMENT.items()})


def response(status: int, body) -> dict:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, default=_json_default),
    }


def _json_default(value):
    """Counts as JSON numbers; money (anything with a fraction) as exact decimal strings."""
    if isinstance(value, Decimal):
        return int(value) if "." not in str(value) else str(value)
    raise TypeError(type(value).__name__)


def _text(value) -> str | None:
    """A JSON value as the raw string a CSV field would hold (numbers keep their written form)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("must be a string or a number")
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, str):
        return value
    raise ValueError("must be a string or a number")


def validate_line(index: int, line) -> tuple[dict | None, list[str]]:
    """A posted order line -> (raw strings by header name, problems)."""
    where = f"lines[{index}]"
    if not isinstance(line, dict):
        return None, [f"{where}: must be an object"]
    problems = [f"{where}.{name}: unknown field" for name in line if name not in RAW_COLUMNS]
    out: dict[str, str | None] = {}
    for name in RAW_COLUMNS:
        try:
            out[name] = _text(line.get(name))
        except ValueError as exc:
            problems.append(f"{where}.{name}: {exc}")
            continue
        value = (out[name] or "").strip()
        if name in REQUIRED_TEXT + ("Quantity", "UnitPrice") and not value:
            problems.append(f"{where}.{name}: required")
        elif name == "Quantity" and not value.lstrip("+-").isdigit():
            problems.append(f"{where}.Quantity: must be an integer")
        elif name == "UnitPrice":
            try:
                Decimal(value)
            except InvalidOperation:
                problems.append(f"{where}.UnitPrice: must be a decimal number")
    return out, problems


def parse_orders(event: dict) -> tuple[list[dict], list[str]]:
    """The request's order lines, or every problem found with it (nothing partial)."""
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    if len(raw) > MAX_BODY_BYTES:
        return [], [f"body: larger than the limit of {MAX_BODY_BYTES:,} bytes"]
    try:
        payload = json.loads(raw, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        return [], [f"body: not valid JSON ({exc})"]
    if not isinstance(payload, dict):
        return [], ['body: must be a JSON object {"lines": [...]}']
    lines = payload.get("lines")
    if not isinstance(lines, list) or not lines:
        return [], ["lines: must be a non-empty list of order lines"]
    if len(lines) > MAX_LINES:
        return [], [f"lines: {len(lines):,} lines, more than the limit of {MAX_LINES}"]
    parsed, problems = [], []
    for index, line in enumerate(lines):
        out, found = validate_line(index, line)
        parsed.append(out)
        problems += found
    return parsed, problems


def post_orders(event: dict, context=None) -> dict:
    lines, problems = parse_orders(event)
    if problems:
        return response(400, {"problems": problems})
    entries = [{"Data": line_to_record(line), "PartitionKey": partition_key(line)} for line in lines]
    try:
        put_records(names().stream, entries)
    except Exception as exc:  # the client retries; exact duplicates collapse in silver
        return response(503, {"message": f"could not queue the order lines: {exc}"})
    return response(202, {"accepted": len(entries)})


def _query(table: str, key: str, value: str) -> list[dict]:
    dynamodb = client("dynamodb")
    items, start = [], None
    while True:
        kwargs = {"TableName": table, "KeyConditionExpression": f"{key} = :v",
                  "ExpressionAttributeValues": {":v": {"S": value}}}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = dynamodb.query(**kwargs)
        items += [dynamo.to_python(i) for i in page["Items"]]
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def _path_param(event: dict, name: str) -> str | None:
    value = (event.get("pathParameters") or {}).get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


def get_customer_invoices(event: dict, context=None) -> dict:
    customer = _path_param(event, "id")
    if customer is None:
        return response(400, {"problems": ["id: required"]})
    items = _query(names().customers_table, "CustomerID", customer)
    if not items:
        return response(404, {"message": f"no invoices for customer {customer}"})
    invoices = [{"InvoiceNo": i["InvoiceNo"], "InvoiceDate": i["InvoiceDate"], "Country": i["Country"]} for i in items]
    return response(200, {"CustomerID": customer, "invoices": invoices})


def get_invoice(event: dict, context=None) -> dict:
    invoice = _path_param(event, "invoice_no")
    if invoice is None:
        return response(400, {"problems": ["invoice_no: required"]})
    items = _query(names().invoices_table, "InvoiceNo", invoice.upper())
    if not items:
        return response(404, {"message": f"invoice {invoice} not found"})
    total = sum((i["LineAmount"] for i in items), Decimal("0"))
    return response(200, {"InvoiceNo": invoice.upper(), "lines": items, "total": str(total)})
