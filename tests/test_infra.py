"""infra/cloudformation: the template agrees with the code, deploys to the emulator, and its Athena
queries give the gold tables' numbers."""

import importlib
import os
import sys
import zipfile

import pytest
from chispa import assert_df_equality

from ecom_etl import settings, template
from ecom_etl.glue_local import GLUE_ONLY, local_path
from ecom_etl.lake import Lake
from ecom_etl.stream import dynamo
from ecom_etl.stream.server import ROUTES

ROOT = str(template.REPO_ROOT)
sys.path.insert(0, os.path.join(ROOT, "jobs"))

TPL = template.load()


def props(type_: str) -> dict[str, dict]:
    return {name: r["Properties"] for name, r in template.resources(TPL, type_).items()}


def text(value) -> str:
    """A template value with its intrinsics shown as ${Name}, for comparing paths."""
    return template.Resolver({k: "${" + k + "}" for k in _all_refs()})(value)


def _all_refs() -> list[str]:
    names = list(TPL["Parameters"]) + ["AWS::StackName", "AWS::Region", "AWS::AccountId", "AWS::Partition"]
    return names + list(TPL["Resources"]) + [f"{r}.Arn" for r in TPL["Resources"]]


@pytest.mark.parametrize("logical_id", sorted(props("AWS::Glue::Job")))
def test_every_glue_job_runs_a_script_of_jobs_with_the_arguments_it_declares(logical_id):
    job = props("AWS::Glue::Job")[logical_id]
    script = text(job["Command"]["ScriptLocation"])
    assert script.startswith("s3://${ArtifactsBucket}/jobs/")
    module = importlib.import_module(os.path.basename(script).removesuffix(".py"))
    declared = set(module.REQUIRED) | set(module.OPTIONAL)
    arguments = {k.removeprefix("--") for k in job["DefaultArguments"] if k not in GLUE_ONLY}
    arguments -= {"conf", "extra-py-files"}
    assert arguments <= declared, f"arguments the job does not read: {arguments - declared}"
    assert set(module.REQUIRED) - {"JOB_NAME"} <= arguments, "a required argument has no default in the template"
    for extra in text(job["DefaultArguments"]["--extra-py-files"]).split(","):
        assert os.path.isfile(local_path(extra.replace("${ArtifactsBucket}", "ArtifactsBucket"), template.REPO_ROOT))
    assert job["DefaultArguments"]["--datalake-formats"] == "delta"
    assert text(job["DefaultArguments"]["--additional-python-modules"]) == "s3://${ArtifactsBucket}/${PackageKey}"


def test_the_glue_version_parameter_offers_5_1_by_default_and_6_0():
    version = TPL["Parameters"]["GlueVersion"]
    assert (version["Default"], version["AllowedValues"]) == ("5.1", ["5.1", "6.0"])
    assert all(text(job["GlueVersion"]) == "${GlueVersion}" for job in props("AWS::Glue::Job").values())


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


def test_dynamodb_tables_have_the_keys_the_code_writes_and_the_data_is_encrypted():
    tables = props("AWS::DynamoDB::Table")
    keys = {
        text(t["TableName"]).split("}-")[-1]: tuple(k["AttributeName"] for k in t["KeySchema"]) for t in tables.values()
    }
    assert keys == {"customers": dynamo.CUSTOMERS_KEYS, "invoices": dynamo.INVOICES_KEYS}
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


