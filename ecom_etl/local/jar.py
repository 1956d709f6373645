"""Building the project's jar from the checkout's java/ with the JDK (`ecom-etl setup-spark`).

It is compiled against the installed Spark and the jars a Spark start resolves; the jar records the
digest of the sources it was built from, so a current jar is not built again.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

from ecom_etl.local.checkout import JAVA
from ecom_etl.runtime import packages
from ecom_etl.runtime.jvm import JAR


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


def build_jar() -> str:
    """Compile the project's Java classes once the jars they are built against are in the Ivy cache
    (a Spark start resolves them); nothing to do when the jar is current."""
    from ecom_etl.runtime.session import local_session

    if is_built():
        return f"{JAR} is current"
    local_session(app_name="ecom-etl setup").stop()
    resolved = glob.glob(os.path.join(os.path.expanduser(packages.ivy_cache()), "jars", "*.jar"))
    return f"built {build(packages.hadoop_jars() + sorted(resolved))}"
