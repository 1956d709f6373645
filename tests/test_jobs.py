"""jobs/: Glue argument conventions, and the template's batch job under a real spark-submit."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "jobs"))

from ecom_etl.runtime.session import on_glue  # noqa: E402
from glue_runtime import resolve_args  # noqa: E402


@pytest.mark.one_stack
def test_glue_style_arguments_with_optionals_and_glue_extras():
    argv = [
        "batch_etl.py",
        "--JOB_NAME",
        "local",
        "--input_path=s3://raw/x",
        "--warehouse_path",
        "/wh",
        "--job-bookmark-option",
        "job-bookmark-disable",
        "--TempDir",
        "s3://tmp",
    ]
    args = resolve_args(argv, ["JOB_NAME", "input_path", "warehouse_path"], {"database": "ecom"})
    assert args == {"JOB_NAME": "local", "input_path": "s3://raw/x", "warehouse_path": "/wh", "database": "ecom"}


@pytest.mark.one_stack
def test_on_glue_the_real_getResolvedOptions_resolves_required_and_optional(monkeypatch):
    pytest.importorskip("awsglue.utils", reason="the glue extra (awsgluedataplanepython) is not installed")
    monkeypatch.setenv("ECOM_ETL_RUNTIME", "glue")
    argv = [
        "batch_etl.py",
        "--JOB_ID",
        "j_1",
        "--JOB_RUN_ID",
        "jr_1",
        "--JOB_NAME",
        "ecom-etl-batch",
        "--input_path",
        "s3://raw/",
        "--warehouse_path",
        "s3://lake/",
        "--summary_path=s3://x/s.json",
    ]
    args = resolve_args(argv, ["JOB_NAME", "input_path", "warehouse_path"], {"database": "ecom", "summary_path": ""})
    assert (args["JOB_NAME"], args["input_path"], args["database"], args["summary_path"]) == (
        "ecom-etl-batch",
        "s3://raw/",
        "ecom",
        "s3://x/s.json",
    )


@pytest.mark.one_stack
def test_a_missing_required_argument_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        resolve_args(["batch_etl.py", "--JOB_NAME", "x"], ["JOB_NAME", "input_path"], {})
    assert exit_info.value.code == 2 and "--input_path" in capsys.readouterr().err


@pytest.mark.one_stack
def test_glue_is_recognised_from_the_run_arguments_not_from_imports(monkeypatch):
    monkeypatch.delenv("ECOM_ETL_RUNTIME", raising=False)
    assert on_glue(["x.py", "--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--JOB_NAME", "n"])
    assert not on_glue(["x.py", "--JOB_NAME", "local"])
    monkeypatch.setenv("ECOM_ETL_RUNTIME", "local")
    assert not on_glue(["x.py", "--JOB_RUN_ID", "jr_1"])


def start_job_run(aws, *arguments: str) -> subprocess.CompletedProcess:
    """`ecom-etl local start-job-run` of the template's batch job: spark-submit with its DefaultArguments,
    resolved with the platform's stack on the emulator (its s3:// lake)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "ecom_etl.cli",
            "local",
            "start-job-run",
            "--job-name",
            "batch",
            "--endpoint-url",
            aws.endpoint_url,
            f"--arguments={','.join(arguments)}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )


@pytest.mark.slow
def test_the_templates_batch_job_run_locally_writes_the_same_tables_as_the_library(spark, platform, generated, loaded):
    """The template's job (spark-submit, its DefaultArguments, its s3:// lake) writes what the library writes."""
    aws = platform
    from ecom_etl.lake.layout import Lake
    from tests.test_pipeline import assert_same_lake

    summary, lake = loaded
    done = start_job_run(aws, f"--input_path={generated}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "spark-submit" in done.stderr and "batch_etl.py --JOB_NAME ecom-batch" in done.stderr
    # The template's --warehouse_path and --summary_path: s3://<the stack's lake bucket>/..., on the emulator.
    body = aws.client("s3").get_object(Bucket="ecom-lake", Key="runs/batch-summary.json")["Body"].read()
    written = json.loads(body)
    counts = (written["raw_rows"], written["silver_rows"], written["reconciles"])
    assert counts == (summary.raw_rows, summary.silver_rows, True)
    assert_same_lake(spark, Lake("s3://ecom-lake/lake"), lake)


@pytest.mark.slow
def test_the_batch_job_with_bad_input_exits_with_one_line(platform, tmp_path):
    """Under spark-submit, as on Glue, a bad input is one line and exit 2, not a Java trace."""
    aws = platform
    done = start_job_run(aws, f"--input_path={tmp_path / 'nope'}")
    assert done.returncode == 2
    # spark-submit's PythonRunner merges the script's stderr into its stdout.
    errors = [line for line in (done.stdout + done.stderr).splitlines() if "error" in line.lower()]
    assert errors == [f"batch_etl.py: error: input path does not exist: {tmp_path / 'nope'}"]
    assert "Traceback" not in done.stdout + done.stderr
