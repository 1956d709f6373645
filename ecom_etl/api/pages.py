"""Which page of a DynamoDB partition a GET asks for: `limit` items at most, from `next_token` on.

A token is DynamoDB's own LastEvaluatedKey (the key of the last item a page held), as URL-safe
base64 of its JSON: opaque to a client, and checked when it comes back, since it becomes the next
query's ExclusiveStartKey. Its keys must be the table's, its partition key the one asked for, and
its sort key one DynamoDB accepts, so a forged or cut token is a 400, not a failing query.
"""

from __future__ import annotations

import base64
import json
import re
from typing import NamedTuple

from ecom_etl.core.contract import DYNAMODB_SORT_KEY_BYTES

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
PARAMETERS = ("limit", "next_token")
MAX_TOKEN_CHARS = 32 * 1024  # the largest key (2 KB partition, 1 KB sort key), each byte escaped, fits
_LIMIT = re.compile(r"[0-9]{1,4}")
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


class Page(NamedTuple):
    limit: int
    start: dict[str, str] | None  # the key to start after; None for the first page


def token(key: dict[str, str]) -> str:
    """The next_token of a page that ended at `key`."""
    text = json.dumps(key, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii").rstrip("=")


def _start(text: str, keys: tuple[str, str], partition: str) -> dict[str, str] | None:
    """The key a token holds, if it is a key of this table and partition."""
    if len(text) > MAX_TOKEN_CHARS or not _TOKEN.fullmatch(text):
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not (isinstance(key, dict) and set(key) == set(keys) and all(isinstance(v, str) for v in key.values())):
            return None
        sort_bytes = len(key[keys[1]].encode("utf-8"))
    except ValueError:  # not base64, UTF-8 or JSON; a lone surrogate
        return None
    return key if key[keys[0]] == partition and 0 < sort_bytes <= DYNAMODB_SORT_KEY_BYTES else None


def requested(query: dict[str, str] | None, keys: tuple[str, str], partition: str) -> tuple[Page | None, list[str]]:
    """The page a GET's query string asks for (API Gateway's queryStringParameters), or its problems."""
    query = query or {}
    problems = [f"{name}: unknown query parameter" for name in query if name not in PARAMETERS]
    limit = query.get("limit", str(DEFAULT_LIMIT))
    if not (_LIMIT.fullmatch(limit) and 1 <= int(limit) <= MAX_LIMIT):
        problems.append(f"limit: must be a whole number from 1 to {MAX_LIMIT}")
    start = None
    if "next_token" in query:
        start = _start(query["next_token"], keys, partition)
        if start is None:
            problems.append("next_token: not a token of this list")
    return (None if problems else Page(int(limit), start)), problems
