"""The one error type a user should see, and the translation of known Spark failures into it."""

import re


class EtlInputError(Exception):
    """Bad input or configuration; the CLI prints the message on one line and exits non-zero."""


_HEADER = re.compile(r"CSV header does not conform to the schema\.(.*?)CSV file: (\S+)", re.S)
_EXPECTED = re.compile(r"Expected: (.*?) but found: (.*?)\s*$", re.M)
_KNOWN = (
    (re.compile(r"(?:Path does not exist|PATH_NOT_FOUND\]?)[: ]*(\S+)?"), "input path does not exist"),
    (re.compile(r"(?:AccessDenied|Permission denied|403 Forbidden)"), "access denied reading the input"),
    (re.compile(r"MalformedInputException|CharacterCodingException"), "input file is not valid text"),
)


def explain(exc: BaseException) -> EtlInputError | None:
    """An EtlInputError for a Spark failure caused by bad input, None for anything else."""
    text = str(exc)
    header = _HEADER.search(text)
    if header:
        detail = _EXPECTED.search(header.group(1))
        what = f"expected column {detail.group(1)} but found {detail.group(2)}" if detail else "wrong columns"
        return EtlInputError(f"{header.group(2)}: unexpected CSV header ({what})")
    for pattern, message in _KNOWN:
        found = pattern.search(text)
        if found:
            where = found.group(1) if found.groups() and found.group(1) else ""
            return EtlInputError(f"{message} {where}".strip())
    return None
