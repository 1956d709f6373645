"""Files on a local path or an s3:// URI, through one interface: listing input, small text objects
(run summaries, checkpoint logs), the first bytes of a file. Spark reads the data itself; this is
what the driver needs around it. S3 goes through boto3 with the run's Settings (the emulator too).
"""

from __future__ import annotations

import glob
import io
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urlparse

from ecom_etl.errors import EtlInputError
from ecom_etl.settings import Settings


@dataclass(frozen=True)
class FileInfo:
    """One file: its URI as Spark reads it, its size, and a version that changes when its content
    does (modification time locally, the ETag on S3)."""

    uri: str
    size: int
    version: str


def is_s3(uri: str) -> bool:
    return urlparse(uri).scheme in ("s3", "s3a")


def s3_parts(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def local_path(uri: str) -> str | None:
    """The filesystem path behind a local path or file:// URI; None for S3."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return parsed.path
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a plain path (or a drive letter)
        return uri
    return None


def absolute(uri: str) -> str:
    """A local path made absolute (Spark and Delta resolve relative paths against other roots)."""
    path = local_path(uri)
    return os.path.abspath(path) if path is not None else uri.rstrip("/")


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.split("/") if part)


def _glob_regex(pattern: str) -> re.Pattern:
    """A Hadoop-style glob (`*` and `?` stay within one path segment) as a regular expression."""
    out = "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else c if c in "[]" else re.escape(c) for c in pattern)
    return re.compile(out + "$")


class _Body(io.RawIOBase):
    """An S3 object's body as a raw stream, so that io's buffered readers (and gzip) can read it."""

    def __init__(self, body: Any) -> None:
        self.body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.body.close()
        super().close()


class Storage:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._s3 = None

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = self.settings.client("s3")
        return self._s3

    # ------------------------------------------------------------------------------- listing
    def list_files(self, uri: str) -> list[FileInfo]:
        """Every file a path means: itself, every non-hidden file under a directory (at any depth),
        or the matches of a glob. Sorted by URI; empty when nothing is there."""
        if is_s3(uri):
            return self._list_s3(uri)
        path = local_path(uri)
        assert path is not None
        matches = sorted(glob.glob(path)) if glob.has_magic(path) else [path] if os.path.exists(path) else []
        files: list[str] = []
        for match in matches:
            if os.path.isdir(match):
                for root, dirs, names in os.walk(match):
                    dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
                    files += [os.path.join(root, n) for n in sorted(names) if not n.startswith((".", "_"))]
            elif os.path.isfile(match):
                files.append(match)
        infos = []
        for file in sorted(set(files)):
            try:
                stat = os.stat(file)
            except OSError as exc:  # a broken link, a loop of links
                raise EtlInputError(f"cannot read input file {file}: {exc.strerror}") from None
            infos.append(FileInfo(os.path.abspath(file), stat.st_size, str(stat.st_mtime_ns)))
        return infos

    def _list_s3(self, uri: str) -> list[FileInfo]:
        bucket, key = s3_parts(uri)
        wildcard = re.search(r"[*?\[]", key)
        prefix = key[: wildcard.start()] if wildcard else key
        matcher = _glob_regex(key) if wildcard else None
        found = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                name = obj["Key"]
                if name.endswith("/"):
                    continue
                if not self._selected(name, key, matcher):
                    continue
                found.append(FileInfo(f"s3://{bucket}/{name}", obj["Size"], obj["ETag"].strip('"')))
        return sorted(found, key=lambda f: f.uri)

    @staticmethod
    def _selected(name: str, key: str, matcher: re.Pattern | None) -> bool:
        """Whether object `name` is the file `key` means, or a non-hidden file under it."""
        if matcher is not None:
            head = "/".join(name.split("/")[: key.count("/") + 1])
            return bool(matcher.match(head)) and not _hidden(name[len(head) :])
        base = key.rstrip("/")
        if name == key:
            return True
        if base and not name.startswith(base + "/"):
            return False
        return not _hidden(name[len(base) :])

    def check_writable(self, uri: str) -> None:
        """A local directory that a run can write (made if missing), checked by writing and removing
        a file in it: a file in its place, a read-only disk or a missing permission is named in one
        line before Spark writes anything. On S3, the first write tells."""
        path = local_path(uri)
        if path is None:
            return
        if os.path.exists(path) and not os.path.isdir(path):
            raise EtlInputError(f"the warehouse {uri} is a file, not a directory")
        try:
            os.makedirs(path, exist_ok=True)
            probe = os.path.join(path, f".ecom-etl-probe-{uuid.uuid4().hex}")  # a run's own: runs may share a process
            with open(probe, "w"):
                pass
            os.remove(probe)
        except OSError as exc:
            raise EtlInputError(f"the warehouse {uri} cannot be written: {exc.strerror}") from None  # a bad --warehouse

    def exists(self, uri: str) -> bool:
        if is_s3(uri):
            bucket, key = s3_parts(uri)
            return bool(self.s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("KeyCount"))
        path = local_path(uri)
        return path is not None and os.path.exists(path)

    # ------------------------------------------------------------------------------- content
    def head(self, uri: str, size: int) -> bytes:
        if is_s3(uri):
            bucket, key = s3_parts(uri)
            return self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{size - 1}")["Body"].read()
        with open(local_path(uri) or uri, "rb") as fh:
            return fh.read(size)

    def open(self, uri: str) -> BinaryIO:
        """A file's bytes as a stream, read as they are asked for."""
        if is_s3(uri):
            bucket, key = s3_parts(uri)
            return io.BufferedReader(_Body(self.s3.get_object(Bucket=bucket, Key=key)["Body"]), 1 << 20)
        return open(local_path(uri) or uri, "rb")

    def read_text(self, uri: str) -> str | None:
        """A small text object, or None when it does not exist."""
        if is_s3(uri):
            bucket, key = s3_parts(uri)
            try:
                return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
            except self.s3.exceptions.NoSuchKey:
                return None
        path = local_path(uri) or uri
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8") as fh:
            return fh.read()

    def write_text(self, uri: str, text: str) -> None:
        """Write a small text object whole (a local file is replaced atomically)."""
        if is_s3(uri):
            bucket, key = s3_parts(uri)
            self.s3.put_object(Bucket=bucket, Key=key, Body=text.encode("utf-8"))
            return
        path = local_path(uri) or uri
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def upload_deliveries(self, folder: str, raw: str) -> list[str]:
        """Each file of a local folder as a raw object under the s3:// prefix `raw`, in a folder
        `ingest_date=<file name without .csv>/` of its own, as the raw bucket holds deliveries."""
        bucket, prefix = s3_parts(raw.rstrip("/") + "/")
        keys = []
        for name in sorted(os.listdir(folder)):
            keys.append(f"{prefix}ingest_date={name.split('.')[0]}/{name}")
            self.s3.upload_file(os.path.join(folder, name), bucket, keys[-1])
        return keys

    def delete_tree(self, uri: str) -> None:
        """Remove a directory or prefix and everything under it (nothing when absent)."""
        if is_s3(uri):
            bucket, key = s3_parts(uri)
            prefix = key.rstrip("/") + "/"
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if objects:
                    self.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
            return
        shutil.rmtree(local_path(uri) or uri, ignore_errors=True)

    def names(self, uri: str) -> list[str]:
        """The names directly under a directory or prefix, sorted."""
        if is_s3(uri):
            bucket, key = s3_parts(uri)
            prefix = key.rstrip("/") + "/"
            out: set[str] = set()
            for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
                out |= {o["Key"][len(prefix) :] for o in page.get("Contents", [])}
                out |= {p["Prefix"][len(prefix) :].rstrip("/") for p in page.get("CommonPrefixes", [])}
            return sorted(out)
        path = local_path(uri) or uri
        return sorted(os.listdir(path)) if os.path.isdir(path) else []
