"""`ecom-etl deploy`: the stacks, created or updated through change sets (`--destroy` deletes them).

Two stacks: NAME-artifacts (the bucket the code lives in) first, then NAME (the platform), whose
Lambda functions and Glue jobs point at the code `artifacts.upload` put there. Errors are the
cloud's own message, in one line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from botocore.exceptions import ClientError, WaiterError
from botocore.parsers import ResponseParserError

from ecom_etl.errors import EtlError, EtlInputError
from ecom_etl.local import artifacts, checkout, template
from ecom_etl.progress import Progress
from ecom_etl.settings import Settings

CAPABILITIES = ["CAPABILITY_IAM"]
_CAUSE = re.compile(r"(\w+(?:Exception|Error)):? ([^\\'\"<]+)")
_JSON_CAUSE = re.compile(r'"__type": "(\w+)", "message": "([^"]*)"')


@dataclass(frozen=True)
class StackResult:
    name: str
    status: str
    outputs: dict[str, str]


def cloud_error(exc: Exception) -> EtlError:
    """The cloud's own reason for a failed call, in one line. An emulator that failed inside may
    answer with a page that is not XML: its exception is in that page."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return EtlError(f"{error.get('Code', 'Error')}: {error.get('Message', exc)}")
    found = (_JSON_CAUSE.findall(str(exc)) + _CAUSE.findall(str(exc))) if isinstance(exc, ResponseParserError) else []
    cause = next((f"{kind}: {text.strip()}" for kind, text in reversed(found) if kind != "ResponseParserError"), None)
    return EtlError(cause or str(exc).splitlines()[0])


def _cloud(call: Callable, *args, **kwargs):  # noqa: ANN202 - whatever the call returns
    try:
        return call(*args, **kwargs)
    except (ClientError, ResponseParserError) as exc:
        raise cloud_error(exc) from None


def _stack_status(cfn, stack: str) -> str | None:  # noqa: ANN001
    try:
        return cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def _wait(cfn, stack: str, progress: Progress, poll: float) -> str:  # noqa: ANN001
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


def _parameters(cfn, stack: str, given: dict[str, str], updating: bool) -> list[dict]:  # noqa: ANN001
    """The given parameters; on an update, every other parameter keeps its previous value."""
    out = [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()]
    if updating:
        previous = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Parameters", [])
        out += [
            {"ParameterKey": p["ParameterKey"], "UsePreviousValue": True}
            for p in previous
            if p["ParameterKey"] not in given
        ]
    return out