def test_the_stream_jobs_role_allows_exactly_the_dynamodb_calls_its_sink_makes(aws, monkeypatch):
    from datetime import datetime
    from decimal import Decimal

    from ecom_etl.settings import Settings
    from ecom_etl.stream import emulator

    names = aws.named(customers_table="role-check-customers", invoices_table="role-check-invoices")
    emulator.create_resources(names.named(stream="role-check"), shards=1, buckets=())
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

    statements = props("AWS::IAM::Role")["StreamJobRole"]["Policies"][0]["PolicyDocument"]["Statement"]
    actions = {a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert made == {a for a in actions if a.startswith("dynamodb:")} == {"dynamodb:BatchWriteItem", "dynamodb:PutItem"}


def test_the_crawler_covers_exactly_the_lake_tables_the_jobs_write():
    (crawler,) = props("AWS::Glue::Crawler").values()
    (target,) = crawler["Targets"]["DeltaTargets"]
    warehouse = text(props("AWS::Glue::Job")["BatchJob"]["DefaultArguments"]["--warehouse_path"])
    assert text(props("AWS::Glue::Job")["StreamJob"]["DefaultArguments"]["--warehouse_path"]) == warehouse
    lake = Lake(warehouse)
    assert sorted(text(t).rstrip("/") for t in target["DeltaTables"]) == sorted(lake.tables().values())


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


def test_athena_named_queries_give_the_gold_tables_numbers(spark, loaded):
    from ecom_etl.query import register_views, run_sql

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


def test_the_api_lambda_package_imports_without_spark():
    """Lambda gets the wheel and boto3, nothing else: the handlers must not need pyspark."""
    import subprocess

    code = "import sys; sys.modules['pyspark'] = None; import ecom_etl.stream.api"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr


def deployed_resources(aws, stack: str) -> dict[str, dict]:
    found = aws.client("cloudformation").describe_stack_resources(StackName=stack)["StackResources"]
    return {r["LogicalResourceId"]: r for r in found if "LogicalResourceId" in r}


def test_deploy_to_the_emulator_then_destroy(aws, capsys):
    from ecom_etl.cli import main

    assert (
        main(["deploy", "--stack", "ecomtest", "--endpoint-url", aws.endpoint_url, "--parameters", "ShardCount=2"]) == 0
    )
    out = capsys.readouterr().out
    assert "stack ecomtest: CREATE_COMPLETE" in out
    deployed = deployed_resources(aws, "ecomtest")
    phys = {k: r.get("PhysicalResourceId") for k, r in deployed.items()}
    s3, artifacts = (
        aws.client("s3"),
        deployed_resources(aws, "ecomtest-artifacts")["ArtifactsBucket"]["PhysicalResourceId"],
    )

    # The code went where the template points.
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=artifacts)["Contents"]}
    (wheel,) = [k for k in keys if k.endswith(".whl")]
    assert wheel == "packages/ecom_etl-0.1.0-py3-none-any.whl"
    assert {"jobs/batch_etl.py", "jobs/stream_etl.py", "jobs/glue_runtime.py"} <= keys
    body = s3.get_object(Bucket=artifacts, Key=wheel)["Body"].read()
    with zipfile.ZipFile(__import__("io").BytesIO(body)) as whl:
        assert {"ecom_etl/stream/api.py", "ecom_etl/wire.py", "ecom_etl/contract.py", "ecom_etl/csv_records.py"} <= set(
            whl.namelist()
        )

    # What the emulator models, with the template's settings.
    for bucket in ("RawBucket", "LakeBucket", "AthenaResultsBucket", "AccessLogsBucket"):
        rule = s3.get_bucket_encryption(Bucket=phys[bucket])["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("aws:kms", "AES256")
    stream = aws.client("kinesis").describe_stream_summary(StreamName=phys["OrdersStream"])["StreamDescriptionSummary"]
    assert (stream["OpenShardCount"], stream["RetentionPeriodHours"]) == (2, 48)
    ddb = aws.client("dynamodb")
    for table, keys_ in (("CustomersTable", dynamo.CUSTOMERS_KEYS), ("InvoicesTable", dynamo.INVOICES_KEYS)):
        described = ddb.describe_table(TableName=phys[table])["Table"]
        assert tuple(k["AttributeName"] for k in described["KeySchema"]) == keys_
        assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    lam = aws.client("lambda")
    for function in ("PostOrdersFunction", "GetCustomerInvoicesFunction", "GetInvoiceFunction"):
        config = lam.get_function_configuration(FunctionName=phys[function])
        assert config["Runtime"] == "python3.11" and config["Handler"].startswith("ecom_etl.stream.api.")
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
            "public access block, lifecycle and logging; stream encryption; table encryption and "
            "point-in-time recovery; Lambda tracing and KMS"
        )

    assert main(["deploy", "--stack", "ecomtest", "--endpoint-url", aws.endpoint_url, "--destroy"]) == 0
    cfn = aws.client("cloudformation")
    alive = {s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"}
    assert not alive & {"ecomtest", "ecomtest-artifacts"}
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {phys["RawBucket"], phys["LakeBucket"]} <= buckets  # DeletionPolicy Retain: the data stays
    assert artifacts not in buckets and phys["AthenaResultsBucket"] not in buckets
