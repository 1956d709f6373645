"""The one error type a user should see, and the translation of known Spark failures into it."""

import re


class EtlInputError(Exception):
    """Bad input or configuration; the CLI prints the message on one line and exits non-zero."""


_FILE = re.compile(r"(?:CSV file:|reading file) (\S+?)\.?(?:\s|$)")
_KNOWN = (
    (re.compile(r"(?:CSV header does not conform|Number of column in CSV header)"), "unexpected CSV header in the input"),
    (re.compile(r"(?:Path does not exist|PATH_NOT_FOUND\]?)[: ]*(\S+)?"), "input path does not exist"),
    (re.compile(r"(?:AccessDenied|Permission denied|403 Forbidden)"), "access denied reading the input"),
    (re.compile(r"MalformedInputException|CharacterCodingException"), "input file is not valid text"),
)


def explain(exc: BaseException) -> EtlInputError | None:
    """An EtlInputError for a Spark failure caused by bad input, None for anything else."""
    text = str(exc)
    for pattern, message in _KNOWN:
        found = pattern.search(text)
        if found:
            where = found.group(1) if found.groups() and found.group(1) else ""
            file = _FILE.search(text)
            return EtlInputError(f"{message} {where or (file.group(1) if file else '')}".strip())
    return None