def apply_stack(
    settings: Settings, stack: str, body: dict[str, str], parameters: dict[str, str], progress: Progress, poll: float
) -> StackResult:
    """Create or update `stack` through a change set; `body` is {"TemplateBody": ...} or {"TemplateURL": ...}."""
    cfn = settings.client("cloudformation")
    status = _stack_status(cfn, stack)
    if status in ("ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS"):  # a failed first create can only be deleted
        progress(f"{stack}: deleting the stack a failed create left ({status}) first")
        cfn.delete_stack(StackName=stack)
        _wait(cfn, stack, progress, poll)
        status = None
    if status and _unchanged(cfn, stack, body, parameters):
        progress(f"{stack}: no changes")
        return _result(cfn, stack)
    change_type = "UPDATE" if status else "CREATE"
    change_set = f"ecom-etl-{int(time.time())}"
    _cloud(
        cfn.create_change_set,
        StackName=stack,
        ChangeSetName=change_set,
        ChangeSetType=change_type,
        **body,
        Parameters=_parameters(cfn, stack, parameters, bool(status)),
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
    changed = sorted(c["ResourceChange"]["LogicalResourceId"] for c in changes if "ResourceChange" in c)
    progress(f"{stack}: {change_type.lower()} with {len(changes)} resource changes: {', '.join(changed)}")
    try:
        _cloud(cfn.execute_change_set, StackName=stack, ChangeSetName=change_set)
    except EtlInputError as exc:
        raise EtlInputError(f"stack {stack} failed: {_failure(cfn, stack) or exc}") from None
    final = _wait(cfn, stack, progress, poll)
    if final not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        raise RuntimeError(f"stack {stack} ended in {final}; see its events above")
    return _result(cfn, stack)


def _unchanged(cfn, stack: str, body: dict[str, str], parameters: dict[str, str]) -> bool:  # noqa: ANN001
    """Whether the stack already runs this template with these parameters: nothing to review. (The
    platform's template is part of the digest in its CodePrefix parameter.)"""
    if "TemplateBody" in body and cfn.get_template(StackName=stack)["TemplateBody"] != body["TemplateBody"]:
        return False
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Parameters", [])
    values = {p["ParameterKey"]: p["ParameterValue"] for p in described}
    return all(values.get(k) == v for k, v in parameters.items())


def _failure(cfn, stack: str) -> str | None:  # noqa: ANN001
    """The reason of the stack's latest failed event, where the cloud recorded one."""
    try:
        events = cfn.describe_stack_events(StackName=stack)["StackEvents"]
    except (ClientError, ResponseParserError):
        return None
    failed = [e for e in events if e.get("ResourceStatus", "").endswith("FAILED") and e.get("ResourceStatusReason")]
    return f"{failed[0]['LogicalResourceId']}: {failed[0]['ResourceStatusReason']}" if failed else None


def _result(cfn, stack: str) -> StackResult:  # noqa: ANN001
    described = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return StackResult(stack, described["StackStatus"], outputs)


def _physical_id(settings: Settings, stack: str, logical_id: str) -> str:
    described = settings.client("cloudformation").describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    return described["StackResourceDetail"]["PhysicalResourceId"]


def _template_url(settings: Settings, bucket: str, key: str) -> str:
    return f"https://{bucket}.s3.{settings.region}.amazonaws.com/{key}"


def deploy(
    settings: Settings,
    stack: str,
    parameters: dict[str, str],
    progress: Progress,
    poll: float = 5.0,
    root: Path = checkout.ROOT,
) -> StackResult:
    artifacts_stack = f"{stack}-artifacts"
    progress(f"{artifacts_stack}: the artifacts bucket")
    small_body = {"TemplateBody": template.ARTIFACTS_TEMPLATE.read_text(encoding="utf-8")}
    apply_stack(settings, artifacts_stack, small_body, {}, progress, poll)
    code = artifacts.upload(settings, _physical_id(settings, artifacts_stack, "ArtifactsBucket"), root, progress)
    # A TemplateBody may hold 51,200 bytes; the platform template is about that size: it goes by URL.
    big_body = {"TemplateURL": _template_url(settings, code.bucket, code.template_key)}
    return apply_stack(settings, stack, big_body, {**code.parameters(), **parameters}, progress, poll)


def _empty_bucket(settings: Settings, bucket: str) -> None:
    s3 = settings.client("s3")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        objects = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})


def destroy(settings: Settings, stack: str, progress: Progress, poll: float = 5.0) -> list[str] | None:
    """Delete the platform stack, then empty and delete the artifacts stack. Returns what was kept
    (resources with DeletionPolicy Retain: the data and its key), or None when neither stack existed."""
    cfn = settings.client("cloudformation")
    kept: list[str] = []
    found = [s for s in (stack, f"{stack}-artifacts") if _stack_status(cfn, s)]
    if not found:
        return None
    if stack in found:
        try:  # a stack whose create failed in review holds no resources (and an emulator may refuse to list them)
            listed = cfn.describe_stack_resources(StackName=stack)["StackResources"]
        except (ClientError, ResponseParserError):
            listed = []
        resources = [r for r in listed if r.get("LogicalResourceId") and r.get("PhysicalResourceId")]
        tpl = template.load()
        retained = {name for name, r in tpl["Resources"].items() if r.get("DeletionPolicy") == "Retain"}
        kept = [
            f"{r['ResourceType']} {r['PhysicalResourceId']}" for r in resources if r["LogicalResourceId"] in retained
        ]
        for r in resources:  # a bucket must be empty before CloudFormation can delete it
            if r["ResourceType"] == "AWS::S3::Bucket" and r["LogicalResourceId"] not in retained:
                _empty_bucket(settings, r["PhysicalResourceId"])
        progress(f"{stack}: deleting")
        cfn.delete_stack(StackName=stack)
        final = _wait(cfn, stack, progress, poll)
        if final != "DELETE_COMPLETE":
            raise RuntimeError(f"stack {stack} ended in {final}")
    artifacts_stack = f"{stack}-artifacts"
    if artifacts_stack in found:
        _empty_bucket(settings, _physical_id(settings, artifacts_stack, "ArtifactsBucket"))
        progress(f"{artifacts_stack}: deleting")
        cfn.delete_stack(StackName=artifacts_stack)
        _wait(cfn, artifacts_stack, progress, poll)
    return kept
