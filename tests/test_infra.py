"""infra/cloudformation: the template agrees with the code, deploys to the emulator, and its Athena
queries give the gold tables' numbers."""

import email.parser
import fnmatch
import importlib
import io
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
from chispa import assert_df_equality
from packaging.specifiers import SpecifierSet

from ecom_etl import settings
from ecom_etl.api import pages
from ecom_etl.api.server import ROUTES
from ecom_etl.lake import catalog, sources
from ecom_etl.lake.layout import Lake
from ecom_etl.local import artifacts, checkout, template
from ecom_etl.local.glue_local import GLUE_ONLY
from ecom_etl.runtime import delta_log_store, jvm
from ecom_etl.runtime.session import SESSION_CONF
from ecom_etl.stream import dynamo
from ecom_etl.stream.drivers import GlueDriver

ROOT = str(checkout.ROOT)
sys.path.insert(0, os.path.join(ROOT, "jobs"))

TPL = template.load()
RESOURCES = TPL["Resources"]
# Where a deployment's code is (ecom_etl/local/artifacts.py), and this checkout's copy of each kind.
CODE = "s3://${ArtifactsBucket}/${CodePrefix}/"
CHECKOUT = {"jobs": os.path.join(ROOT, "jobs"), "jars": str(jvm.JAR.parent)}
LAKE_JOBS = ("BatchJob", "StreamJob", "GoldJob", "MaintenanceJob")  # every job that commits to the lake


def props(type_: str) -> dict[str, dict]:
    return {name: r["Properties"] for name, r in template.resources(TPL, type_).items()}


def text(value) -> str:
    """A template value with its intrinsics shown as ${Name}, for comparing paths."""
    return template.Resolver({k: "${" + k + "}" for k in _all_refs()})(value)


def _all_refs() -> list[str]:
    names = list(TPL["Parameters"]) + ["AWS::StackName", "AWS::Region", "AWS::AccountId", "AWS::Partition"]
    return names + list(RESOURCES) + [f"{r}.Arn" for r in RESOURCES]


