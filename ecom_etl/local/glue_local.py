"""`ecom-etl local start-job-run`: a Glue job of the template, run with spark-submit against the emulator.

The job's script, Spark settings and DefaultArguments come from infra/cloudformation/platform.yaml,
resolved with the stack the emulator holds (`ecom-etl local up` deploys it): the same s3:// paths,
tables and names as on AWS, on the emulator's S3, so a local run and a deployed run cannot drift.
Only the code is this checkout's: the script and --extra-py-files from jobs/, the Delta log
store's jar from ecom_etl/jars/ (deployed, they are the same files under builds/<digest>/).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field

from ecom_etl.errors import EtlInputError
from ecom_etl.local import checkout, template
from ecom_etl.progress import Progress
from ecom_etl.runtime import jvm
from ecom_etl.settings import Settings, child_environment

# Arguments Glue itself acts on. Locally their work is already done: Delta is configured by
# `ecom-etl setup-spark`, the package is installed in the virtualenv, metrics and logs are Glue's.
GLUE_ONLY = (
    "--job-language",
    "--datalake-formats",
    "--additional-python-modules",
    "--enable-glue-datacatalog",
    "--enable-metrics",
    "--enable-continuous-cloudwatch-log",
    "--enable-job-insights",
    "--TempDir",
    "--job-bookmark-option",
    "--enable-spark-ui",
    "--spark-event-logs-path",
)
CODE_DIRS = {"jobs": checkout.JOBS, "jars": jvm.JAR.parent}


@dataclass(frozen=True)
class LocalRun:
    job_name: str
    script: str
    spark_conf: list[str]
    py_files: list[str]
    arguments: dict[str, str]  # the job's own arguments, --JOB_NAME first
    ignored: list[str]
    jars: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        cmd = ["spark-submit"]
        for conf in self.spark_conf:
            cmd += ["--conf", conf]
        if self.py_files:
            cmd += ["--py-files", ",".join(self.py_files)]
        if self.jars:
            cmd += ["--jars", ",".join(self.jars)]
        cmd.append(self.script)
        for key, value in self.arguments.items():
            cmd += [key, value]
        return cmd


def parse_arguments(text: str | None) -> dict[str, str]:
    """Run arguments as the AWS CLI takes them: JSON ('{"--input_path": "..."}') or the
    shorthand '--input_path=...,--database=...'."""
    if not text:
        return {}
    if text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EtlInputError(f"--arguments is not valid JSON: {exc.msg}") from None
        if not isinstance(parsed, dict):
            raise EtlInputError("--arguments must be a JSON object of '--name': 'value'")
        pairs = [(str(k), str(v)) for k, v in parsed.items()]
    else:
        pairs = []
        for item in text.split(","):
            key, sep, value = item.partition("=")
            if not sep:
                raise EtlInputError(f"--arguments: expected --name=value, got {item!r}")
            pairs.append((key.strip(), value))
    for key, _ in pairs:
        if not key.startswith("--"):
            raise EtlInputError(f"--arguments: argument names start with --, got {key!r}")
    return dict(pairs)


def stack_refs(settings: Settings, stack: str) -> dict[str, str]:
    """Values for every Ref of the template: the deployed stack's parameters and physical ids."""
    cfn = settings.client("cloudformation")
    try:
        (described,) = cfn.describe_stacks(StackName=stack)["Stacks"]
    except cfn.exceptions.ClientError:
        raise EtlInputError(
            f"no stack {stack!r} at {settings.endpoint_url or 'AWS'}: start the emulator with the "
            "platform first (`ecom-etl local up`)"
        ) from None
    refs = {p["ParameterKey"]: p.get("ResolvedValue", p["ParameterValue"]) for p in described.get("Parameters", [])}
    pages = cfn.get_paginator("list_stack_resources").paginate(StackName=stack)
    for resource in (r for page in pages for r in page["StackResourceSummaries"]):
        refs[resource["LogicalResourceId"]] = resource.get("PhysicalResourceId", "")
        refs[f"{resource['LogicalResourceId']}.Arn"] = resource.get("PhysicalResourceId", "")
    account = settings.client("sts").get_caller_identity()["Account"]
    return {
        **refs,
        "AWS::StackName": stack,
        "AWS::Region": settings.region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
    }


def code_path(value: str, artifacts: str) -> str:
    """A location in the artifacts bucket (`s3://BUCKET/builds/<digest>/jobs/x.py`) as this
    checkout's file; anything else unchanged."""
    prefix = f"s3://{artifacts}/"
    if not value.startswith(prefix):
        return value
    kind, _, name = value[len(prefix) :].split("/", 2)[-1].partition("/")
    if kind not in CODE_DIRS:
        raise EtlInputError(f"{value}: no local copy of this artifact")
    return str(CODE_DIRS[kind] / name)


def plan(settings: Settings, stack: str, job_name: str, overrides: dict[str, str]) -> LocalRun:
    tpl = template.load()
    logical_id, job = template.glue_job(tpl, job_name)
    refs = stack_refs(settings, stack)
    resolve = template.Resolver(refs)
    props = job["Properties"]
    if props["Command"]["Name"] != "glueetl":
        raise EtlInputError(
            f"{logical_id} is a {props['Command']['Name']} job; only glueetl jobs run locally "
            "(the streaming job runs locally as `ecom-etl stream`)"
        )
    artifacts = refs["ArtifactsBucket"]
    merged = {**{k: str(v) for k, v in resolve(props.get("DefaultArguments", {})).items()}, **overrides}
    conf = [c.strip() for c in merged.pop("--conf", "").split("--conf") if c.strip()]
    py_files = [code_path(p, artifacts) for p in merged.pop("--extra-py-files", "").split(",") if p]
    jars = [code_path(p, artifacts) for p in merged.pop("--extra-jars", "").split(",") if p]
    ignored = [k for k in merged if k in GLUE_ONLY]
    arguments = {"--JOB_NAME": resolve(props["Name"])}
    arguments.update({k: v for k, v in merged.items() if k not in GLUE_ONLY})
    script = code_path(resolve(props["Command"]["ScriptLocation"]), artifacts)
    if not os.path.isfile(script):
        raise EtlInputError(f"the job's script {script} does not exist")
    return LocalRun(arguments["--JOB_NAME"], script, conf, py_files, arguments, ignored, jars)


def start_job_run(settings: Settings, stack: str, job_name: str, overrides: dict[str, str], progress: Progress) -> int:
    run = plan(settings, stack, job_name, overrides)
    progress(f"running Glue job {run.job_name} of stack {stack} locally, against {settings.endpoint_url}")
    if run.ignored:
        progress(f"Glue-only arguments (done by the local setup instead): {', '.join(run.ignored)}")
    progress("$ " + " ".join(run.command()))
    env = child_environment(sys.executable)
    env["AWS_ENDPOINT_URL"] = settings.endpoint_url or ""
    return subprocess.run(run.command(), env=env).returncode
