"""The errors a user should see (one line each), and the translation of known Spark failures into them."""

from __future__ import annotations

import re


class EtlError(Exception):
    """A failure the CLI reports in one line, without a trace."""


class EtlInputError(EtlError):
    """Bad input or configuration: the run's caller must change something (exit 2)."""


class EtlWriteError(EtlError):
    """The lake (or its catalog) refused a write: the input was fine, the run can be repeated once
    the destination is (exit 1)."""


# An EtlInputError raised in a Spark task (a file the JVM's reader or a Python worker cannot read)
# reaches the driver inside Spark's error text.
_FROM_TASK = re.compile(r"EtlInputError: (.+)")
_URI = re.compile(r"\b(?:s3a?|file):/+[^\s'\"`]+")
_NOT_FOUND = re.compile(r"Path does not exist: (\S+?)\.?(?:\s|$)")
_NO_BUCKET = re.compile(r"NoSuchBucket|The specified bucket does not exist")
_DENIED = re.compile(r"AccessDenied|Permission denied|403 Forbidden")


def explain(exc: BaseException, reading: str = "", writing: str = "") -> EtlError | None:
    """An EtlInputError for a Spark failure caused by the input, an EtlWriteError for one caused by the
    lake, a plain EtlError for a known failure (a missing bucket, a refused access) of neither, None
    for anything else. `reading` and `writing` (the input path and the lake's root) tell a failed
    read from a failed write when the error names the file."""
    text = str(exc)
    task = _FROM_TASK.search(text)
    if task:
        return EtlInputError(task.group(1).strip())
    missing = _NOT_FOUND.search(text)
    if missing:
        return EtlInputError(f"input path does not exist {missing.group(1)}")
    uri = next((u.rstrip(".,;:)") for u in _URI.findall(text)), "")
    if _NO_BUCKET.search(text):
        if writing and _under(uri, writing):
            return EtlWriteError(f"no such bucket for the lake: {uri}")
        if reading and _under(uri, reading):
            return EtlInputError(f"no such bucket for the input: {uri}")
        return EtlError(f"no such bucket {uri}".strip())
    if _DENIED.search(text):
        if writing and _under(uri, writing):
            return EtlWriteError(f"access denied writing the lake: {uri}")
        if reading and _under(uri, reading):
            return EtlInputError(f"access denied reading the input: {uri}")
        return EtlError(f"access denied: {uri or first_line(text)}")
    return None


def _under(uri: str, root: str) -> bool:
    """Whether `uri` is `root` or in it, whatever the S3 scheme (s3 or s3a) and file: form."""

    def plain(u: str) -> str:
        return re.sub(r"^(s3a?://|file:/+)", lambda m: "s3://" if m.group(1).startswith("s3") else "/", u).rstrip("/")

    base = plain(re.split(r"[*?\[]", root)[0])
    return bool(uri) and plain(uri).startswith(base)


def first_line(message: str) -> str:
    """The first non-blank line of a (Java) error message."""
    return next((line.strip() for line in message.splitlines() if line.strip()), message)
