"""The project's own Java classes (java/): one jar, built by `ecom-etl setup-spark` with the JDK.

It holds the batch job's CSV reader (`ecom.csv.OrderLinesSource`) and Delta's multi-writer log store
for S3 tables (`ecom.delta.DynamoDBLogStore`). It is compiled against the installed Spark and the
jars a Spark start resolves, and ships in the wheel (Glue gets it through `--extra-jars`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

JAVA = Path(__file__).resolve().parent.parent / "java"
JAR = Path(__file__).resolve().parent / "jars" / "ecom-etl.jar"


def sources() -> list[Path]:
    return sorted(JAVA.rglob("*.java"))


def source_digest() -> str:
    digest = hashlib.sha256()
    for path in sources():
        digest.update(str(path.relative_to(JAVA)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def is_built() -> bool:
    """The jar exists and was compiled from the current sources."""
    if not JAR.is_file():
        return False
    with zipfile.ZipFile(JAR) as jar:
        return source_digest() in jar.read("META-INF/MANIFEST.MF").decode()


def conf() -> dict[str, str]:
    """The jar on Spark's class path (nothing when it is not built: no S3 log store, no CSV reader)."""
    return {"spark.jars": str(JAR)} if JAR.is_file() else {}


def build(classpath: list[str]) -> Path:
    """Compile java/ against `classpath` (Spark's jars, Delta's, the AWS SDK's) into JAR."""
    if shutil.which("javac") is None:
        raise RuntimeError("javac not found: the project's Java classes need a JDK 17 to build")
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run(
            ["javac", "--release", "17", "-d", out, "-cp", os.pathsep.join(classpath), *map(str, sources())],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"javac failed:\n{result.stderr[-4000:]}")
        JAR.parent.mkdir(exist_ok=True)
        with zipfile.ZipFile(JAR, "w", zipfile.ZIP_DEFLATED) as jar:
            jar.writestr("META-INF/MANIFEST.MF", f"Manifest-Version: 1.0\nEcom-Source-SHA256: {source_digest()}\n")
            for root, _, files in os.walk(out):
                for name in files:
                    path = os.path.join(root, name)
                    jar.write(path, os.path.relpath(path, out))
    return JAR