def refs_in(value) -> set[str]:
    """The resources and parameters a template value refers to (Ref, GetAtt, ${...} in Sub)."""
    if isinstance(value, list):
        return set().union(*map(refs_in, value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if set(value) == {"Ref"}:
        return {value["Ref"]}
    if set(value) == {"Fn::GetAtt"}:
        return {value["Fn::GetAtt"][0]}
    if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
        return {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", value["Fn::Sub"])}
    return set().union(*map(refs_in, value.values())) if value else set()


def checkout_file(location: str) -> str:
    """A code location of the template (s3://${ArtifactsBucket}/${CodePrefix}/jobs/x.py) as this checkout's file."""
    assert location.startswith(CODE), f"{location} is not under the build's prefix {CODE}"
    kind, _, name = location.removeprefix(CODE).partition("/")
    return os.path.join(CHECKOUT[kind], name)


def statements(role: str) -> list[dict]:
    policies = RESOURCES[role]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def grants(role: str) -> dict[str, set[str]]:
    """Resource (as text) -> the actions the role allows on it."""
    out: dict[str, set[str]] = {}
    for statement in statements(role):
        for resource in listed(text(statement["Resource"])):
            out.setdefault(resource, set()).update(listed(statement["Action"]))
    return out


def job_role(job: str) -> str:
    (role,) = refs_in(RESOURCES[job]["Properties"]["Role"])
    return role


def spark_conf(job: dict) -> dict[str, str]:
    """A job's --conf as Glue (and ecom_etl/local/glue_local.py) reads it: `A=B --conf C=D ...`."""
    parts = [c.strip() for c in text(job["DefaultArguments"]["--conf"]).split("--conf") if c.strip()]
    return dict(part.split("=", 1) for part in parts)


@pytest.mark.one_stack
@pytest.mark.parametrize("logical_id", sorted(props("AWS::Glue::Job")))
def test_every_glue_job_runs_a_script_of_jobs_with_the_arguments_it_declares(logical_id):
    job = props("AWS::Glue::Job")[logical_id]
    script = checkout_file(text(job["Command"]["ScriptLocation"]))
    assert os.path.isfile(script) and os.path.dirname(script) == CHECKOUT["jobs"]
    module = importlib.import_module(os.path.basename(script).removesuffix(".py"))
    declared = set(module.REQUIRED) | set(module.OPTIONAL)
    arguments = {k.removeprefix("--") for k in job["DefaultArguments"] if k not in GLUE_ONLY}
    arguments -= {"conf", "extra-py-files", "extra-jars"}
    assert arguments <= declared, f"arguments the job does not read: {arguments - declared}"
    assert set(module.REQUIRED) - {"JOB_NAME"} <= arguments, "a required argument has no default in the template"
    for extra in text(job["DefaultArguments"]["--extra-py-files"]).split(","):
        assert os.path.isfile(checkout_file(extra))
    assert job["DefaultArguments"]["--datalake-formats"] == "delta"
    assert text(job["DefaultArguments"]["--additional-python-modules"]) == "s3://${ArtifactsBucket}/${PackageKey}"


@pytest.mark.one_stack
def test_the_code_is_read_from_the_content_addressed_build_the_deploy_uploads():
    params = TPL["Parameters"]
    assert set(artifacts.Uploaded("bucket", "builds/x", "key").parameters()) <= set(params)
    version = re.search(r"^version = (\S+)$", Path(ROOT, "setup.cfg").read_text(), re.M).group(1)
    prefix = f"builds/{version}-{artifacts.source_digest(Path(ROOT))}"  # as artifacts.upload names it
    assert re.fullmatch(params["CodePrefix"]["AllowedPattern"], prefix)
    assert re.fullmatch(params["PackageKey"]["AllowedPattern"], f"{prefix}/ecom_etl-{version}-py3-none-any.whl")
    for old in (
        f"packages/ecom_etl-{version}-py3-none-any.whl",
        f"builds/{version}/ecom_etl-{version}-py3-none-any.whl",
    ):
        assert not re.fullmatch(params["PackageKey"]["AllowedPattern"], old)
    assert not re.fullmatch(params["CodePrefix"]["AllowedPattern"], f"builds/{version}")

    for name, job in props("AWS::Glue::Job").items():
        arguments = job["DefaultArguments"]
        for location in [job["Command"]["ScriptLocation"], arguments["--extra-py-files"], arguments["--extra-jars"]]:
            assert text(location).startswith(CODE), (name, text(location))
        assert text(arguments["--additional-python-modules"]) == "s3://${ArtifactsBucket}/${PackageKey}"
        # The job's role reads its own build, and nothing else of the artifacts bucket.
        code = {r: a for r, a in grants(job_role(name)).items() if "${ArtifactsBucket}" in r}
        assert code == {"arn:${AWS::Partition}:s3:::${ArtifactsBucket}/${CodePrefix}/*": {"s3:GetObject"}}, name
    for function in props("AWS::Lambda::Function").values():
        assert text(function["Code"]) == {"S3Bucket": "${ArtifactsBucket}", "S3Key": "${PackageKey}"}


@pytest.mark.one_stack
@pytest.mark.parametrize(
    ("bucket", "parameter", "local_name"),
    [("RawBucket", "RawBucketName", "ecom-raw"), ("LakeBucket", "LakeBucketName", "ecom-lake")],
)
def test_the_raw_and_lake_buckets_take_a_given_name_or_none(bucket, parameter, local_name):
    declared = TPL["Parameters"][parameter]
    assert declared["Default"] == "" and re.fullmatch(declared["AllowedPattern"], "")
    assert re.fullmatch(declared["AllowedPattern"], local_name)  # the local emulator's names
    condition, given, absent = RESOURCES[bucket]["Properties"]["BucketName"]["Fn::If"]
    assert (given, absent) == ({"Ref": parameter}, {"Ref": "AWS::NoValue"})
    assert TPL["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}


@pytest.mark.one_stack
def test_every_key_that_encrypts_retained_data_is_retained_too():
    """Deleting the stack keeps the raw and lake data; scheduling its key's deletion would make it unreadable."""
    keys = set(template.resources(TPL, "AWS::KMS::Key"))
    retained = {name for name, r in RESOURCES.items() if r.get("DeletionPolicy") == "Retain"}
    assert {"RawBucket", "LakeBucket"} <= retained
    protecting = set()
    for name in retained:
        resource = RESOURCES[name]
        assert resource.get("UpdateReplacePolicy") == "Retain", name
        if resource["Type"] == "AWS::S3::Bucket":
            for rule in resource["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]:
                key = rule["ServerSideEncryptionByDefault"].get("KMSMasterKeyID")
                assert key is None or refs_in(key) <= keys, (name, key)
        protecting |= refs_in(resource.get("Properties", {})) & keys
    assert protecting == {"DataKey"}
    for key in protecting:
        assert RESOURCES[key].get("DeletionPolicy") == RESOURCES[key].get("UpdateReplacePolicy") == "Retain", key


@pytest.mark.one_stack
def test_the_delta_log_table_has_the_log_stores_keys_and_every_lake_job_commits_through_it():
    table = RESOURCES["DeltaLogTable"]["Properties"]
    assert tuple(k["AttributeName"] for k in table["KeySchema"]) == delta_log_store.KEYS
    assert [k["KeyType"] for k in table["KeySchema"]] == ["HASH", "RANGE"]
    assert table["TimeToLiveSpecification"] == {"AttributeName": delta_log_store.TTL_ATTRIBUTE, "Enabled": True}
    # The code's default name is the table of stack `ecom`, like the other tables' names.
    assert text(table["TableName"]).replace("${AWS::StackName}", "ecom") == settings.Settings().delta_log_table

    # What the jobs' Spark gets is what the local session gets (ecom_etl/runtime/delta_log_store.conf), jar aside.
    jar = f"{CODE}jars/{jvm.JAR.name}"
    assert artifacts.JAR_IN_CHECKOUT.endswith(jvm.JAR.name) and jvm.JAR.is_file()
    wanted = delta_log_store.conf(settings.Settings(delta_log_table="${DeltaLogTable}", region="${AWS::Region}"))
    assert wanted["spark.delta.logStore.s3.impl"] == wanted["spark.delta.logStore.s3a.impl"] == delta_log_store.CLASS
    assert wanted["spark.hadoop.ecom.delta.log.table"] == "${DeltaLogTable}"
    # The calls the log store makes (its Java source) are exactly what the jobs' roles allow on the table.
    java = (checkout.JAVA / "ecom" / "delta" / "DynamoDBLogStore.java").read_text(encoding="utf-8")
    calls = {f"dynamodb:{c[0].upper()}{c[1:]}" for c in re.findall(r"\bdynamo\.(\w+)\(", java)}
    assert calls == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"}
    jobs = props("AWS::Glue::Job")
    assert {n for n, j in jobs.items() if "--warehouse_path" in j["DefaultArguments"]} == set(LAKE_JOBS)
    for name in LAKE_JOBS:
        assert spark_conf(jobs[name]).items() >= wanted.items(), name
        assert text(jobs[name]["DefaultArguments"]["--extra-jars"]) == jar
        assert grants(job_role(name))["${DeltaLogTable.Arn}"] == calls, name


@pytest.mark.one_stack
def test_every_lake_job_starts_spark_with_the_session_settings_every_runtime_applies():
    """The time zone, the date parser and Parquet's timestamp type hold from the job's first write."""
    jobs = props("AWS::Glue::Job")
    for name in LAKE_JOBS:
        assert spark_conf(jobs[name]).items() >= SESSION_CONF.items(), name


@pytest.mark.one_stack
def test_the_archive_writes_one_record_per_line_gzipped_where_the_batch_job_reads():
    (archive,) = props("AWS::KinesisFirehose::DeliveryStream").values()
    s3 = archive["ExtendedS3DestinationConfiguration"]
    processing = s3["ProcessingConfiguration"]
    assert processing["Enabled"] is True
    assert [p["Type"] for p in processing["Processors"]] == ["AppendDelimiterToRecord"]
    assert s3["CompressionFormat"] == "GZIP"
    assert s3["FileExtension"] in sources.ARCHIVE_SUFFIXES and s3["FileExtension"].endswith(".gz")
    assert s3["Prefix"] == "stream/ingest_date=!{timestamp:yyyy-MM-dd}/"
    # An object as Firehose names it (stream name, version, time, id, then the extension).
    key = "stream/ingest_date=2026-11-30/ecom-archive-1-2026-11-30-12-00-00-0f1e2d3c" + s3["FileExtension"]
    assert sources.is_archive(f"s3://raw/{key}")


@pytest.mark.slow
def test_there_is_no_crawler_and_the_jobs_roles_can_register_the_tables(spark, loaded, aws, monkeypatch):
    """The catalog calls a real batch run makes are the ones the jobs' roles allow."""
    assert not template.resources(TPL, "AWS::Glue::Crawler")
    assert not [n for n, r in RESOURCES.items() if "Crawl" in n or "CrawlerName" in str(r)]
    assert catalog.DELTA_PARAMETERS["table_type"] == "DELTA"  # native Delta tables for Athena

    # The calls catalog.register_tables makes, creating then updating (recorded against the emulator).
    made = set()
    real_client = settings.Settings.client
    clients = []

    def recorded(self, service: str):
        client = real_client(self, service)  # the process's client: its recorder goes after the test
        client.meta.events.register("before-call", lambda model, **_: made.add(f"{service}:{model.name}"), "role")
        clients.append(client)
        return client

    monkeypatch.setattr(settings.Settings, "client", recorded)
    _, lake = loaded
    for _ in range(2):
        assert catalog.register_tables(spark, aws, "role_check", lake)
    for client in clients:
        client.meta.events.unregister("before-call", unique_id="role")
    assert {"glue:GetDatabase", "glue:CreateDatabase", "glue:CreateTable", "glue:UpdateTable"} <= made

    arn = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:"
    register = {"glue:GetDatabase", "glue:CreateDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable"}
    assert made <= register
    jobs = props("AWS::Glue::Job")
    for name in ("BatchJob", "StreamJob", "GoldJob"):
        granted = grants(job_role(name))
        for resource in (f"{arn}catalog", f"{arn}database/${{DatabaseName}}", f"{arn}table/${{DatabaseName}}/*"):
            assert granted[resource] == register, (name, resource)
        assert text(jobs[name]["DefaultArguments"].get("--database", "${DatabaseName}")) == "${DatabaseName}"
    assert not [r for r in grants(job_role("MaintenanceJob")) if r.startswith(arn)]
    # One lake: every job that writes it (and registers its tables) has the same warehouse.
    assert {text(jobs[name]["DefaultArguments"]["--warehouse_path"]) for name in LAKE_JOBS} == {
        "s3://${LakeBucket}/lake"
    }


@pytest.mark.one_stack
def test_redshift_reads_the_gold_tables_through_the_stacks_spectrum_database():
    sql = Path(ROOT, "infra", "redshift", "load_gold.sql").read_text(encoding="utf-8")
    assert "CREATE EXTERNAL DATABASE" not in sql.upper()
    (database,) = re.findall(r"FROM DATA CATALOG DATABASE '([^']+)'", sql)
    database = database.replace("<DatabaseName>", "${DatabaseName}")
    spectrum = RESOURCES["SpectrumDatabase"]
    assert spectrum["Type"] == "AWS::Glue::Database" and spectrum["Condition"] == "WithRedshift"
    assert text(spectrum["Properties"]["DatabaseInput"]["Name"]) == database

    role = RESOURCES["RedshiftSpectrumRole"]
    assert role["Condition"] == "WithRedshift"
    arn = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:"
    granted = {r.replace("${SpectrumDatabase}", database): a for r, a in grants("RedshiftSpectrumRole").items()}
    wanted = {
        "glue:GetDatabase",
        "glue:GetTable",
        "glue:GetTables",
        "glue:CreateTable",
        "glue:UpdateTable",
        "glue:DeleteTable",
        "glue:GetPartitions",
    }
    for resource in (f"{arn}database/{database}", f"{arn}table/{database}/*"):
        assert granted[resource] == wanted, resource
    assert {r for r in granted if r.startswith(arn)} == {
        f"{arn}catalog",
        f"{arn}database/{database}",
        f"{arn}table/{database}/*",
    }
    assert not any("glue:CreateDatabase" in a for a in granted.values())

    # Each external table reads a gold table's manifest, which lists that table's data files.
    reads = [r for r, a in granted.items() if "s3:GetObject" in a]
    gold = {name: path for name, path in Lake("s3://<LakeBucket>/lake").tables().items() if "/gold/" in path}
    locations = dict(re.findall(r"CREATE EXTERNAL TABLE lake_gold\.(\w+) .*?LOCATION '([^']+)'", sql, re.S))
    assert locations and set(locations) <= set(gold)
    for name, location in locations.items():
        assert location == f"{gold[name]}/_symlink_format_manifest/"
        for key in (location + "manifest", f"{gold[name]}/part-00000.snappy.parquet"):
            resource = key.replace("s3://<LakeBucket>", "${LakeBucket.Arn}")
            assert any(fnmatch.fnmatchcase(resource, r) for r in reads), resource


@pytest.mark.one_stack
def test_the_glue_version_parameter_offers_5_1_by_default_and_6_0():
    version = TPL["Parameters"]["GlueVersion"]
    assert (version["Default"], version["AllowedValues"]) == ("5.1", ["5.1", "6.0"])
    assert all(text(job["GlueVersion"]) == "${GlueVersion}" for job in props("AWS::Glue::Job").values())


@pytest.mark.one_stack
def test_the_gold_and_maintenance_jobs_run_on_their_schedules_and_the_stream_job_refreshes_gold():
    import gold_etl
    import maintain_etl
    import stream_etl

    params, jobs = TPL["Parameters"], props("AWS::Glue::Job")
    assert set(jobs) == {"BatchJob", "StreamJob", "GoldJob", "MaintenanceJob"}
    scheduled = {
        text(t["Actions"][0]["JobName"]): text(t["Schedule"])
        for t in props("AWS::Glue::Trigger").values()
        if t["Type"] == "SCHEDULED"
    }
    assert scheduled == {
        "${BatchJob}": "${BatchScheduleExpression}",
        "${GoldJob}": "${GoldScheduleExpression}",
        "${MaintenanceJob}": "${MaintenanceScheduleExpression}",
    }
    assert params["GoldScheduleExpression"]["Default"] == "cron(0/30 * * * ? *)"
    assert params["MaintenanceScheduleExpression"]["Default"] == "cron(0 4 ? * SUN *)"
    for name, module in (("GoldJob", gold_etl), ("MaintenanceJob", maintain_etl)):
        job = jobs[name]
        assert job["Command"]["Name"] == "glueetl"
        assert os.path.basename(text(job["Command"]["ScriptLocation"])) == os.path.basename(module.__file__)
    assert text(jobs["GoldJob"]["DefaultArguments"]["--database"]) == "${DatabaseName}"
    assert jobs["MaintenanceJob"]["DefaultArguments"]["--retention_hours"] == maintain_etl.OPTIONAL["retention_hours"]
    assert maintain_etl.OPTIONAL["retention_hours"] == "168"
    stream = jobs["StreamJob"]
    assert text(stream["MaintenanceWindow"]) == "${StreamMaintenanceWindow}"
    assert params["StreamMaintenanceWindow"]["Default"] == "Sun:3"
    assert re.fullmatch(params["StreamMaintenanceWindow"]["AllowedPattern"], "Sun:3")
    assert stream["DefaultArguments"]["--gold_every_seconds"] == stream_etl.OPTIONAL["gold_every_seconds"] == "300"
    # One role per job, one security configuration for all.
    assert len({job_role(name) for name in jobs}) == len(jobs)
    assert {text(j["SecurityConfiguration"]) for j in jobs.values()} == {"${GlueSecurity}"}
    # Least privilege: the gold and maintenance jobs touch the lake, the log table, the key, their logs and metrics.
    for name in ("GoldJob", "MaintenanceJob"):
        actions = {a for s in statements(job_role(name)) for a in listed(s["Action"])}
        services = {a.split(":")[0] for a in actions}
        assert services <= {"s3", "dynamodb", "kms", "logs", "cloudwatch", "glue"}, name
        buckets = {r for r in grants(job_role(name)) if "Bucket" in r}
        assert buckets == {
            "arn:${AWS::Partition}:s3:::${ArtifactsBucket}/${CodePrefix}/*",
            "${LakeBucket.Arn}",
            "${LakeBucket.Arn}/lake/*",
        }, name


@pytest.mark.one_stack
def test_every_alarm_goes_to_the_alarm_topic_and_the_alarms_cover_the_platform():
    alarms = props("AWS::CloudWatch::Alarm")
    measured: dict[tuple[str, str], list[dict[str, str]]] = {}
    for name, alarm in alarms.items():
        assert text(alarm["AlarmActions"]) == ["${AlarmTopic}"], name
        stats = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
        metrics = [alarm] if "MetricName" in alarm else stats
        for metric in metrics:
            dimensions = {d["Name"]: text(d["Value"]) for d in metric.get("Dimensions", [])}
            measured.setdefault((metric["Namespace"], metric["MetricName"]), []).append(dimensions)
    functions = [{"FunctionName": "${" + f + "}"} for f in sorted(props("AWS::Lambda::Function"))]
    stage = props("AWS::ApiGateway::Stage")["ApiStage"]
    assert stage["StageName"] == "v1"
    wanted = {
        ("AWS/Lambda", "Errors"): functions,
        ("AWS/Lambda", "Throttles"): functions,
        ("AWS/ApiGateway", "5XXError"): [
            {"ApiName": text(RESOURCES["OrderApi"]["Properties"]["Name"]), "Stage": "${ApiStage}"}
        ],
        ("AWS/Firehose", "DeliveryToS3.DataFreshness"): [{"DeliveryStreamName": "${RawArchive}"}],
        ("AWS/Kinesis", "WriteProvisionedThroughputExceeded"): [{"StreamName": "${OrdersStream}"}],
        ("AWS/Kinesis", "GetRecords.IteratorAgeMilliseconds"): [{"StreamName": "${OrdersStream}"}],
        ("Glue", "glue.driver.streaming.maxConsumerLagInMs"): [
            {"JobName": "${StreamJob}", "JobRunId": "ALL", "Type": "gauge"}
        ],
        ("Glue", "glue.driver.aggregate.numFailedTasks"): [
            {"JobName": "${BatchJob}", "JobRunId": "ALL", "Type": "count"}
        ],
    }
    for metric, dimensions in wanted.items():
        assert sorted(measured.get(metric, []), key=str) == sorted(dimensions, key=str), metric
    for table in ("CustomersTable", "InvoicesTable"):
        for metric in ("ReadThrottleEvents", "WriteThrottleEvents"):
            assert {"TableName": "${" + table + "}"} in measured[("AWS/DynamoDB", metric)]

    def threshold(*metric: str) -> set:
        return {a["Threshold"] for a in alarms.values() if (a.get("Namespace"), a.get("MetricName")) == metric}

    assert threshold("AWS/Firehose", "DeliveryToS3.DataFreshness") == {900}
    assert threshold("AWS/Kinesis", "WriteProvisionedThroughputExceeded") == {0}
    assert threshold("Glue", "glue.driver.streaming.maxConsumerLagInMs") == {300000}
    # The lag metric exists only because the stream job's Kinesis source emits it.
    assert GlueDriver.__dataclass_fields__["options"].default_factory()["emitConsumerLagMetrics"] == "true"

    # Failed runs come as events: the rule names every Glue job.
    pattern = props("AWS::Events::Rule")["GlueJobFailedRule"]["EventPattern"]
    assert sorted(text(pattern["detail"]["jobName"])) == sorted("${" + j + "}" for j in props("AWS::Glue::Job"))
    assert text(props("AWS::Events::Rule")["GlueJobFailedRule"]["Targets"][0]["Arn"]) == "${AlarmTopic}"


# The Python each Glue version runs (AWS Glue release notes).
GLUE_PYTHON = {"5.1": "3.11", "6.0": "3.13"}


@pytest.mark.one_stack
def test_the_wheel_holds_what_aws_runs_and_installs_on_every_glue_and_lambda_python(tmp_path):
    """Issue: "Glue 6.0 cannot install the wheel" (its Python was outside Requires-Python)."""
    assert sorted(GLUE_PYTHON) == sorted(TPL["Parameters"]["GlueVersion"]["AllowedValues"])
    runtimes = {f["Runtime"] for f in props("AWS::Lambda::Function").values()}
    assert runtimes == {"python3.13"}
    wheel = artifacts.build_wheel(checkout.ROOT, str(tmp_path))
    with zipfile.ZipFile(wheel) as whl:
        names = whl.namelist()
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = email.parser.Parser().parsestr(whl.read(metadata).decode())["Requires-Python"]
    # What Glue and Lambda run, and nothing of the laptop's tooling.
    wings = {n.split("/")[1] for n in names if n.startswith("ecom_etl/") and n.count("/") > 1}
    assert wings == {"core", "runtime", "lake", "stream", "api", "jars"}
    assert {"ecom_etl/jars/ecom-etl.jar", "ecom_etl/log4j2.properties", "ecom_etl/settings.py"} <= set(names)
    assert not [n for n in names if n.endswith("entry_points.txt")]
    assert requires, "the wheel declares no Requires-Python"
    accepted = SpecifierSet(requires)
    pythons = {f"Glue {v}": p for v, p in GLUE_PYTHON.items()} | {r: r.removeprefix("python") for r in runtimes}
    for runtime, python in pythons.items():
        assert accepted.contains(python), f"{runtime} runs Python {python}; the wheel requires {requires}"


@pytest.mark.one_stack
def test_the_code_digest_changes_with_what_aws_runs_and_not_with_the_laptops_tooling(tmp_path):
    for path in ("ecom_etl/core/contract.py", "ecom_etl/cli/batch.py", "ecom_etl/local/demo.py", "jobs/batch_etl.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x = 1\n")
    first = artifacts.source_digest(tmp_path)
    for path in ("ecom_etl/cli/batch.py", "ecom_etl/local/demo.py"):
        (tmp_path / path).write_text("x = 2\n")
    assert artifacts.source_digest(tmp_path) == first
    for path in ("ecom_etl/core/contract.py", "jobs/batch_etl.py"):
        (tmp_path / path).write_text("x = 3\n")
        assert artifacts.source_digest(tmp_path) != first
        first = artifacts.source_digest(tmp_path)


@pytest.mark.one_stack
def test_lambda_handlers_exist_and_read_the_environment_the_template_sets():
    functions = props("AWS::Lambda::Function")
    assert len(functions) == len(ROUTES)
    for function in functions.values():
        module, _, name = function["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
        variables = set(function["Environment"]["Variables"])
        assert (
            variables <= set(settings.ENVIRONMENT) and {"STREAM_NAME", "CUSTOMERS_TABLE", "INVOICES_TABLE"} <= variables
        )
        assert text(function["Code"]) == {"S3Bucket": "${ArtifactsBucket}", "S3Key": "${PackageKey}"}


@pytest.mark.one_stack
def test_the_api_has_the_routes_the_local_server_serves_with_the_same_handlers():
    resources = props("AWS::ApiGateway::Resource")

    def path(resource_ref) -> str:
        if isinstance(resource_ref, dict) and "Fn::GetAtt" in resource_ref:
            return ""
        resource = resources[resource_ref["Ref"]]
        return path(resource["ParentId"]) + "/" + resource["PathPart"]

    functions = props("AWS::Lambda::Function")
    routes = set()
    for method in props("AWS::ApiGateway::Method").values():
        assert method["AuthorizationType"] == "AWS_IAM"
        function = method["Integration"]["Uri"]["Fn::Sub"].split("${", 3)[-1].split(".Arn}")[0]
        routes.add((method["HttpMethod"], path(method["ResourceId"]), functions[function]["Handler"]))
    assert routes == {(m, p, f"{h.__module__}.{h.__name__}") for m, p, h in ROUTES}


@pytest.mark.one_stack
def test_the_gateway_checks_every_posted_body_against_the_model_whatever_its_content_type():
    """API Gateway validates a body against the model of its Content-Type only: with a model for
    application/json alone, a body sent as text/plain skipped the check."""
    posts = [m for m in props("AWS::ApiGateway::Method").values() if m["HttpMethod"] == "POST"]
    assert posts and all(set(m["RequestModels"]) == {"$default"} for m in posts)
    assert all(
        props("AWS::ApiGateway::RequestValidator")[m["RequestValidatorId"]["Ref"]]["ValidateRequestBody"] for m in posts
    )


@pytest.mark.one_stack
def test_the_gets_declare_the_query_parameters_their_handlers_read_as_optional():
    gets = [m for m in props("AWS::ApiGateway::Method").values() if m["HttpMethod"] == "GET"]
    for method in gets:
        query = {
            name.removeprefix("method.request.querystring."): required
            for name, required in method["RequestParameters"].items()
            if name.startswith("method.request.querystring.")
        }
        assert query == dict.fromkeys(pages.PARAMETERS, False)
    assert gets


@pytest.mark.one_stack
def test_dynamodb_tables_have_the_keys_the_code_writes_and_the_data_is_encrypted():
    tables = props("AWS::DynamoDB::Table")
    keys = {
        text(t["TableName"]).split("}-")[-1]: tuple(k["AttributeName"] for k in t["KeySchema"]) for t in tables.values()
    }
    assert keys == {
        "customers": dynamo.CUSTOMERS_KEYS,
        "invoices": dynamo.INVOICES_KEYS,
        "delta-log": delta_log_store.KEYS,
    }
    for table in tables.values():
        assert {a["AttributeType"] for a in table["AttributeDefinitions"]} == {"S"}
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert text(table["SSESpecification"]) == {
            "SSEEnabled": True,
            "SSEType": "KMS",
            "KMSMasterKeyId": "${DataKey.Arn}",
        }
    (stream,) = props("AWS::Kinesis::Stream").values()
    assert text(stream["StreamEncryption"]) == {"EncryptionType": "KMS", "KeyId": "${DataKey.Arn}"}


@pytest.mark.one_stack
def test_the_stream_jobs_role_allows_exactly_the_dynamodb_calls_its_sink_makes(aws, monkeypatch):
    from datetime import datetime
    from decimal import Decimal

    from ecom_etl.local import emulator
    from ecom_etl.settings import Settings

    names = aws.named(customers_table="role-check-customers", invoices_table="role-check-invoices")
    emulator.create_resources(names.named(stream="role-check"), shards=1)
    made = set()
    real_resource = Settings.resource

    def recorded(self, service: str):
        resource = real_resource(self, service)
        resource.meta.client.meta.events.register("before-call", lambda model, **_: made.add(f"{service}:{model.name}"))
        return resource

    monkeypatch.setattr(Settings, "resource", recorded)
    line = {
        "invoice_no": "536365",
        "stock_code": "85123A",
        "description": "WHITE HEART",
        "quantity": 6,
        "invoice_ts": datetime(2010, 12, 1, 8, 26),
        "unit_price": Decimal("2.550"),
        "line_amount": Decimal("15.300"),
        "customer_id": "17850",
        "country": "United Kingdom",
        "is_cancellation": False,
    }
    assert dynamo.write_lines(names, [line]) == (1, 1)

    granted = grants("StreamJobRole")
    for table in ("${CustomersTable.Arn}", "${InvoicesTable.Arn}"):  # the log table: see the log store's test
        assert (
            made
            == {a for a in granted[table] if a.startswith("dynamodb:")}
            == {
                "dynamodb:BatchWriteItem",
                "dynamodb:PutItem",
            }
        )
    tables = {"${CustomersTable.Arn}", "${InvoicesTable.Arn}", "${DeltaLogTable.Arn}"}
    assert not [r for r, a in granted.items() if r not in tables and any(x.startswith("dynamodb:") for x in a)]


@pytest.mark.one_stack
def test_buckets_are_encrypted_private_tls_only_and_versioned_or_aged_where_it_matters():
    buckets = props("AWS::S3::Bucket")
    policies = {text(p["Bucket"]): p["PolicyDocument"]["Statement"] for p in props("AWS::S3::BucketPolicy").values()}
    for name, bucket in buckets.items():
        assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
        assert (
            all(bucket["PublicAccessBlockConfiguration"].values())
            and len(bucket["PublicAccessBlockConfiguration"]) == 4
        )
        deny = [s for s in policies["${" + name + "}"] if s["Effect"] == "Deny"]
        assert deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, name
        assert "LifecycleConfiguration" in bucket, name
    for name in ("RawBucket", "LakeBucket", "AccessLogsBucket"):
        assert buckets[name]["VersioningConfiguration"]["Status"] == "Enabled"
    assert (
        TPL["Resources"]["RawBucket"]["DeletionPolicy"] == TPL["Resources"]["LakeBucket"]["DeletionPolicy"] == "Retain"
    )
    (results_rule,) = buckets["AthenaResultsBucket"]["LifecycleConfiguration"]["Rules"]
    assert results_rule["ExpirationInDays"] == 30


def named_queries() -> dict[str, str]:
    return {q["Name"]: q["QueryString"] for q in props("AWS::Athena::NamedQuery").values()}


@pytest.mark.slow
def test_athena_named_queries_give_the_gold_tables_numbers(spark, loaded):
    """The template's Athena queries run against gold tables a batch run wrote."""
    from ecom_etl.lake.query import register_views, run_sql

    _, lake = loaded
    tables = register_views(spark, lake)
    queries = named_queries()
    assert set(queries) == {"monthly_revenue", "quarterly_revenue", "top_product_per_season"}
    gold = {
        name: spark.read.format("delta").load(lake.gold(name))
        for name in ("revenue_monthly", "revenue_quarterly", "top_products_by_season")
    }
    measures = ["net_revenue", "gross_revenue", "returns"]
    for query, table, keys in (
        ("monthly_revenue", "revenue_monthly", ["year", "month"]),
        ("quarterly_revenue", "revenue_quarterly", ["year", "quarter"]),
    ):
        got = run_sql(spark, queries[query], tables)
        want = gold[table].select(*keys, *measures)
        assert got.columns == keys + measures and got.count() == want.count() > 0
        assert_df_equality(got, want, ignore_row_order=True, ignore_nullable=True)
    top = run_sql(spark, queries["top_product_per_season"], tables)
    want = gold["top_products_by_season"].where("rank = 1").drop("rank")
    assert_df_equality(top, want, ignore_row_order=True, ignore_column_order=True, ignore_nullable=True)


@pytest.mark.one_stack
def test_the_api_lambda_package_imports_without_spark():
    """Lambda gets the wheel and boto3, nothing else: the handlers must not need pyspark."""
    import subprocess

    code = "import sys; sys.modules['pyspark'] = None; import ecom_etl.api.handlers"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def deployed_resources(aws, stack: str) -> dict[str, dict]:
    found = aws.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    return {r["LogicalResourceId"]: r for r in found if "LogicalResourceId" in r}


FUNCTIONS = ("PostOrdersFunction", "GetCustomerInvoicesFunction", "GetInvoiceFunction")


@pytest.mark.one_stack
@pytest.mark.slow
def test_deploy_to_the_emulator_then_destroy(aws, capsys):
    """The whole template deployed to the emulator and destroyed, as `ecom-etl deploy` does on AWS."""
    from ecom_etl.cli import main

    assert (
        main(["deploy", "--stack", "ecomtest", "--endpoint-url", aws.endpoint_url, "--parameters", "ShardCount=2"]) == 0
    )
    out = capsys.readouterr().out
    assert "stack ecomtest: CREATE_COMPLETE" in out
    deployed = deployed_resources(aws, "ecomtest")
    phys = {k: r.get("PhysicalResourceId") for k, r in deployed.items()}
    s3, artifacts_bucket = (
        aws.client("s3"),
        deployed_resources(aws, "ecomtest-artifacts")["ArtifactsBucket"]["PhysicalResourceId"],
    )

    # The code went where the template points: one content-addressed prefix per build.
    parameters = stack_parameters(aws, "ecomtest")
    prefix = parameters["CodePrefix"]
    assert re.fullmatch(TPL["Parameters"]["CodePrefix"]["AllowedPattern"], prefix)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=artifacts_bucket)["Contents"]}
    (wheel,) = [k for k in keys if k.endswith(".whl")]
    assert wheel == parameters["PackageKey"] == f"{prefix}/ecom_etl-0.1.0-py3-none-any.whl"
    assert {
        f"{prefix}/jobs/{j}"
        for j in ("batch_etl.py", "stream_etl.py", "gold_etl.py", "maintain_etl.py", "glue_runtime.py")
    } <= keys
    assert {f"{prefix}/platform.yaml", f"{prefix}/jars/{jvm.JAR.name}"} <= keys
    assert all(k.startswith(prefix + "/") for k in keys)
    body = s3.get_object(Bucket=artifacts_bucket, Key=wheel)["Body"].read()
    with zipfile.ZipFile(io.BytesIO(body)) as whl:
        assert {
            "ecom_etl/api/handlers.py",
            "ecom_etl/core/wire.py",
            "ecom_etl/core/contract.py",
            "ecom_etl/core/csv_records.py",
        } <= set(whl.namelist())

    # What the emulator models, with the template's settings.
    for bucket in ("RawBucket", "LakeBucket", "AthenaResultsBucket", "AccessLogsBucket"):
        rule = s3.get_bucket_encryption(Bucket=phys[bucket])["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("aws:kms", "AES256")
    stream = aws.client("kinesis").describe_stream_summary(StreamName=phys["OrdersStream"])["StreamDescriptionSummary"]
    assert (stream["OpenShardCount"], stream["RetentionPeriodHours"]) == (2, 48)
    ddb = aws.client("dynamodb")
    for table, keys_ in (
        ("CustomersTable", dynamo.CUSTOMERS_KEYS),
        ("InvoicesTable", dynamo.INVOICES_KEYS),
        ("DeltaLogTable", delta_log_store.KEYS),
    ):
        described = ddb.describe_table(TableName=phys[table])["Table"]
        assert tuple(k["AttributeName"] for k in described["KeySchema"]) == keys_
        assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert phys["DeltaLogTable"] == "ecomtest-delta-log"
    lam = aws.client("lambda")
    for function in FUNCTIONS:
        config = lam.get_function_configuration(FunctionName=phys[function])
        assert config["Runtime"] == "python3.13" and config["Handler"].startswith("ecom_etl.api.handlers.")
        assert config["Environment"]["Variables"]["STREAM_NAME"] == phys["OrdersStream"]
        log_group = aws.client("logs").describe_log_groups(logGroupNamePrefix=f"/aws/lambda/{phys[function]}")
        assert log_group["logGroups"][0]["retentionInDays"] == 90
    paths = {
        r["path"]: set(r.get("resourceMethods", {}))
        for r in aws.client("apigateway").get_resources(restApiId=phys["OrderApi"])["items"]
    }
    assert {p: m for p, m in paths.items() if m} == {
        "/orders": {"POST"},
        "/customers/{id}/invoices": {"GET"},
        "/invoices/{invoice_no}": {"GET"},
    }
    assert aws.client("sns").get_topic_attributes(TopicArn=phys["AlarmTopic"])["Attributes"].get("KmsMasterKeyId")

    # Say plainly what the emulator does not model (nothing pretends they were checked).
    expected = [name for name, r in TPL["Resources"].items() if "Condition" not in r]
    missing = sorted(f"{name} ({TPL['Resources'][name]['Type']})" for name in expected if name not in deployed)
    with capsys.disabled():
        print(
            f"\n  deployed to moto: {len(expected) - len(missing)} of {len(expected)} resources; "
            f"not emulated by moto (not checked here): {', '.join(missing)}; "
            "settings moto ignores (checked in the template by the tests above): bucket versioning, "
            "public access block, lifecycle and logging; stream encryption; table encryption, "
            "point-in-time recovery and time to live; Lambda tracing and KMS; the KMS key's UpdateReplacePolicy"
        )

    assert main(["deploy", "--stack", "ecomtest", "--endpoint-url", aws.endpoint_url, "--destroy"]) == 0
    out = capsys.readouterr().out
    cfn = aws.client("cloudformation")
    alive = {s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"}
    assert not alive & {"ecomtest", "ecomtest-artifacts"}
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {phys["RawBucket"], phys["LakeBucket"]} <= buckets  # DeletionPolicy Retain: the data stays
    assert artifacts_bucket not in buckets and phys["AthenaResultsBucket"] not in buckets
    # ... and so does the key that encrypts it, named with them in the output. (moto cannot describe a
    # key CloudFormation made: it stores the key policy as a dict and fails reading it back.)
    assert phys["DataKey"] in {k["KeyId"] for k in aws.client("kms").list_keys()["Keys"]}
    assert all(
        f"{kind} {phys[name]}" in out
        for kind, name in (
            ("AWS::KMS::Key", "DataKey"),
            ("AWS::S3::Bucket", "RawBucket"),
            ("AWS::S3::Bucket", "LakeBucket"),
        )
    )


def stack_parameters(aws, stack: str) -> dict[str, str]:
    described = aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])}


# What the build reads (ecom_etl/local/artifacts.py SOURCES, and what setup.cfg includes in the wheel).
BUILD_SOURCES = ("ecom_etl", "jobs", "java", "infra", "setup.cfg", "pyproject.toml", "README.md")


def copy_sources(to: Path) -> Path:
    for name in BUILD_SOURCES:
        source = Path(ROOT, name)
        if source.is_dir():
            shutil.copytree(source, to / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(source, to / name)
    return to


@pytest.mark.one_stack
@pytest.mark.slow
def test_a_code_change_redeploys_the_code_and_an_unchanged_checkout_changes_nothing(aws, tmp_path):
    """Only a second deploy shows that the code is content-addressed: a change redeploys, no change changes nothing."""
    from ecom_etl.local.deploy import deploy, destroy

    stack, lines = "ecomcode", []
    lam = aws.client("lambda")

    def code() -> dict[str, tuple[str, str]]:
        phys = {k: r.get("PhysicalResourceId") for k, r in deployed_resources(aws, stack).items()}
        found = {f: lam.get_function(FunctionName=phys[f]) for f in FUNCTIONS}
        return {f: (g["Code"]["Location"], g["Configuration"]["CodeSha256"]) for f, g in found.items()}

    def deployed(root: Path) -> str:
        lines.clear()
        deploy(aws, stack, {}, lines.append, 0.5, root=root)
        return "\n".join(lines)

    try:
        deployed(Path(ROOT))
        first, first_parameters = code(), stack_parameters(aws, stack)

        changed = copy_sources(tmp_path / "src")
        contract = changed / "ecom_etl" / "core" / "contract.py"
        contract.write_text(
            contract.read_text(encoding="utf-8") + "# a comment: new code, a new build\n", encoding="utf-8"
        )
        out = deployed(changed)
        assert f"{stack}: no changes" not in out
        (summary,) = [line for line in out.splitlines() if line.startswith(f"{stack}: update with ")]
        listed_ids = set(summary.partition(": ")[2].partition(": ")[2].split(", ")) - {""}
        second, second_parameters = code(), stack_parameters(aws, stack)
        assert second_parameters["CodePrefix"] != first_parameters["CodePrefix"]
        assert second_parameters["PackageKey"].startswith(second_parameters["CodePrefix"] + "/")
        for function in FUNCTIONS:
            assert second[function][0] != first[function][0], function  # the code location
            assert second[function][0].endswith(second_parameters["PackageKey"])
            assert second[function][1] != first[function][1], function  # the code itself
        # The change set names what the new code changes: every resource that reads CodePrefix or
        # PackageKey (the functions, the Glue jobs and their roles), and nothing else. That is what
        # AWS lists. moto 5.2.5 lists only resources whose template text changed, so it lists none
        # here, and applies the new parameters all the same (the code locations above).
        code_users = {n for n, r in RESOURCES.items() if {"CodePrefix", "PackageKey"} & refs_in(r.get("Properties"))}
        assert set(FUNCTIONS) | set(LAKE_JOBS) <= code_users
        assert listed_ids in (code_users, set()), listed_ids ^ code_users

        out = deployed(changed)
        assert "code already uploaded" in out and f"{stack}-artifacts: no changes" in out
        # AWS refuses the unchanged change set ("didn't contain changes") and deploy prints "no changes".
        # moto 5.2.5 compares the parameters with those the stack was created with, not its current
        # ones, so it makes a change set with no resource changes, which deploy runs as an empty update.
        assert f"{stack}: no changes" in out or f"{stack}: update with 0 resource changes: \n" in out + "\n", out
        assert code() == second and stack_parameters(aws, stack) == second_parameters
    finally:
        destroy(aws, stack, lambda _: None, 0.5)
