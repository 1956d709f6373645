"""The code a deployment runs, built and uploaded under a content-addressed prefix.

Everything goes under `builds/<version>-<digest of the sources>/`: the wheel (the Glue jobs'
package and the Lambda functions' code), the job scripts, the Delta log store's jar and the
platform template. CloudFormation sees a changed key whenever the code changed, so the Lambda
functions and Glue jobs are updated; an unchanged checkout gives the same keys, and "no changes".
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ecom_etl.local import checkout
from ecom_etl.progress import Progress
from ecom_etl.settings import Settings

# PEP 427: {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl; Glue rejects other names.
WHEEL_NAME = re.compile(r"^[A-Za-z0-9_.]+-[0-9][A-Za-z0-9_.+!]*(-[0-9][A-Za-z0-9_.]*)?-py3-none-any\.whl$")
SOURCES = (
    "ecom_etl/**/*.py",
    "ecom_etl/*.properties",
    "jobs/*.py",
    "java/**/*.java",
    "setup.cfg",
    "pyproject.toml",
    "infra/cloudformation/platform.yaml",
)
JAR_IN_CHECKOUT = "ecom_etl/jars/ecom-etl.jar"


@dataclass(frozen=True)
class Uploaded:
    """Where a deployment's code is: the template parameters that point at it."""

    bucket: str
    prefix: str
    package_key: str

    @property
    def template_key(self) -> str:
        return f"{self.prefix}/platform.yaml"

    def parameters(self) -> dict[str, str]:
        return {"ArtifactsBucket": self.bucket, "CodePrefix": self.prefix, "PackageKey": self.package_key}


# Tooling of a laptop: never run by a Glue job or a Lambda function, so not in the wheel they get.
LOCAL_ONLY = ("local", "report", "cli")


def source_digest(root: Path) -> str:
    """A digest of every source file the deployment is built from (paths and contents): a change to
    the laptop's tooling alone deploys nothing."""
    digest = hashlib.sha256()
    local_only = [root / "ecom_etl" / name for name in LOCAL_ONLY]
    found = {p for pattern in SOURCES for p in root.glob(pattern) if p.is_file()}
    for path in sorted(p for p in found if not any(p.is_relative_to(d) for d in local_only)):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def build_wheel(root: Path, out_dir: str) -> Path:
    """The package as Glue and Lambda run it, as a wheel (also the Lambda code: a wheel is a zip with
    the package at its root): every wing but LOCAL_ONLY, and no `ecom-etl` command. Built from a
    copy of the sources with the virtualenv's own setuptools, so it works offline once installed."""
    with tempfile.TemporaryDirectory() as src:
        package = root / "ecom_etl"
        shutil.copytree(
            package,
            Path(src) / "ecom_etl",
            ignore=lambda folder, names: [
                n for n in names if n == "__pycache__" or (Path(folder) == package and n in LOCAL_ONLY)
            ],
        )
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(root / name, src)
        setup = (root / "setup.cfg").read_text(encoding="utf-8")
        (Path(src) / "setup.cfg").write_text(re.sub(r"\n\[options\.entry_points\][^[]*", "\n", setup))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "--wheel-dir",
                out_dir,
                src,
            ],
            capture_output=True,
            text=True,
        )
    if done.returncode != 0:
        raise RuntimeError(f"building the wheel failed: {done.stderr.strip().splitlines()[-1:]}")
    (wheel,) = Path(out_dir).glob("*.whl")
    if not WHEEL_NAME.match(wheel.name):
        raise RuntimeError(f"{wheel.name} is not a PEP 427 wheel name; Glue would reject it")
    return wheel


def upload(settings: Settings, bucket: str, root: Path = checkout.ROOT, progress: Progress = print) -> Uploaded:
    """Build and upload the code under its content-addressed prefix (skipped when it is there)."""
    s3 = settings.client("s3")
    version = re.search(r"^version = (\S+)$", (root / "setup.cfg").read_text(), re.M).group(1)
    prefix = f"builds/{version}-{source_digest(root)}"
    existing = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix + "/").get("Contents", [])}
    wheels = [k for k in existing if k.endswith(".whl")]
    if wheels and f"{prefix}/platform.yaml" in existing:
        progress(f"code already uploaded under s3://{bucket}/{prefix}/")
        return Uploaded(bucket, prefix, wheels[0])
    with tempfile.TemporaryDirectory() as out:
        progress("building the wheel ...")
        wheel = build_wheel(root, out)
        package_key = f"{prefix}/{wheel.name}"
        s3.upload_file(str(wheel), bucket, package_key)
    for script in sorted((root / "jobs").glob("*.py")):
        s3.upload_file(str(script), bucket, f"{prefix}/jobs/{script.name}")
    if (root / JAR_IN_CHECKOUT).is_file():
        s3.upload_file(str(root / JAR_IN_CHECKOUT), bucket, f"{prefix}/jars/{Path(JAR_IN_CHECKOUT).name}")
    s3.upload_file(str(root / "infra" / "cloudformation" / "platform.yaml"), bucket, f"{prefix}/platform.yaml")
    progress(f"uploaded the wheel, jobs/*.py, the log store's jar and the template to s3://{bucket}/{prefix}/")
    return Uploaded(bucket, prefix, package_key)
