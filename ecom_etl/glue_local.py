"""`ecom-etl local start-job-run`: a Glue job of the template, run locally with spark-submit.

The job's script, Spark settings and DefaultArguments come from infra/cloudformation/platform.yaml,
so a local run and a deployed run use the same arguments. S3 locations are mapped to a local
directory: s3://<ArtifactsBucket>/jobs/... is this checkout's jobs/, any other bucket is
S3_ROOT/<its logical id>/.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ecom_etl import template
from ecom_etl.errors import EtlInputError
from ecom_etl.settings import Settings, child_environment

ARTIFACTS = "ArtifactsBucket"
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


@dataclass(frozen=True)
class LocalRun:
    job_name: str
    script: str
    spark_conf: list[str]
    py_files: list[str]
    arguments: dict[str, str]  # the job's own arguments, --JOB_NAME first
    ignored: list[str]

    def command(self) -> list[str]:
        cmd = ["spark-submit"]
        for conf in self.spark_conf:
            cmd += ["--conf", conf]
        if self.py_files:
            cmd += ["--py-files", ",".join(self.py_files)]
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


def _local_refs(tpl: dict) -> dict[str, str]:
    """Local values for every Ref/GetAtt: buckets by logical id, other resources by a local name."""
    refs = {
        **template.parameter_defaults(tpl),
        "AWS::StackName": "local",
        "AWS::Region": Settings.from_environment().region,
        "AWS::AccountId": "000000000000",
        "AWS::Partition": "aws",
        ARTIFACTS: ARTIFACTS,
        "PackageKey": "packages/ecom_etl-local-py3-none-any.whl",
    }
    for logical_id, resource in tpl["Resources"].items():
        refs[logical_id] = logical_id if resource["Type"] == "AWS::S3::Bucket" else f"local-{logical_id}"
        refs[f"{logical_id}.Arn"] = f"arn:aws:local:::{logical_id}"
    return refs


def local_path(value: str, s3_root: Path) -> str:
    """An s3:// location of the template as its local stand-in; anything else unchanged."""
    if not value.startswith("s3://"):
        return value
    bucket, _, key = value[len("s3://") :].partition("/")
    base = template.REPO_ROOT if bucket == ARTIFACTS else s3_root / bucket
    local = str(base / key) if key else str(base)
    return local + "/" if key.endswith("/") else local


def plan(job_name: str, overrides: dict[str, str], s3_root: Path) -> LocalRun:
    tpl = template.load()
    logical_id, job = template.glue_job(tpl, job_name)
    resolve = template.Resolver(_local_refs(tpl))
    props = job["Properties"]
    if props["Command"]["Name"] != "glueetl":
        raise EtlInputError(
            f"{logical_id} is a {props['Command']['Name']} job; only glueetl jobs run locally "
            "(the streaming job runs locally as `ecom-etl stream`)"
        )
    defaults = {k: str(v) for k, v in resolve(props.get("DefaultArguments", {})).items()}
    merged = {**defaults, **overrides}
    conf = [c.strip() for c in merged.pop("--conf", "").split("--conf") if c.strip()]
    py_files = [local_path(p, s3_root) for p in merged.pop("--extra-py-files", "").split(",") if p]
    ignored = [k for k in merged if k in GLUE_ONLY]
    arguments = {"--JOB_NAME": resolve(props["Name"])}
    arguments.update({k: local_path(v, s3_root) for k, v in merged.items() if k not in GLUE_ONLY})
    script = local_path(resolve(props["Command"]["ScriptLocation"]), s3_root)
    if not os.path.isfile(script):
        raise EtlInputError(f"the job's script {script} does not exist")
    return LocalRun(arguments["--JOB_NAME"], script, conf, py_files, arguments, ignored)


def start_job_run(job_name: str, overrides: dict[str, str], s3_root: Path, progress) -> int:
    run = plan(job_name, overrides, s3_root.resolve())
    progress(f"running Glue job {run.job_name} locally; S3 buckets are mapped under {s3_root}/")
    if run.ignored:
        progress(f"Glue-only arguments (done by the local setup instead): {', '.join(run.ignored)}")
    progress("$ " + " ".join(run.command()))
    return subprocess.run(run.command(), env=child_environment(sys.executable)).returncode
