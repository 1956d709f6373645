"""The one error type a user should see, and the translation of known Spark failures into it."""

from __future__ import annotations

import re


class EtlInputError(Exception):
    """Bad input or configuration; the CLI prints the message on one line and exits non-zero."""


# An EtlInputError raised in a Spark worker (a file's header, read by csv_records) reaches the
# driver inside Spark's error text.
_FROM_WORKER = re.compile(r"EtlInputError: (.+)")
_FILE = re.compile(r"(?:CSV file:|reading file) (\S+?)\.?(?:\s|$)")
_KNOWN = (
    (re.compile(r"Path does not exist: (\S+?)\.?(?:\s|$)"), "input path does not exist"),
    (re.compile(r"(?:AccessDenied|Permission denied|403 Forbidden)"), "access denied reading the input"),
    (re.compile(r"(?:NoSuchBucket|The specified bucket does not exist)"), "no such bucket"),
)


def explain(exc: BaseException) -> EtlInputError | None:
    """An EtlInputError for a Spark failure caused by bad input, None for anything else."""
    text = str(exc)
    worker = _FROM_WORKER.search(text)
    if worker:
        return EtlInputError(worker.group(1).strip())
    for pattern, message in _KNOWN:
        found = pattern.search(text)
        if found:
            where = found.group(1) if found.groups() and found.group(1) else ""
            file = _FILE.search(text)
            return EtlInputError(f"{message} {where or (file.group(1) if file else '')}".strip())
    return None


def first_line(message: str) -> str:
    """The first non-blank line of a (Java) error message."""
    return next((line.strip() for line in message.splitlines() if line.strip()), message)
