"""The two DynamoDB tables the GET API reads, written idempotently from silver lines.

invoices:  InvoiceNo (S, partition) + LineKey (S, sort) = "<StockCode>#<12 hex of the line's hash>".
           The hash covers all eight cleaned fields, so two distinct lines of one stock code in one
           invoice get two items, and an exact duplicate maps onto the same item (as in silver).
           Items are whole and deterministic: batch puts, safe to repeat.
customers: CustomerID (S, partition; "unknown" for unknown customers) + InvoiceNo (S, sort), one item
           per invoice of a customer: InvoiceDate (the earliest line's time) and Country. An
           invoice's lines can arrive in several batches, so the item is a whole-item PutItem with a
           condition: it replaces an item only if it is earlier (or as early, with a smaller
           country). Replayed or reordered batches give the same item; two writers cannot undo
           each other.

Lines that break a DynamoDB limit never get here: the stream job quarantines them first
(contract.sink_problems, cleaning.dynamodb_rejects). boto3's resource layer converts the items.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from boto3.dynamodb.conditions import Attr
from boto3.dynamodb.types import TypeDeserializer

from ecom_etl.settings import Settings

# (partition key, sort key) of each table, all strings; the template's KeySchema must say the same.
CUSTOMERS_KEYS = ("CustomerID", "InvoiceNo")
INVOICES_KEYS = ("InvoiceNo", "LineKey")
WRITERS = 8  # calls in flight: DynamoDB answers in parallel, each call mostly waits on the network


def line_key(line: dict) -> str:
    """The invoice table's sort key: stock code plus a hash of the eight cleaned fields."""
    fields = (
        line["invoice_no"],
        line["stock_code"],
        line["description"],
        str(line["quantity"]),
        line["invoice_ts"].isoformat(sep=" "),
        f"{line['unit_price']:.3f}",
        line["customer_id"],
        line["country"],
    )
    digest = hashlib.sha256("\x1f".join(fields).encode("utf-8")).hexdigest()[:12]
    return f"{line['stock_code']}#{digest}"


def invoice_item(line: dict) -> dict:
    """A silver line (as a dict of Python values) -> its invoices-table item."""
    return {
        "InvoiceNo": line["invoice_no"],
        "LineKey": line_key(line),
        "StockCode": line["stock_code"],
        "Description": line["description"],
        "Quantity": Decimal(line["quantity"]),
        "UnitPrice": Decimal(line["unit_price"]),
        "LineAmount": Decimal(line["line_amount"]),
        "InvoiceDate": line["invoice_ts"].isoformat(sep=" "),
        "CustomerID": line["customer_id"],
        "Country": line["country"],
        "IsCancellation": bool(line["is_cancellation"]),
    }


def _in_parallel(call: Callable[[list], None], items: list, parts: int = WRITERS) -> None:
    """Run `call` on `parts` slices of `items` at once; each call makes its own Table object (resource
    objects are not thread-safe), all on one thread-safe client."""
    slices = [items[i::parts] for i in range(parts) if items[i::parts]]
    with ThreadPoolExecutor(max(1, len(slices))) as pool:
        for _ in pool.map(call, slices):  # re-raises the first failure
            pass


def put_invoices(settings: Settings, lines: Iterable[dict]) -> int:
    """Whole invoice items, batched by boto3's batch_writer (25 per call, unprocessed items sent
    again); the last of two items with one key wins, as a call may not hold both."""
    items = list({(i["InvoiceNo"], i["LineKey"]): i for i in map(invoice_item, lines)}.values())
    dynamodb = settings.resource("dynamodb")

    def put(part: list[dict]) -> None:
        table = dynamodb.Table(settings.invoices_table)
        with table.batch_writer(overwrite_by_pkeys=list(INVOICES_KEYS)) as writer:
            for item in part:
                writer.put_item(Item=item)

    _in_parallel(put, items)
    return len(items)


def customer_invoices(lines: Iterable[dict]) -> dict[tuple[str, str], tuple[str, str]]:
    """(customer, invoice) -> (earliest time, its country), from silver lines."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for line in lines:
        key = (line["customer_id"], line["invoice_no"])
        candidate = (line["invoice_ts"].isoformat(sep=" "), line["country"])
        if key not in found or candidate < found[key]:
            found[key] = candidate
    return found


def put_customers(settings: Settings, lines: Iterable[dict]) -> int:
    """One customers item per (customer, invoice) of `lines`: the earliest line wins in any order
    (a tie on time is settled by country); returns how many were offered."""
    entries = list(customer_invoices(lines).items())
    dynamodb = settings.resource("dynamodb")

    def put(part: list) -> None:
        table = dynamodb.Table(settings.customers_table)
        for (customer, invoice), (ts, country) in part:
            earlier = (
                Attr("InvoiceDate").not_exists()
                | Attr("InvoiceDate").gt(ts)
                | (Attr("InvoiceDate").eq(ts) & Attr("Country").gt(country))
            )
            try:
                table.put_item(
                    Item={"CustomerID": customer, "InvoiceNo": invoice, "InvoiceDate": ts, "Country": country},
                    ConditionExpression=earlier,
                )
            except table.meta.client.exceptions.ConditionalCheckFailedException:
                pass  # the stored item is as early already

    _in_parallel(put, entries)
    return len(entries)


def write_lines(settings: Settings, lines: list[dict]) -> tuple[int, int]:
    """Both tables from one group of silver lines; returns (invoice items, customer items)."""
    return put_invoices(settings, lines), put_customers(settings, lines)


def query_page(
    settings: Settings, table: str, keys: tuple[str, str], value: str, limit: int, start: dict[str, str] | None = None
) -> tuple[list[dict], dict[str, str] | None]:
    """One page of the items under a partition key, in sort-key order, as plain values (numbers as
    Decimal): at most `limit` items and DynamoDB's 1 MB, after the key `start`. Also the key the next
    page starts after (DynamoDB's LastEvaluatedKey), None when the partition has no more."""
    request = {
        "TableName": table,
        "KeyConditionExpression": "#k = :v",
        "ExpressionAttributeNames": {"#k": keys[0]},
        "ExpressionAttributeValues": {":v": {"S": value}},
        "Limit": limit,
    }
    if start:
        request["ExclusiveStartKey"] = {name: {"S": start[name]} for name in keys}
    page = settings.client("dynamodb").query(**request)
    deserialize = TypeDeserializer().deserialize
    items = [{k: deserialize(v) for k, v in item.items()} for item in page["Items"]]
    last = page.get("LastEvaluatedKey")
    return items, ({name: last[name]["S"] for name in keys} if last else None)
