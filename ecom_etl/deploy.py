"""`ecom-etl deploy`: build the wheel, upload it with the job scripts, and create or update the
stacks through change sets (`--destroy` deletes them).

Two stacks: NAME-artifacts (the bucket the code lives in) first, then NAME (the platform), whose
Lambda functions and Glue jobs point into that bucket.
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError, WaiterError

from ecom_etl import template
from ecom_etl.settings import Settings
from ecom_etl.errors import EtlInputError

# PEP 427: {distribution}-{version}(-{build})?-{python}-{abi}-{platform}.whl; Glue rejects other names.
WHEEL_NAME = re.compile(r"^[A-Za-z0-9_.]+-[0-9][A-Za-z0-9_.+!]*(-[0-9][A-Za-z0-9_.]*)?-py3-none-any\.whl$")
CAPABILITIES = ["CAPABILITY_IAM"]


@dataclass(frozen=True)
class StackResult:
    name: str
    status: str
    outputs: dict[str, str]


def build_wheel(out_dir: str) -> Path:
    """The package as a wheel (also the Lambda code: a wheel is a zip with the package at its root)."""
    shutil.rmtree(template.REPO_ROOT / "build", ignore_errors=True)  # no stale modules from a previous build
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", out_dir, str(template.REPO_ROOT)],
        capture_output=True, text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the wheel failed: {done.stderr.strip().splitlines()[-1:]}")
    (wheel,) = [Path(p) for p in glob.glob(os.path.join(out_dir, "*.whl"))]
    if not WHEEL_NAME.match(wheel.name):
        raise RuntimeError(f"{wheel.name} is not a PEP 427 wheel name; Glue would reject it")
    return wheel


def parse_parameters(items: list[str] | None) -> dict[str, str]:
    params = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise EtlInputError(f"--parameters: expected Key=Value, got {item!r}")
        params[key] = value
    return params


def _stack_status(cfn, stack: str) -> str | None:
    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def _wait(cfn, stack: str, progress, poll: float) -> str:
    """Wait until the stack settles, printing its events as they come."""
    seen: set[str] = set()
    first = True
    while True:
        status = _stack_status(cfn, stack)
        try:
            events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
        except ClientError:
            events = []
        for event in reversed(events):
            if event["EventId"] in seen:
                continue
            seen.add(event["EventId"])
            if not first or event["LogicalResourceId"] == stack:
                reason = f" ({event['ResourceStatusReason']})" if event.get("ResourceStatusReason") else ""
                progress(f"  {event['LogicalResourceId']:<32} {event['ResourceStatus']}{reason}")
        first = False
        if status is None or not status.endswith("_IN_PROGRESS"):
            return status or "DELETE_COMPLETE"
        time.sleep(poll)


def apply_stack(settings: Settings, stack: str, body: dict[str, str], parameters: dict[str, str], progress,
                poll: float) -> StackResult:
    """Create or update `stack` through a change set; `body` is {"TemplateBody": ...} or {"TemplateURL": ...}."""
    cfn = settings.client("cloudformation")
    status = _stack_status(cfn, stack)
    if status == "ROLLBACK_COMPLETE":  # a failed first create can only be deleted
        progress(f"{stack}: deleting the rolled-back stack first")
        cfn.delete_stack(StackName=stack)
        _wait(cfn, stack, progress, poll)
        status = None
    change_type = "UPDATE" if status else "CREATE"
    change_set = f"ecom-etl-{int(time.time())}"
    cfn.create_change_set(
        StackName=stack,
        ChangeSetName=change_set,
        ChangeSetType=change_type,
        **body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=CAPABILITIES,
    )
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=stack, ChangeSetName=change_set, WaiterConfig={"Delay": max(1, int(poll)), "MaxAttempts": 360}
        )
    except WaiterError:
        described = cfn.describe_change_set(StackName=stack, ChangeSetName=change_set)
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            cfn.delete_change_set(StackName=stack, ChangeSetName=change_set)
            progress(f"{stack}: no changes")
            return _result(cfn, stack)
        raise RuntimeError(f"change set of {stack} failed: {reason}") from None
    changes = cfn.describe_change_set(StackName=stack, ChangeSetName=change_set).get("Changes", [])
    progress(f"{stack}: {change_type.lower()} with {len(changes)} resource changes")
    cfn.execute_change_set(StackName=stack, ChangeSetName=change_set)
    final = _wait(cfn, stack, progress, poll)
    if final not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise RuntimeError(f"stack {stack} ended in {final}; see its events above")
    return _result(cfn, stack)


def _result(cfn, stack: str) -> StackResult:
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return StackResult(stack, described["StackStatus"], outputs)


def _physical_id(settings: Settings, stack: str, logical_id: str) -> str:
    described = settings.client("cloudformation").describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    return described["StackResourceDetail"]["PhysicalResourceId"]


def _template_url(settings: Settings, bucket: str, key: str) -> str:
    return f"https://{bucket}.s3.{settings.region}.amazonaws.com/{key}"


def deploy(settings: Settings, stack: str, parameters: dict[str, str], progress, poll: float = 5.0) -> StackResult:
    s3 = settings.client("s3")
    artifacts_stack = f"{stack}-artifacts"
    progress(f"{artifacts_stack}: the artifacts bucket")
    small_body = {"TemplateBody": template.ARTIFACTS_TEMPLATE.read_text(encoding="utf-8")}
    apply_stack(settings, artifacts_stack, small_body, {}, progress, poll)
    bucket = _physical_id(settings, artifacts_stack, "ArtifactsBucket")

    with tempfile.TemporaryDirectory() as out:
        progress("building the wheel ...")
        wheel = build_wheel(out)
        package_key = f"packages/{wheel.name}"
        s3.upload_file(str(wheel), bucket, package_key)
    for script in sorted((template.REPO_ROOT / "jobs").glob("*.py")):
        s3.upload_file(str(script), bucket, f"jobs/{script.name}")
    s3.upload_file(str(template.PLATFORM_TEMPLATE), bucket, "templates/platform.yaml")
    progress(f"uploaded {package_key}, jobs/*.py and templates/platform.yaml to s3://{bucket}/")

    params = {"ArtifactsBucket": bucket, "PackageKey": package_key, **parameters}
    # A TemplateBody may hold 51,200 bytes; the platform template is about that size: it goes by URL.
    big_body = {"TemplateURL": _template_url(settings, bucket, "templates/platform.yaml")}
    return apply_stack(settings, stack, big_body, params, progress, poll)


def _empty_bucket(settings: Settings, bucket: str) -> None:
    s3 = settings.client("s3")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})


def destroy(settings: Settings, stack: str, progress, poll: float = 5.0) -> list[str]:
    """Delete the platform stack, then empty and delete the artifacts stack. Returns what was kept:
    resources with DeletionPolicy Retain (the data) stay, and are named."""
    cfn = settings.client("cloudformation")
    kept = []
    if _stack_status(cfn, stack):
        resources = [r for r in cfn.describe_stack_resources(StackName=stack)["StackResources"]
                     if r.get("LogicalResourceId") and r.get("PhysicalResourceId")]
        tpl = template.load()
        retained = {name for name, r in tpl["Resources"].items() if r.get("DeletionPolicy") == "Retain"}
        kept = [f"{r['ResourceType']} {r['PhysicalResourceId']}" for r in resources if r["LogicalResourceId"] in retained]
        for r in resources:  # a bucket must be empty before CloudFormation can delete it
            if r["ResourceType"] == "AWS::S3::Bucket" and r["LogicalResourceId"] not in retained:
                _empty_bucket(settings, r["PhysicalResourceId"])
        progress(f"{stack}: deleting")
        cfn.delete_stack(StackName=stack)
        final = _wait(cfn, stack, progress, poll)
        if final != "DELETE_COMPLETE":
            raise RuntimeError(f"stack {stack} ended in {final}")
    artifacts_stack = f"{stack}-artifacts"
    if _stack_status(cfn, artifacts_stack):
        _empty_bucket(settings, _physical_id(settings, artifacts_stack, "ArtifactsBucket"))
        progress(f"{artifacts_stack}: deleting")
        cfn.delete_stack(StackName=artifacts_stack)
        _wait(cfn, artifacts_stack, progress, poll)
    return kept
